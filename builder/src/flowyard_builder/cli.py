"""`flowyard`: the workflow author's and CI's command line. Commands are registered per group."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from flowyard_builder import __version__

# Exit codes shared by every command, so CI scripts can tell failures apart.
EXIT_OK = 0
EXIT_INVALID_INPUT = 1
EXIT_BUILD_FAILED = 2
EXIT_REFUSED = 3

# Each entry adds one command group to the parser; groups arrive with the builder and runs features.
COMMAND_GROUPS: list[Callable[[argparse._SubParsersAction], None]] = []


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered command group."""
    parser = argparse.ArgumentParser(
        prog="flowyard",
        description="Validate, build, push and register Flowyard workflows.",
        epilog="Exit codes: 0 ok, 1 invalid input, 2 build/push failure, 3 control plane refused.",
    )
    parser.add_argument("--version", action="version", version=f"flowyard {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_group in COMMAND_GROUPS:
        add_group(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in `argv`; print help when none is given."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return EXIT_OK if args.command is None else EXIT_INVALID_INPUT
    return int(args.handler(args))


def run() -> None:
    """Console-script entry point: exit with main()'s code."""
    sys.exit(main())


if __name__ == "__main__":
    run()
