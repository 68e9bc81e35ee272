"""get_logger() and print(): captured as log lines tagged with the task they were written in."""

from __future__ import annotations

import sys

from flowyard import RecordingSink, flow, get_logger, task


def test_logger_lines_are_tagged_with_their_task_and_flow_lines_with_none():
    @task
    def extract(day):
        get_logger().info("extracting %s", day)

    @task
    def transform(x):
        get_logger().warning("odd value %s", x)

    @flow
    def pipeline():
        get_logger().info("starting")
        extract("2026-01-01")
        for future in transform.map([1, 2]):
            future.result()
        get_logger().info("done")

    sink = RecordingSink()
    pipeline.run({}, sink=sink)
    lines = [(line["task_key"], line["level"], line["message"]) for line in sink.logs if line["stream"] == "sdk"]
    assert lines[0] == (None, "INFO", "starting")
    assert ("extract-0", "INFO", "extracting 2026-01-01") in lines
    assert ("transform-0", "WARNING", "odd value 1") in lines
    assert ("transform-1", "WARNING", "odd value 2") in lines
    assert lines[-1] == (None, "INFO", "done")


def test_prints_inside_tasks_and_flows_become_log_lines_on_the_stdout_stream():
    @task
    def noisy(i):
        print("row", i, end="")  # a partial line: emitted when the task ends
        print(" done")
        print("two\nlines")
        print("to stderr", file=sys.stderr)

    @flow
    def pipeline():
        print("flow level")
        noisy.submit(7).result()

    sink = RecordingSink()
    pipeline.run({}, sink=sink)
    printed = [(line["stream"], line["task_key"], line["message"]) for line in sink.logs if line["stream"] != "sdk"]
    assert printed == [
        ("stdout", None, "flow level"),
        ("stdout", "noisy-0", "row 7 done"),
        ("stdout", "noisy-0", "two"),
        ("stdout", "noisy-0", "lines"),
        ("stderr", "noisy-0", "to stderr"),
    ]


def test_stdout_is_given_back_after_the_flow(capsys):
    @flow
    def pipeline():
        print("captured")

    before = sys.stdout
    pipeline.run({}, sink=RecordingSink())
    assert sys.stdout is before
    print("after the flow")
    assert capsys.readouterr().out == "after the flow\n"


def test_outside_a_flow_logger_lines_go_to_stderr(capsys):
    get_logger().info("no flow here")
    assert "INFO no flow here" in capsys.readouterr().err
