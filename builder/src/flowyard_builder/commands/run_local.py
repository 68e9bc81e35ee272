"""`flowyard run --local [PATH] [--param key=value ...]`: run a workflow on this machine, no Docker, no control plane.

It starts the SDK's runner (`python -m flowyard run`) with the workflow directory as working directory, using
this Python (the SDK is installed with the CLI), passes its output through and returns its exit code
(0 succeeded, 1 failed, 130/143 cancelled). Parameters: flowyard.json's "parameters", overridden by
`--params-json`, overridden by each `--param`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from flowyard_builder import exit_codes

CONFIG_FILE = "flowyard.json"
_CONTROL_PLANE_VARIABLES = ("FLOWYARD_API_URL", "FLOWYARD_RUN_ID", "FLOWYARD_RUN_TOKEN")


def register(subparsers: Any) -> None:
    """Add the `run` command group (only `--local` for now)."""
    parser = subparsers.add_parser(
        "run",
        help="run a workflow (--local: on this machine)",
        description="Run a workflow on this machine, without Docker or a control plane.",
    )
    parser.add_argument("--local", action="store_true", required=True,
                        help="run here, in a subprocess of this Python (required: the only mode for now)")
    parser.add_argument("path", nargs="?", default=".", help="the workflow repository (default: .)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a flow parameter (repeatable), converted to the parameter's type")
    parser.add_argument("--params-json", metavar="JSON", help="parameters as a JSON object")
    parser.add_argument("--entrypoint", metavar="MODULE:FUNCTION", help="the flow to run (default: from flowyard.json)")
    parser.set_defaults(handler=run_local)


def config_parameters(directory: Path) -> dict[str, Any]:
    """The "parameters" object of flowyard.json, or {} (the runner validates them against the flow)."""
    path = directory / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # the runner reports a broken flowyard.json with its own message
    parameters = data.get("parameters") if isinstance(data, dict) else None
    return parameters if isinstance(parameters, dict) else {}


def runner_command(args: argparse.Namespace) -> list[str]:
    """`python -m flowyard run ...` with the given parameters and entrypoint."""
    command = [sys.executable, "-m", "flowyard", "run"]
    if args.entrypoint:
        command += ["--entrypoint", args.entrypoint]
    if args.params_json:
        command += ["--params-json", args.params_json]
    for pair in args.param:
        command += ["--param", pair]
    return command


def run_local(args: argparse.Namespace) -> int:
    """Run the workflow in `args.path` and return the runner's exit code."""
    directory = Path(args.path).expanduser().resolve()
    if not directory.is_dir():
        print(f"flowyard run: {args.path}: no such directory", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    env = {key: value for key, value in os.environ.items() if key not in _CONTROL_PLANE_VARIABLES}
    if "FLOWYARD_PARAMETERS" not in env:
        parameters = config_parameters(directory)
        if parameters:
            env["FLOWYARD_PARAMETERS"] = json.dumps(parameters)
    sys.stdout.flush()
    process = subprocess.Popen(runner_command(args), cwd=directory, env=env)

    def forward(signum: int, frame: Any) -> None:
        if process.poll() is None:
            process.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:  # Ctrl-C reached the runner too (same process group): wait for it to stop
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)
