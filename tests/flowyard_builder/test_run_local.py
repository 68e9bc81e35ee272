"""`flowyard run --local [PATH]`: runs a workflow here through the SDK's runner, relaying output and exit code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

FLOWYARD = str(Path(sys.executable).parent / "flowyard")

WORKFLOW = """
    from flowyard import flow, task

    @task
    def greet(name: str) -> str:
        print(f"hello {name}")
        return name

    @flow
    def hello(name: str = "world", times: int = 1):
        for _ in range(times):
            greet(name)
"""


def make_repo(directory: Path, source: str = WORKFLOW, config: dict | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "workflow.py").write_text(textwrap.dedent(source))
    if config is not None:
        (directory / "flowyard.json").write_text(json.dumps(config))
    return directory


def clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWYARD_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def flowyard(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([FLOWYARD, *args], capture_output=True, text=True, cwd=cwd, env=env or clean_env(), timeout=60)


def test_run_local_runs_the_workflow_in_the_given_directory_and_relays_its_output(tmp_path):
    repo = make_repo(tmp_path / "repo")
    result = flowyard("run", "--local", str(repo), "--param", "name=flowyard", "--param", "times=2",
                      env=clean_env(FLOWYARD_CACHE_DIR=str(tmp_path / "cache")))
    assert result.returncode == 0, result.stdout + result.stderr
    for expected in ("run RUNNING", "task greet-0 SUCCEEDED", "[greet-1] hello flowyard", "run SUCCEEDED"):
        assert expected in result.stdout


def test_run_local_defaults_to_the_current_directory(tmp_path):
    repo = make_repo(tmp_path)
    result = flowyard("run", "--local", cwd=repo)
    assert result.returncode == 0 and "[greet-0] hello world" in result.stdout


def test_run_local_relays_a_failure_as_exit_code_1(tmp_path):
    repo = make_repo(tmp_path, "from flowyard import flow\n\n@flow\ndef broken():\n    raise RuntimeError('nope')\n")
    result = flowyard("run", "--local", str(repo))
    assert result.returncode == 1
    assert "run FAILED (user_error): RuntimeError: nope" in result.stdout


def test_run_local_takes_parameters_from_flowyard_json_overridden_by_param(tmp_path):
    repo = make_repo(tmp_path, config={"name": "hello", "parameters": {"name": "config", "times": "1"}})
    assert "hello config" in flowyard("run", "--local", str(repo)).stdout
    assert "hello cli" in flowyard("run", "--local", str(repo), "--param", "name=cli").stdout


def test_run_local_never_reports_to_a_control_plane_even_when_one_is_configured(tmp_path):
    repo = make_repo(tmp_path)
    env = clean_env(FLOWYARD_API_URL="http://127.0.0.1:9", FLOWYARD_RUN_ID="r", FLOWYARD_RUN_TOKEN="t",
                    FLOWYARD_FLUSH_TIMEOUT_SECONDS="30")
    started = time.monotonic()
    result = flowyard("run", "--local", str(repo), env=env)
    assert result.returncode == 0
    assert "could not be delivered" not in result.stderr and time.monotonic() - started < 20


def test_run_requires_local_for_now_and_a_directory_that_exists(tmp_path):
    missing_flag = flowyard("run", str(tmp_path))
    assert missing_flag.returncode != 0 and "--local" in missing_flag.stderr
    missing_dir = flowyard("run", "--local", str(tmp_path / "nope"))
    assert missing_dir.returncode == 1 and "no such directory" in missing_dir.stderr


def test_sigterm_to_run_local_cancels_the_workflow_with_exit_143(tmp_path):
    repo = make_repo(tmp_path, """
        import time
        from flowyard import flow, task

        @task
        def forever():
            time.sleep(600)

        @flow
        def long():
            forever()
    """)
    process = subprocess.Popen([FLOWYARD, "run", "--local", str(repo)], stdout=subprocess.PIPE, text=True, env=clean_env())
    seen: list[str] = []
    running = threading.Event()

    def read() -> None:
        for line in process.stdout:
            seen.append(line)
            if "task forever-0 RUNNING" in line:
                running.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert running.wait(30), "".join(seen)
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 143
    reader.join(10)
    assert any("run CANCELLED" in line for line in seen)
