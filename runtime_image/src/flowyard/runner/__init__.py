"""The runner: `python -m flowyard run` executes a flow or a command and reports what happens."""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130  # SIGINT
EXIT_TERMINATED = 143  # SIGTERM or a cancel request from the control plane
