"""Command groups of the `flowyard` CLI: each module here defines `register(subparsers)`.

A command's handler is set with `parser.set_defaults(handler=fn)`; `fn(args)` returns an exit code
from `flowyard_builder.exit_codes`.
"""
