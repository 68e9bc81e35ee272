"""What to run: `module:function` (a flow) or a command, from the CLI, the environment or flowyard.json."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowyard.errors import EntrypointError
from flowyard.flows import Flow

CONFIG_FILE = "flowyard.json"
DEFAULT_MODULE = "workflow"


@dataclass(frozen=True)
class Entrypoint:
    """A flow (`target` is `module:function`) or a command (`command` is argv)."""

    target: str | None = None
    command: tuple[str, ...] | None = None
    source: str = ""

    @property
    def is_command(self) -> bool:
        """True when this runs a program rather than a flow."""
        return self.command is not None


def _from_value(value: Any, source: str) -> Entrypoint:
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise EntrypointError(f"{source}: the command is not a JSON list of strings ({error})") from None
    if isinstance(value, Mapping):
        if "command" in value:
            value = value["command"]
            if isinstance(value, str):
                value = shlex.split(value)
        else:
            raise EntrypointError(f"{source}: expected \"module:function\" or {{\"command\": [...]}}")
    if isinstance(value, list):
        if not value or not all(isinstance(part, str) for part in value):
            raise EntrypointError(f"{source}: a command must be a non-empty list of strings")
        return Entrypoint(command=tuple(value), source=source)
    if isinstance(value, str) and ":" in value.strip():
        return Entrypoint(target=value.strip(), source=source)
    raise EntrypointError(f"{source}: {value!r} is not \"module:function\" (for example \"workflow:etl\") or a command list")


def read_config(directory: Path) -> dict[str, Any] | None:
    """flowyard.json as a dict (read with json, no schema), or None when there is none."""
    path = directory / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise EntrypointError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise EntrypointError(f"{path}: the top level must be a JSON object")
    return data


def resolve(
    directory: Path,
    *,
    entrypoint: str | None = None,
    command: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Entrypoint:
    """The argument, else FLOWYARD_ENTRYPOINT, else flowyard.json's "entrypoint" (the FLOWYARD_ENVIRONMENT
    override first), else workflow.py's one flow."""
    environ = os.environ if environ is None else environ
    if command:
        return Entrypoint(command=tuple(command), source="--command")
    if entrypoint:
        return _from_value(entrypoint, "--entrypoint")
    if environ.get("FLOWYARD_ENTRYPOINT", "").strip():
        return _from_value(environ["FLOWYARD_ENTRYPOINT"], "FLOWYARD_ENTRYPOINT")
    config = read_config(directory)
    if config is not None:
        environment = environ.get("FLOWYARD_ENVIRONMENT", "").strip()
        overrides = (config.get("environments") or {}).get(environment) if environment else None
        if isinstance(overrides, Mapping) and overrides.get("entrypoint"):
            return _from_value(overrides["entrypoint"], f"{CONFIG_FILE} \"environments.{environment}.entrypoint\"")
        if config.get("entrypoint"):
            return _from_value(config["entrypoint"], f"{CONFIG_FILE} \"entrypoint\"")
        if config.get("command"):
            return _from_value({"command": config["command"]}, f"{CONFIG_FILE} \"command\"")
    if (directory / f"{DEFAULT_MODULE}.py").is_file():
        return Entrypoint(target=f"{DEFAULT_MODULE}:*", source=f"{DEFAULT_MODULE}.py")
    raise EntrypointError(
        f"nothing to run in {directory}: add \"entrypoint\" to {CONFIG_FILE} (\"module:function\"), "
        f"or a {DEFAULT_MODULE}.py with one @flow, or pass --entrypoint module:function"
    )


def _import(module_ref: str, directory: Path) -> Any:
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    if module_ref.endswith(".py") or os.sep in module_ref:
        path = (directory / module_ref).resolve()
        if not path.is_file():
            raise EntrypointError(f"entrypoint file {module_ref} does not exist in {directory}")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise EntrypointError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(module_ref)
    except ModuleNotFoundError as error:
        if error.name and module_ref.split(".")[0].startswith(error.name.split(".")[0]):
            raise EntrypointError(f"module {module_ref!r} not found in {directory} (entrypoint \"module:function\")") from None
        raise


def load_flow(entry: Entrypoint, directory: Path) -> Flow[..., Any]:
    """Import the entrypoint's module (running its top level) and return its Flow."""
    assert entry.target is not None
    module_ref, _, attribute = entry.target.rpartition(":")
    module = _import(module_ref, directory)
    if attribute == "*":
        flows = [(name, value) for name, value in vars(module).items()
                 if isinstance(value, Flow) and getattr(value.fn, "__module__", None) == module.__name__]
        if len(flows) != 1:
            found = ", ".join(name for name, _ in flows) or "none"
            raise EntrypointError(f"{module_ref}.py must define exactly one @flow when no entrypoint is set "
                                  f"(found: {found}); set \"entrypoint\": \"{module_ref}:<function>\" in {CONFIG_FILE}")
        return flows[0][1]
    value: Any = module
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise EntrypointError(f"{module_ref} has no attribute {attribute!r} (entrypoint {entry.target!r})") from None
    if not isinstance(value, Flow):
        raise EntrypointError(f"{entry.target} is a {type(value).__name__}, not a flow: decorate it with @flow")
    return value
