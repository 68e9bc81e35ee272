"""Command groups of the `flowyard` CLI: each module here defines `register(subparsers)`.

A command's handler is set with `parser.set_defaults(handler=fn)`; `fn(args)` returns an exit code
from `flowyard_builder.exit_codes`.
"""

import argparse
import sys

from flowyard_builder import exit_codes


def show_group_usage(parser: argparse.ArgumentParser) -> int:
    """What a command group given no subcommand does: print its help to stderr and exit with invalid input."""
    parser.print_help(sys.stderr)
    return exit_codes.INVALID_INPUT
