"""`python -m flowyard run [--entrypoint module:function | --command ...] [--param k=v ...] [--params-json JSON]`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flowyard import __version__
from flowyard.errors import EntrypointError, FlowCancelled
from flowyard.futures import describe_error
from flowyard.run_context import run_context
from flowyard.runner import EXIT_FAILED, entrypoints
from flowyard.runner.command import run_command
from flowyard.runner.session import RunnerSession
from flowyard.states import RunState
from flowyard_spec.api import fill_time_templates


def build_parser() -> argparse.ArgumentParser:
    """The runner's argument parser."""
    parser = argparse.ArgumentParser(prog="python -m flowyard", description="Run a Flowyard workflow.")
    parser.add_argument("--version", action="version", version=f"flowyard {__version__}")
    commands = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = commands.add_parser("run", help="run a flow or a command and report it",
                              description="Run a flow (module:function) or a command in the current directory.")
    run.add_argument("--entrypoint", metavar="MODULE:FUNCTION",
                     help="the flow to run (default: FLOWYARD_ENTRYPOINT, flowyard.json, workflow.py's one flow)")
    run.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                     help="a flow parameter (repeatable); strings are converted to the parameter's type")
    run.add_argument("--params-json", metavar="JSON", help="parameters as a JSON object")
    run.add_argument("--command", nargs=argparse.REMAINDER, metavar="ARG",
                     help="run this program instead of a flow (must come last: --command bash -c '...')")
    return parser


def parse_parameters(environ: Mapping[str, str], params_json: str | None, pairs: Sequence[str]) -> dict[str, Any]:
    """FLOWYARD_PARAMETERS, overridden by --params-json, overridden by each --param key=value."""
    parameters: dict[str, Any] = {}
    for source, text in (("FLOWYARD_PARAMETERS", environ.get("FLOWYARD_PARAMETERS")), ("--params-json", params_json)):
        if text is None or not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as error:
            raise EntrypointError(f"{source} is not valid JSON: {error}") from None
        if not isinstance(value, dict):
            raise EntrypointError(f"{source} must be a JSON object of parameters, not {type(value).__name__}")
        parameters.update(value)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise EntrypointError(f"--param {pair!r}: expected KEY=VALUE")
        parameters[key.strip()] = value
    # The control plane fills time templates when it creates a run; a local run (`flowyard run --local`) here.
    return fill_time_templates(parameters, run_context(environ).scheduled_for or datetime.now(timezone.utc))


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    """Parse the arguments, run, and return the exit code (0 ok, 1 failed, 130/143 cancelled)."""
    args = build_parser().parse_args(argv)
    session = RunnerSession(environ)
    cwd = Path.cwd()
    try:
        session.start()
        if args.command is not None and args.entrypoint:
            raise EntrypointError("give --entrypoint or --command, not both")
        if args.command is not None and not args.command:
            raise EntrypointError("--command needs the program to run, e.g. --command bash -c 'echo hi'")
        parameters = parse_parameters(session.environ, args.params_json, args.param)
        entry = entrypoints.resolve(cwd, entrypoint=args.entrypoint, command=args.command, environ=session.environ)
        if entry.is_command:
            session.begin()
            return run_command(session, entry.command or (), parameters, cwd)
        flow = entrypoints.load_flow(entry, cwd)
        session.begin()
        target = f"{(entry.target or '').rpartition(':')[0]}:{getattr(flow.fn, '__name__', flow.name)}"
        session.log(f"running flow {flow.name} ({target}, from {entry.source}) "
                    f"with parameters {json.dumps(parameters, default=str)}")
        flow_run = flow.run(parameters, sink=session.sink, cancellation=session.cancellation, report_run_state=False)
        return session.finish(flow_run.state, None if flow_run.state is RunState.CANCELLED else flow_run.message)
    except FlowCancelled:
        return session.finish(RunState.CANCELLED)
    except EntrypointError as error:
        session.log(str(error), level="ERROR")
        return session.finish(RunState.FAILED, str(error))
    except Exception as error:  # noqa: BLE001 - the workflow's module failed to import
        import traceback  # only on this failure path; the runner's start-up stays lean

        session.log("cannot load the workflow: " + "".join(traceback.format_exception(error)).rstrip(), level="ERROR")
        return session.finish(RunState.FAILED, f"cannot load the workflow: {describe_error(error)}")
    except BaseException as error:  # SystemExit or KeyboardInterrupt outside the flow (e.g. in the module's top level)
        if not session.finished:
            return session.finish(RunState.FAILED, f"the workflow stopped the runner: {describe_error(error)}")
        raise


def exit_with(code: int) -> None:
    """Exit with `code`; after a cancellation, without waiting for threads that user code left running."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    if code in (130, 143):
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    exit_with(main())
