"""Exit codes shared by every `flowyard` command, so CI scripts can tell failures apart."""

OK = 0
INVALID_INPUT = 1
BUILD_FAILED = 2
REFUSED = 3
