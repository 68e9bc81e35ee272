"""The `flowyard` command-line tool: validate, build, push and register workflows."""

__version__ = "0.1.0"
