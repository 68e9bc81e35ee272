"""Reading a workflow repository's flowyard.json and checking its entrypoint, for `flowyard validate` and the build.

The entrypoint is inspected in a child Python process (`sys.executable`) with the repository first on
`sys.path`, so a workflow that crashes, hangs or calls `sys.exit` on import cannot take the CLI down.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flowyard_spec.config import CONFIG_FILE_NAME, WorkflowConfig, config_errors, parse_config

DEFAULT_MODULE = "workflow"
INSPECT_TIMEOUT_SECONDS = 120
INSPECT_SCRIPT = r'''
import importlib, inspect, json, os, sys, traceback
repo, module_name, attribute, out = sys.argv[1:5]
sys.path.insert(0, repo)

def emit(**result):
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    sys.stdout.flush()
    os._exit(0)  # at once: threads or atexit hooks the workflow started must not keep us waiting

try:
    import flowyard
    Flow = flowyard.Flow
except Exception as exc:
    emit(error="sdk_missing", message=f"{type(exc).__name__}: {exc}")
try:
    module = importlib.import_module(module_name)
except BaseException as exc:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    emit(error="import_failed", message=f"{type(exc).__name__}: {exc}", traceback="".join(lines[-6:]))
module_file = getattr(module, "__file__", None)
if attribute:
    if not hasattr(module, attribute):
        emit(error="missing_attribute", file=module_file)
    flow = getattr(module, attribute)
    if not isinstance(flow, Flow):
        emit(error="not_a_flow", file=module_file, type=type(flow).__name__)
else:
    found = {}
    for name, value in vars(module).items():
        if isinstance(value, Flow):
            found.setdefault(id(value), (name, value))
    if len(found) != 1:
        emit(error="flow_count", file=module_file, names=sorted(name for name, _ in found.values()))
    attribute, flow = next(iter(found.values()))
try:
    signature = inspect.signature(flow.fn)
except (TypeError, ValueError) as exc:
    emit(error="no_signature", file=module_file, message=str(exc))
parameters = [
    {"name": p.name, "kind": p.kind.name, "required": p.default is p.empty}
    for p in signature.parameters.values()
]
emit(ok=True, file=module_file, attribute=attribute, flow_name=str(getattr(flow, "name", attribute)),
     function=getattr(flow.fn, "__name__", attribute), parameters=parameters)
'''


@dataclass
class Problem:
    """One thing wrong (or doubtful, when a warning) with a repository: which file, which field, what to do."""

    file: str
    field: str
    message: str
    severity: str = "error"

    def as_dict(self) -> dict[str, str]:
        """The problem as {"file", "field", "message"} for JSON output."""
        return {key: value for key, value in asdict(self).items() if key != "severity"}

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}: " if self.field else f"{self.file}: "
        return ("warning: " if self.severity == "warning" else "") + where + self.message


@dataclass
class Validation:
    """What `validate_repository` found: the config (when it parsed) and every problem."""

    config: WorkflowConfig | None = None
    problems: list[Problem] = field(default_factory=list)
    flow: dict[str, Any] | None = None

    @property
    def errors(self) -> list[Problem]:
        """The problems that make the repository invalid."""
        return [problem for problem in self.problems if problem.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems that are only worth a look."""
        return [problem for problem in self.problems if problem.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors


def load_config_file(repo: Path) -> tuple[WorkflowConfig | None, list[Problem]]:
    """Read and validate `repo/flowyard.json`; every problem names the file and field."""
    path = repo / CONFIG_FILE_NAME
    if not path.is_file():
        return None, [Problem(CONFIG_FILE_NAME, "", f"not found in {repo}; create it with at least "
                                                    '{"name": "my-workflow"} (see docs/config.md)')]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        return None, [Problem(CONFIG_FILE_NAME, "", f"is not UTF-8 text ({exc.reason}); save it as UTF-8")]
    except json.JSONDecodeError as exc:
        return None, [Problem(CONFIG_FILE_NAME, "", f"is not valid JSON: {exc.msg} at line {exc.lineno} column "
                                                    f"{exc.colno}; fix the syntax (no comments or trailing commas)")]
    if not isinstance(data, dict):
        return None, [Problem(CONFIG_FILE_NAME, "", f"must hold a JSON object {{...}}, not {type(data).__name__}")]
    try:
        return parse_config(data), []
    except ValidationError as exc:
        return None, [Problem(CONFIG_FILE_NAME, path_, message)
                      for path_, messages in config_errors(exc).items() for message in messages]


def inspect_flow(repo: Path, module: str, attribute: str | None) -> dict[str, Any]:
    """Import `module` from `repo` in a child process and describe the flow `attribute` (or its only flow)."""
    with tempfile.TemporaryDirectory(prefix="flowyard-validate-") as scratch:
        out = Path(scratch) / "result.json"
        command = [sys.executable, "-c", INSPECT_SCRIPT, str(repo), module, attribute or "", str(out)]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            completed = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True,
                                       timeout=INSPECT_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return {"error": "timeout"}
        if not out.exists():
            detail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
            return {"error": "crashed", "message": "\n".join(detail) or f"exit code {completed.returncode}"}
        return json.loads(out.read_text(encoding="utf-8"))


def _relative(repo: Path, file: str | None, default: str) -> str:
    if not file:
        return default
    try:
        return str(Path(file).resolve().relative_to(repo.resolve()))
    except ValueError:
        return file


def check_flow_entrypoint(repo: Path, entrypoint: str | None) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Check that the entrypoint (or workflow.py's single flow) imports and is a flowyard flow."""
    if entrypoint is None:
        if not (repo / f"{DEFAULT_MODULE}.py").is_file():
            return None, [Problem(CONFIG_FILE_NAME, "entrypoint", f"there is no entrypoint and no {DEFAULT_MODULE}.py "
                                  "in the repository; add workflow.py with one @flow, or set \"entrypoint\" to "
                                  "'module:function' or a command list such as [\"bash\", \"run.sh\"]")]
        module, attribute, label = DEFAULT_MODULE, None, f"{DEFAULT_MODULE}.py"
    else:
        module, _, attribute = entrypoint.partition(":")
        label = entrypoint
    result = inspect_flow(repo, module, attribute)
    guessed = f"{module.replace('.', '/')}.py"
    module_file = _relative(repo, result.get("file"), guessed if (repo / guessed).is_file() else CONFIG_FILE_NAME)
    error = result.get("error")
    if error is None:
        return result, []
    messages = {
        "sdk_missing": ("", f"the flowyard SDK cannot be imported by {sys.executable} ({result.get('message')}); "
                            "install it there (pip install flowyard) so the flow can be checked"),
        "import_failed": (module_file, f"importing {module!r} for {label} failed: {result.get('message')}; fix the "
                                       "module or install its requirements (pip install -r requirements.txt)"),
        "missing_attribute": (module_file, f"module {module!r} has no {attribute!r}; define it with @flow or fix "
                                           "the entrypoint"),
        "not_a_flow": (module_file, f"{label} is a {result.get('type')}, not a flow; decorate the function with "
                                    "@flow (from flowyard import flow)"),
        "flow_count": (module_file, _flow_count_message(result.get("names") or [])),
        "no_signature": (module_file, f"the signature of {label} cannot be read: {result.get('message')}"),
        "timeout": (module_file, f"importing {module!r} did not finish in {INSPECT_TIMEOUT_SECONDS} s; do not run "
                                 "work at import time (put it inside the flow)"),
        "crashed": (module_file, f"importing {module!r} crashed the Python process: {result.get('message')}"),
    }
    file, message = messages[error]
    return None, [Problem(file or CONFIG_FILE_NAME, "entrypoint", message)]


def _flow_count_message(names: list[str]) -> str:
    if not names:
        return "has no @flow; decorate the workflow function with @flow, or set \"entrypoint\" in flowyard.json"
    listed = ", ".join(names)
    return (f"has {len(names)} flows ({listed}); set \"entrypoint\" in flowyard.json to the one to run, "
            f"e.g. \"{DEFAULT_MODULE}:{names[0]}\"")


def check_command_entrypoint(repo: Path, command: list[str]) -> list[Problem]:
    """Check that a command's program is a file of the repository or on PATH (a warning when not found here)."""
    program = command[0]
    candidate = (repo / program) if not os.path.isabs(program) else Path(program)
    if candidate.is_file():
        if candidate.is_relative_to(repo) and not os.access(candidate, os.X_OK):
            return [Problem(CONFIG_FILE_NAME, "entrypoint.0", f"{program!r} is not executable; run "
                            f"`chmod +x {program}` (and commit it) or start it with an interpreter, e.g. "
                            f"[\"bash\", \"{program}\"]", "warning")]
        return []
    if "/" not in program and shutil.which(program):
        return []
    return [Problem(CONFIG_FILE_NAME, "entrypoint.0", f"{program!r} is neither a file of the repository nor a "
                    "program on PATH on this machine; make sure the image provides it", "warning")]


def check_parameters(effective: WorkflowConfig, flow: dict[str, Any], prefix: str = "") -> list[Problem]:
    """Compare the declared parameters of one effective config with the flow function's signature."""
    signature = {item["name"]: item for item in flow["parameters"]}
    takes_any = any(item["kind"] == "VAR_KEYWORD" for item in signature.values())
    named = [name for name, item in signature.items() if item["kind"] not in ("VAR_POSITIONAL", "VAR_KEYWORD")]
    function = f"{flow.get('function')}()"
    problems: list[Problem] = []
    for name in effective.parameters:
        if name not in named and not takes_any:
            accepted = ", ".join(named) or "no parameters"
            problems.append(Problem(CONFIG_FILE_NAME, f"{prefix}parameters.{name}", f"{function} has no parameter "
                                    f"{name!r} (it takes: {accepted}); remove it or add it to the function"))
    for name in named:
        if signature[name]["required"] and name not in effective.parameters:
            problems.append(Problem(CONFIG_FILE_NAME, f"{prefix}parameters", f"{function} needs parameter {name!r}, "
                                    "which has no default; declare it in \"parameters\" or give it a default in the "
                                    "function"))
    return problems


def validate_repository(repo: Path) -> Validation:
    """Every check of `flowyard validate`: the config file, the entrypoint, and the parameters (per environment)."""
    if not repo.is_dir():
        return Validation(problems=[Problem(str(repo), "", "is not a directory; give the workflow repository's path")])
    config, problems = load_config_file(repo)
    result = Validation(config=config, problems=problems)
    if config is None:
        return result
    inspected: dict[str, dict[str, Any] | None] = {}
    seen = {(problem.file, problem.field, problem.message) for problem in result.problems}
    scopes = [("", config)] + [(f"environments.{env}.", config.for_environment(env)) for env in config.environments]
    for prefix, effective in scopes:
        key = json.dumps(effective.entrypoint)
        found: list[Problem] = []
        if key not in inspected:
            if isinstance(effective.entrypoint, list):
                inspected[key], found = None, check_command_entrypoint(repo, effective.entrypoint)
            else:
                inspected[key], found = check_flow_entrypoint(repo, effective.entrypoint)
        flow = inspected[key]
        if flow is not None:
            result.flow = result.flow or {**flow, "file": _relative(repo, flow.get("file"), "")}
            found += check_parameters(effective, flow, prefix)
        for problem in found:
            # An environment that repeats the base config's problem adds nothing: report it once.
            unscoped = (problem.file, problem.field.removeprefix(prefix), problem.message)
            if unscoped not in seen:
                seen.add(unscoped)
                result.problems.append(problem)
    return result
