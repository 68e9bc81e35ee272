"""Task caching: keyed on inputs and source, stored as files under FLOWYARD_CACHE_DIR, with an expiry."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from flowyard import RecordingSink, RunState, TaskState, flow, task
from flowyard import cache as cache_module
from flowyard_test_support import wait_until


def make_counting_flow(side_effects: Path, expiration=timedelta(hours=1)):
    @task(cache_expiration=expiration)
    def expensive(day: str) -> list[int]:
        with side_effects.open("a") as handle:
            handle.write(f"{day}\n")
        return [1, 2, 3]

    @flow
    def pipeline(day: str = "2026-01-01"):
        return expensive(day)

    return pipeline


def executions(side_effects: Path) -> list[str]:
    return side_effects.read_text().splitlines() if side_effects.exists() else []


def test_a_second_run_with_the_same_inputs_is_cached_and_the_function_does_not_run(tmp_path, cache_dir):
    side_effects = tmp_path / "executions.txt"
    pipeline = make_counting_flow(side_effects)
    first_sink, second_sink = RecordingSink(), RecordingSink()
    first = pipeline.run({"day": "2026-01-01"}, sink=first_sink)
    second = pipeline.run({"day": "2026-01-01"}, sink=second_sink)
    assert executions(side_effects) == ["2026-01-01"]
    assert first_sink.states_of("expensive-0") == [TaskState.RUNNING, TaskState.SUCCEEDED]
    assert second_sink.states_of("expensive-0") == [TaskState.CACHED]
    assert first.result == second.result == [1, 2, 3]
    assert second.state is RunState.SUCCEEDED
    assert list(cache_dir.rglob("*.pickle")), "the cache lives under FLOWYARD_CACHE_DIR"
    assert not list(cache_dir.rglob("*.tmp")), "writes are atomic: no temporary file is left behind"


def test_different_inputs_are_not_served_from_the_cache(tmp_path):
    side_effects = tmp_path / "executions.txt"
    pipeline = make_counting_flow(side_effects)
    pipeline.run({"day": "2026-01-01"}, sink=RecordingSink())
    pipeline.run({"day": "2026-01-02"}, sink=RecordingSink())
    assert executions(side_effects) == ["2026-01-01", "2026-01-02"]


def test_changing_the_task_source_invalidates_the_cache(tmp_path):
    side_effects = tmp_path / "executions.txt"
    make_counting_flow(side_effects).run({}, sink=RecordingSink())

    @task(cache_expiration=timedelta(hours=1), name="expensive")
    def expensive(day: str) -> list[int]:  # same name and inputs, different code
        side_effects.open("a").write("v2\n")
        return [4]

    @flow
    def pipeline(day: str = "2026-01-01"):
        return expensive(day)

    assert pipeline.run({}, sink=RecordingSink()).result == [4]
    assert executions(side_effects) == ["2026-01-01", "v2"]


def test_an_expired_entry_runs_the_task_again(tmp_path):
    side_effects = tmp_path / "executions.txt"
    pipeline = make_counting_flow(side_effects, expiration=timedelta(milliseconds=300))
    pipeline.run({}, sink=RecordingSink())
    entry = next(cache_module.cache_dir().rglob("*.pickle"))
    expires_at = cache_module.expires_at(entry.stem)
    assert expires_at is not None
    wait_until(lambda: time.time() > expires_at, timeout=10, what="the cache entry to expire")
    sink = RecordingSink()
    pipeline.run({}, sink=sink)
    assert sink.states_of("expensive-0") == [TaskState.RUNNING, TaskState.SUCCEEDED]
    assert executions(side_effects) == ["2026-01-01", "2026-01-01"]


def test_a_failed_task_is_not_cached(tmp_path):
    calls = []

    @task(cache_expiration=timedelta(hours=1))
    def sometimes(x):
        calls.append(x)
        if len(calls) == 1:
            raise RuntimeError("first call fails")
        return x

    @flow
    def pipeline():
        return sometimes(1)

    assert pipeline.run({}, sink=RecordingSink()).state is RunState.FAILED
    assert pipeline.run({}, sink=RecordingSink()).result == 1
    assert calls == [1, 1]


def test_a_custom_cache_key_function_decides_what_counts_as_the_same_call(tmp_path):
    calls = []

    @task(cache_key_fn=lambda inputs: inputs["day"][:7])  # one entry per month
    def monthly(day: str):
        calls.append(day)
        return day[:7]

    @flow
    def pipeline(day: str):
        return monthly(day)

    pipeline.run({"day": "2026-01-01"}, sink=RecordingSink())
    pipeline.run({"day": "2026-01-31"}, sink=RecordingSink())
    pipeline.run({"day": "2026-02-01"}, sink=RecordingSink())
    assert calls == ["2026-01-01", "2026-02-01"]


def test_an_unreadable_cache_file_is_a_miss_not_an_error(tmp_path, cache_dir):
    key = cache_module.make_key("t", "src", "inputs")
    assert cache_module.write(key, {"a": 1}, None)
    assert cache_module.read(key) == {"a": 1}
    next(cache_dir.rglob("*.pickle")).write_bytes(b"not a pickle")
    assert cache_module.read(key) is cache_module.MISS


def test_input_fingerprints_are_stable_across_dict_order_and_sets():
    one = cache_module.inputs_fingerprint({"a": {"x": 1, "y": 2}, "s": {3, 1, 2}})
    two = cache_module.inputs_fingerprint({"a": {"y": 2, "x": 1}, "s": {2, 3, 1}})
    assert one == two and one is not None
