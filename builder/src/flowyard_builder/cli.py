"""`flowyard`: the workflow author's and CI's command line; command groups live in `flowyard_builder.commands`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from flowyard_builder import __version__, commands, exit_codes


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command group found in `flowyard_builder.commands`."""
    parser = argparse.ArgumentParser(
        prog="flowyard",
        description="Validate, run, build, push and register Flowyard workflows.",
        epilog="Exit codes: 0 ok, 1 invalid input, 2 build/push failure, 3 control plane refused.",
    )
    parser.add_argument("--version", action="version", version=f"flowyard {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda info: info.name):
        importlib.import_module(f"{commands.__name__}.{module_info.name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in `argv`; print help when none is given."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return exit_codes.OK if args.command is None else exit_codes.INVALID_INPUT
    return int(args.handler(args))


def run() -> None:
    """Console-script entry point: exit with main()'s code."""
    sys.exit(main())


if __name__ == "__main__":
    run()
