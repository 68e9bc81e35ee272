"""Reporting to the control plane: contract events in batches, no lost or duplicated log line through outages."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from flowyard import RunState, flow, get_logger, task
from flowyard.reporting import Reporter, ReportingSink
from flowyard_test_support import RunnerProcess, run_runner, runner_env, wait_until, write_workflow


def fast_reporter(stub, **options) -> Reporter:
    """A started reporter that flushes and retries quickly."""
    options = {"flush_interval": 0.05, "backoff_base": 0.02, "backoff_cap": 0.2, "heartbeat_seconds": 3600, **options}
    return Reporter(stub.url, stub.run_id, stub.token, **options).start()


def test_every_log_line_arrives_once_and_in_order_through_503s_refused_connections_and_lost_replies(control_plane):
    stub = control_plane
    gates = {name: threading.Event() for name in ("a_done", "b", "b_done", "c", "c_done", "end")}
    expected = [f"{phase} {i}" for phase, count in (("a", 300), ("b", 500), ("c", 200)) for i in range(count)]

    @task
    def chatty(phase: str, count: int):
        for i in range(count):
            get_logger().info("%s %s", phase, i)

    @flow
    def talkative():
        chatty("a", 300)
        gates["a_done"].set()
        gates["b"].wait(30)
        chatty("b", 500)
        gates["b_done"].set()
        gates["c"].wait(30)
        chatty("c", 200)
        gates["c_done"].set()
        gates["end"].wait(30)

    reporter = fast_reporter(stub)
    result = {}
    runner = threading.Thread(target=lambda: result.setdefault("run", talkative.run({}, sink=ReportingSink(reporter))))
    runner.start()

    assert gates["a_done"].wait(30)
    wait_until(lambda: len(stub.log_messages()) == 300, what="phase a delivered")
    stub.mode = "503"  # the API answers 503 while phase b logs
    gates["b"].set()
    assert gates["b_done"].wait(30)
    wait_until(lambda: stub.answered.get(503, 0) >= 3, what="batches refused with 503 and retried")
    failed_before = reporter.failed_posts
    stub.refuse()  # now nobody listens at all, while phase c logs
    gates["c"].set()
    assert gates["c_done"].wait(30)
    wait_until(lambda: reporter.failed_posts >= failed_before + 3, what="refused connections retried")
    stub.mode = "lose_replies"  # back, but each reply is lost: batches are stored, then sent again
    stub.resume()
    stub.mode = "lose_replies"
    wait_until(lambda: stub.lost_replies >= 2, what="batches stored whose replies were lost")
    stub.mode = "ok"
    gates["end"].set()
    runner.join(30)
    assert reporter.close(30), f"{reporter.pending} events undelivered"

    assert result["run"].state is RunState.SUCCEEDED
    assert stub.rejected == []
    assert [line["seq"] for line in stub.logs] == list(range(1, len(expected) + 1))
    assert stub.log_messages() == expected
    assert all(line["task_key"].startswith("chatty-") and line["level"] == "INFO" for line in stub.logs)
    assert len(stub.log_seqs_received) > len(expected), "some lines were sent twice and ignored the second time"
    assert [event["state"] for event in stub.run_events] == ["RUNNING", "SUCCEEDED"]
    assert stub.task_states("chatty-2") == ["RUNNING", "SUCCEEDED"]


def test_a_401_after_the_terminal_event_means_the_run_is_over_and_sending_stops(control_plane):
    stub = control_plane
    stub.mode = "lose_replies"  # the terminal batch is stored but its reply is lost; the retry meets a dead token
    reporter = Reporter(stub.url, stub.run_id, stub.token, flush_interval=0.05, backoff_base=0.02)
    sink = ReportingSink(reporter)
    sink.log("last words")
    sink.run_state(RunState.SUCCEEDED)
    sink.log("after the end: never sent")
    reporter.start()  # one batch holds everything: stored, reply lost, retried
    assert reporter.close(10)
    assert reporter.stopped and stub.after_terminal == 1
    assert stub.log_messages() == ["last words"]
    assert [event["state"] for event in stub.run_events] == ["SUCCEEDED"]


def test_a_token_the_control_plane_does_not_know_before_its_first_batch_is_retried_until_it_does(control_plane):
    """The launch commits the run's token after the container started: a quick runner's first batches may meet a
    control plane that does not know it yet. Nothing is lost; the run's end still arrives once."""
    control_plane.token_unknown_for = 3
    reporter = fast_reporter(control_plane)
    sink = ReportingSink(reporter)
    sink.run_state(RunState.RUNNING)
    sink.log("first line of user code")
    sink.run_state(RunState.SUCCEEDED)
    assert reporter.close(10), f"{reporter.pending} events undelivered"
    assert not reporter.stopped and control_plane.answered[401] == 3
    assert control_plane.log_messages() == ["first line of user code"]
    assert [event["state"] for event in control_plane.run_events] == ["RUNNING", "SUCCEEDED"]


def test_a_token_that_stops_working_after_batches_were_taken_stops_the_sending(control_plane):
    reporter = fast_reporter(control_plane)
    sink = ReportingSink(reporter)
    sink.log("taken")
    wait_until(lambda: control_plane.log_messages() == ["taken"], what="the first batch taken")
    control_plane.token_unknown_for = 1_000  # a relaunch replaced the token: this container is a leftover
    sink.log("refused")
    wait_until(lambda: reporter.stopped, what="the reporter to stop")
    assert reporter.stop_reason == "HTTP 401" and control_plane.answered[401] == 1


def test_a_full_queue_is_sent_in_batches_of_at_most_the_contract_maximum(control_plane):
    reporter = fast_reporter(control_plane, flush_interval=60)
    sink = ReportingSink(reporter)
    for i in range(2500):
        sink.log(f"line {i}")
    # long before the 60 s flush interval, full batches go out as soon as they are full
    wait_until(lambda: len(control_plane.logs) == 2000, timeout=20, what="two full batches")
    assert reporter.close(30)
    assert [len(batch) for batch in control_plane.batches] == [1000, 1000, 500]
    assert control_plane.rejected == []


def test_a_batch_too_large_for_the_api_is_split_until_it_fits_and_nothing_is_lost(control_plane):
    control_plane.max_body_events = 100
    reporter = Reporter(control_plane.url, control_plane.run_id, control_plane.token, flush_interval=0.05)
    sink = ReportingSink(reporter)
    for i in range(700):
        sink.log(f"line {i}")
    reporter.start()
    assert reporter.close(30)
    assert control_plane.answered[413] >= 3 and max(len(batch) for batch in control_plane.batches) <= 100
    assert control_plane.log_messages() == [f"line {i}" for i in range(700)]


def test_a_refused_event_is_isolated_and_dropped_without_losing_its_neighbours(control_plane, capfd):
    reporter = Reporter(control_plane.url, control_plane.run_id, control_plane.token, flush_interval=0.05)
    sink = ReportingSink(reporter)
    for i in range(10):
        sink.log(f"line {i}")
    reporter.emit({"type": "task", "task_key": "x-0"})  # not a valid event: the API answers 400
    for i in range(10, 20):
        sink.log(f"line {i}")
    reporter.start()
    assert reporter.close(10)
    assert control_plane.log_messages() == [f"line {i}" for i in range(20)]
    assert "rejected an event (400), dropped" in capfd.readouterr().err


def test_the_runner_reports_run_task_and_log_events_and_heartbeats_to_the_api(tmp_path, control_plane):
    stub = control_plane
    write_workflow(tmp_path, """
        import os, pathlib, time
        from flowyard import flow, task, get_logger

        @task(tags=["io"])
        def extract(day: str):
            get_logger().info("extracting %s", day)
            return [1, 2]

        @task
        def square(x: int):
            print("squaring", x)
            return x * x

        @flow
        def etl(day: str):
            rows = extract(day)
            print("flow line")
            [f.result() for f in square.map(rows)]
            deadline = time.monotonic() + 30
            while not pathlib.Path("proceed").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
    """)
    env = runner_env({**stub.env(), "FLOWYARD_HEARTBEAT_SECONDS": "0.1"})
    runner = RunnerProcess(tmp_path, ["--param", "day=2026-01-01"], env)
    wait_until(lambda: stub.heartbeats >= 2, what="heartbeats while the flow runs")
    (tmp_path / "proceed").touch()
    assert runner.wait() == 0, runner.output

    assert stub.rejected == []
    assert [event["state"] for event in stub.run_events] == ["RUNNING", "SUCCEEDED"]
    assert stub.task_states("extract-0") == ["RUNNING", "SUCCEEDED"]
    assert stub.tasks["extract-0"]["tags"] == ["io"] and stub.tasks["extract-0"]["attempt"] == 1
    assert stub.task_states("square-1") == ["PENDING", "RUNNING", "SUCCEEDED"]
    assert stub.tasks["square-1"]["map_index"] == 1
    lines = {(line.get("task_key"), line["stream"], line["message"]) for line in stub.logs}
    assert ("extract-0", "sdk", "extracting 2026-01-01") in lines
    assert ("square-1", "stdout", "squaring 2") in lines
    assert (None, "stdout", "flow line") in lines
    assert [line["seq"] for line in stub.logs] == list(range(1, len(stub.logs) + 1))


def test_a_failed_flow_is_reported_failed_with_reason_user_error(tmp_path, control_plane):
    write_workflow(tmp_path, """
        from flowyard import flow

        @flow
        def broken():
            raise KeyError("account")
    """)
    code, runner = run_runner(tmp_path, env=runner_env(control_plane.env()))
    assert code == 1
    final = control_plane.run_events[-1]
    assert (final["state"], final["reason"], final["message"]) == ("FAILED", "user_error", "KeyError: 'account'")
    assert any("Traceback" in message for message in control_plane.log_messages())


def test_a_cancel_request_in_the_reply_cancels_the_flow_like_sigterm(tmp_path, control_plane):
    stub = control_plane
    write_workflow(tmp_path, """
        import threading
        from flowyard import flow, task

        @task
        def wait_forever():
            threading.Event().wait(600)

        @flow
        def long_flow():
            wait_forever()
    """)
    # an idle runner hears the reply at its next heartbeat
    runner = RunnerProcess(tmp_path, env=runner_env({**stub.env(), "FLOWYARD_HEARTBEAT_SECONDS": "0.2"}))
    wait_until(lambda: "RUNNING" in stub.task_states("wait_forever-0"), what="the task running")
    stub.cancel_requested = True
    assert runner.wait() == 143, runner.output
    final = stub.run_events[-1]
    assert (final["state"], final["reason"]) == ("CANCELLED", "cancelled")
    assert final["message"] == "cancel requested by the control plane"
    assert stub.task_states("wait_forever-0")[-1] == "CANCELLED"


def test_sigterm_is_reported_as_cancelled_before_the_runner_exits(tmp_path, control_plane):
    write_workflow(tmp_path, """
        import time
        from flowyard import flow

        @flow
        def sleeper():
            print("sleeping")
            time.sleep(600)
    """)
    runner = RunnerProcess(tmp_path, env=runner_env(control_plane.env()))
    runner.wait_for_line("sleeping")
    runner.process.terminate()
    assert runner.wait() == 143
    assert control_plane.run_events[-1]["state"] == "CANCELLED"


def test_the_runner_buffers_while_the_api_is_down_and_delivers_everything_when_it_returns(tmp_path, control_plane):
    stub = control_plane
    stub.refuse()
    write_workflow(tmp_path, """
        import pathlib, time
        from flowyard import flow

        @flow
        def patient():
            for i in range(50):
                print("line", i)
            deadline = time.monotonic() + 30
            while not pathlib.Path("proceed").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
    """)
    runner = RunnerProcess(tmp_path, env=runner_env(stub.env()))
    runner.wait_for_line("line 49")
    stub.resume()
    wait_until(lambda: len(stub.logs) >= 51, what="the buffered lines delivered")
    (tmp_path / "proceed").touch()
    assert runner.wait() == 0, runner.output
    assert [line["message"] for line in stub.logs[1:]] == [f"line {i}" for i in range(50)]
    assert [line["seq"] for line in stub.logs] == list(range(1, len(stub.logs) + 1))
    assert [event["state"] for event in stub.run_events] == ["RUNNING", "SUCCEEDED"]


def test_an_api_that_stays_down_delays_the_exit_only_until_the_flush_deadline(tmp_path, control_plane):
    control_plane.refuse()
    write_workflow(tmp_path, """
        from flowyard import flow

        @flow
        def quick():
            print("done")
    """)
    env = runner_env({**control_plane.env(), "FLOWYARD_FLUSH_TIMEOUT_SECONDS": "1"})
    code, runner = run_runner(tmp_path, env=env, timeout=20)
    assert code == 0
    assert "could not be delivered within 1 s" in runner.output


def test_the_sdk_and_runner_import_neither_pydantic_nor_django():
    code = ("import sys, flowyard, flowyard.runner.cli, flowyard.reporting, flowyard.__main__; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'django'))))")
    result = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []
