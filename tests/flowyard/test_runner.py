"""`python -m flowyard run` as a real process: entrypoints, parameters, console lines, exit codes, SIGTERM."""

from __future__ import annotations

import json
import signal
import sys

from flowyard_test_support import RunnerProcess, run_runner, runner_env, write_workflow

ETL = """
    from flowyard import flow, task, get_logger

    @task(retries=1, retry_delay_seconds=0.05)
    def extract(day: str) -> list[int]:
        get_logger().info("extracting %s", day)
        return [1, 2, 3]

    @task
    def transform(x: int) -> int:
        print("transforming", x)
        return x * 10

    @task
    def load(rows):
        print("loaded", sum(rows))

    @flow(name="etl")
    def etl(day: str = "2026-01-01", factor: int = 1):
        rows = extract(day)
        futures = transform.map(rows)
        load.submit([f.result() * factor for f in futures])
"""


def test_a_flow_runs_printing_each_task_state_and_exits_0(tmp_path):
    write_workflow(tmp_path, ETL)
    code, runner = run_runner(tmp_path, "--param", "factor=2")
    assert code == 0, runner.output
    out = runner.output
    for expected in ("run RUNNING", "task extract-0 RUNNING attempt 1", "task extract-0 SUCCEEDED",
                     "[extract-0] INFO extracting 2026-01-01", "task transform-2 SUCCEEDED",
                     "[transform-1] transforming 2", "[load-0] loaded 120", "run SUCCEEDED"):
        assert expected in out, f"{expected!r} missing from:\n{out}"


def test_a_failing_flow_exits_1_and_says_why(tmp_path):
    write_workflow(tmp_path, """
        from flowyard import flow, task

        @task
        def broken():
            raise ValueError("no rows for 2026-01-01")

        @flow
        def pipeline():
            broken()
    """)
    code, runner = run_runner(tmp_path)
    assert code == 1
    assert "task broken-0 FAILED: ValueError: no rows for 2026-01-01" in runner.output
    assert "run FAILED (user_error): ValueError: no rows for 2026-01-01" in runner.output


def test_a_parameter_of_the_wrong_type_fails_the_run_before_any_task(tmp_path):
    write_workflow(tmp_path, ETL)
    code, runner = run_runner(tmp_path, "--param", "factor=lots")
    assert code == 1
    assert "parameter 'factor': expected int, got str 'lots'" in runner.output
    assert "task " not in runner.output


def test_parameters_come_from_the_environment_then_json_then_each_param(tmp_path):
    write_workflow(tmp_path, """
        from flowyard import flow

        @flow
        def show(a: int, b: str, c: list[int]):
            print("got", a, b, c)
    """)
    env = runner_env({"FLOWYARD_PARAMETERS": json.dumps({"a": 1, "b": "env", "c": [0]})})
    code, runner = run_runner(tmp_path, "--params-json", '{"b": "json", "c": [1, 2]}', "--param", "a=3", env=env)
    assert code == 0, runner.output
    assert "got 3 json [1, 2]" in runner.output


def test_time_templates_become_the_scheduled_tick_or_today_for_a_local_run(tmp_path):
    write_workflow(tmp_path, """
        from flowyard import flow

        @flow
        def show(date: str, at: str):
            print("for", date, at)
    """)
    templates = json.dumps({"date": "{{ scheduled_date }}", "at": "{{ scheduled_time }}"})
    env = runner_env({"FLOWYARD_PARAMETERS": templates, "FLOWYARD_SCHEDULED_FOR": "2026-03-29T01:30:00+00:00"})
    code, runner = run_runner(tmp_path, env=env)
    assert code == 0, runner.output
    assert "for 2026-03-29 2026-03-29T01:30:00+00:00" in runner.output

    from datetime import datetime, timezone

    before = datetime.now(timezone.utc).date().isoformat()
    code, runner = run_runner(tmp_path, env=runner_env({"FLOWYARD_PARAMETERS": templates}))
    after = datetime.now(timezone.utc).date().isoformat()
    assert code == 0, runner.output
    assert f"for {before} " in runner.output or f"for {after} " in runner.output


def test_a_run_started_ahead_of_its_tick_starts_user_code_at_the_tick(tmp_path):
    import time
    from datetime import datetime, timedelta, timezone

    write_workflow(tmp_path, """
        import time
        from flowyard import flow

        @flow
        def punctual():
            print("user code at", time.time())
    """)
    tick = datetime.now(timezone.utc) + timedelta(seconds=1.5)
    code, runner = run_runner(tmp_path, env=runner_env({"FLOWYARD_NOT_BEFORE": tick.isoformat()}))
    assert code == 0, runner.output
    assert "ahead of the run's tick" in runner.output
    started = float(next(line for line in runner.stdout if "user code at" in line).split()[-1])
    assert tick.timestamp() <= started < time.time()


def test_sigterm_while_waiting_for_the_tick_cancels_the_run(tmp_path):
    from datetime import datetime, timedelta, timezone

    write_workflow(tmp_path, """
        from flowyard import flow

        @flow
        def never():
            print("user code ran")
    """)
    tick = datetime.now(timezone.utc) + timedelta(minutes=10)
    runner = RunnerProcess(tmp_path, env=runner_env({"FLOWYARD_NOT_BEFORE": tick.isoformat()}))
    runner.wait_for_line(r"waiting for")
    runner.process.send_signal(signal.SIGTERM)
    assert runner.wait() == 143
    assert "user code ran" not in runner.output and "run CANCELLED" in runner.output


def test_the_entrypoint_comes_from_the_argument_the_environment_or_flowyard_json(tmp_path):
    write_workflow(tmp_path, """
        from flowyard import flow

        @flow
        def first():
            print("first ran")

        @flow
        def second():
            print("second ran")
    """, name="jobs.py", config={"name": "two-flows", "entrypoint": "jobs:second"})
    assert "second ran" in run_runner(tmp_path)[1].output
    assert "first ran" in run_runner(tmp_path, "--entrypoint", "jobs:first")[1].output
    env = runner_env({"FLOWYARD_ENTRYPOINT": "jobs:first"})
    assert "first ran" in run_runner(tmp_path, env=env)[1].output


def test_an_environment_override_a_file_path_or_a_json_command_can_name_the_entrypoint(tmp_path):
    write_workflow(tmp_path / "flows", """
        from flowyard import flow

        @flow
        def nightly():
            print("nightly ran")
    """, name="etl.py")
    write_workflow(tmp_path, "", name="README", config={
        "entrypoint": "missing:flow", "environments": {"test": {"entrypoint": ["echo", "test command ran"]}}})
    assert "test command ran" in run_runner(tmp_path, env=runner_env({"FLOWYARD_ENVIRONMENT": "test"}))[1].output
    assert "nightly ran" in run_runner(tmp_path, "--entrypoint", "flows/etl.py:nightly")[1].output
    env = runner_env({"FLOWYARD_ENTRYPOINT": '["echo", "json command ran"]'})
    assert "json command ran" in run_runner(tmp_path, env=env)[1].output
    code, runner = run_runner(tmp_path)
    assert code == 1 and "module 'missing' not found" in runner.output


def test_workflow_py_must_hold_exactly_one_flow_when_no_entrypoint_is_set(tmp_path):
    write_workflow(tmp_path, """
        from flowyard import flow

        @flow
        def one(): ...

        @flow
        def two(): ...
    """)
    code, runner = run_runner(tmp_path)
    assert code == 1
    assert "workflow.py must define exactly one @flow" in runner.output and "one, two" in runner.output


def test_an_entrypoint_that_is_not_a_flow_is_refused_with_the_fix(tmp_path):
    write_workflow(tmp_path, "def plain():\n    pass\n", config={"entrypoint": "workflow:plain"})
    code, runner = run_runner(tmp_path)
    assert code == 1 and "workflow:plain is a function, not a flow: decorate it with @flow" in runner.output


def test_a_workflow_module_that_fails_to_import_fails_the_run_with_its_traceback(tmp_path):
    write_workflow(tmp_path, "import not_installed_anywhere\n")
    code, runner = run_runner(tmp_path)
    assert code == 1
    assert "ModuleNotFoundError" in runner.output and "run FAILED (user_error)" in runner.output


def test_a_command_entrypoint_streams_stdout_and_stderr_and_gets_the_parameters(tmp_path):
    write_workflow(tmp_path, "", name="job.sh", config={
        "entrypoint": ["bash", "-c", 'echo "day=$FLOWYARD_PARAM_DAY"; echo oops >&2; exit 0']})
    code, runner = run_runner(tmp_path, "--param", "day=2026-01-01")
    assert code == 0, runner.output
    assert "day=2026-01-01" in runner.output and "oops" in runner.output and "run SUCCEEDED" in runner.output


def test_a_failing_command_fails_the_run_with_its_status(tmp_path):
    code, runner = run_runner(tmp_path, "--command", sys.executable, "-c", "import sys; sys.exit(3)")
    assert code == 1
    assert "run FAILED (user_error): command exited with status 3" in runner.output


def test_sigterm_cancels_the_running_tasks_reports_cancelled_and_exits_143(tmp_path):
    write_workflow(tmp_path, """
        import threading
        from flowyard import flow, task

        @task
        def forever(i):
            threading.Event().wait(600)

        @flow
        def pipeline():
            forever.map(range(2))
            forever(99)
    """)
    runner = RunnerProcess(tmp_path)
    runner.wait_for_line(r"task forever-2 RUNNING")
    runner.wait_for_line(r"task forever-[01] RUNNING")
    runner.process.send_signal(signal.SIGTERM)
    code = runner.wait()
    assert code == 143, runner.output
    out = runner.output
    assert "task forever-2 CANCELLED" in out and "task forever-0 CANCELLED" in out and "task forever-1 CANCELLED" in out
    assert "run CANCELLED (cancelled): received SIGTERM" in out


def test_a_flow_that_catches_every_exception_still_cannot_swallow_the_cancellation(tmp_path):
    write_workflow(tmp_path, """
        import time
        from flowyard import flow, task

        @task
        def step():
            print("step running")
            time.sleep(600)

        @flow
        def stubborn():
            while True:
                try:
                    step()
                except Exception:
                    print("swallowed")
    """)
    runner = RunnerProcess(tmp_path)
    runner.wait_for_line(r"step running")
    runner.process.send_signal(signal.SIGTERM)
    assert runner.wait() == 143
    assert "swallowed" not in runner.output and "task step-0 CANCELLED" in runner.output


def test_sigint_cancels_with_exit_130(tmp_path):
    write_workflow(tmp_path, """
        import time
        from flowyard import flow

        @flow
        def waits():
            print("waiting")
            time.sleep(600)
    """)
    runner = RunnerProcess(tmp_path)
    runner.wait_for_line("waiting")
    runner.process.send_signal(signal.SIGINT)
    assert runner.wait() == 130
    assert "run CANCELLED (cancelled): received SIGINT" in runner.output


def test_sigterm_stops_a_command_and_its_children(tmp_path):
    runner = RunnerProcess(tmp_path, ["--command", "bash", "-c", "echo started; sleep 600 & wait"])
    runner.wait_for_line("started")
    runner.process.send_signal(signal.SIGTERM)
    assert runner.wait() == 143, runner.output
    assert "run CANCELLED" in runner.output


def test_sys_exit_in_a_flow_ends_the_run_by_its_code_and_in_a_task_fails_the_task(tmp_path):
    write_workflow(tmp_path, """
        import sys
        from flowyard import flow, task

        @task
        def quits():
            sys.exit(0)

        @flow
        def early_exit(code: int, in_task: bool = False):
            if in_task:
                quits()
            print("exiting with", code)
            sys.exit(code)
    """)
    assert run_runner(tmp_path, "--param", "code=0")[0] == 0
    code, runner = run_runner(tmp_path, "--param", "code=4")
    assert code == 1 and "run FAILED (user_error): FlowFailed: the flow called sys.exit(4)" in runner.output
    code, runner = run_runner(tmp_path, "--param", "code=0", "--param", "in_task=true")
    assert code == 1 and "task quits-0 FAILED: TaskExited: the task called sys.exit(0)" in runner.output


def test_sys_exit_while_the_workflow_module_is_imported_is_reported_as_a_failure(tmp_path):
    write_workflow(tmp_path, "import sys\nsys.exit(2)\n")
    code, runner = run_runner(tmp_path)
    assert code == 1 and "run FAILED (user_error): the workflow stopped the runner: SystemExit: 2" in runner.output
