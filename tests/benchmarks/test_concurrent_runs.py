"""B5: concurrent runs. FLOWYARD_BENCH_RUNS (default 50) runs of a flow of ten tasks (the behaviours workflow,
`mode=tasks`), triggered together through the platform (API → Celery → Docker backend → runner reporting to the
live API) until every one is SUCCEEDED, side by side with as many parallel raw `docker run`s of the same image
running the same flow in the same container: the same limits (1 vCPU, 256 MiB) and the same hardening Flowyard gives
every run (read-only root with tmpfs, docker-init, capabilities dropped, no-new-privileges, pids limit, uid 10001),
so the difference is what orchestration adds (API, queue, launch, reporting). The API is served as the control
plane image serves it (gunicorn, 2 processes × 4 threads, persistent database connections); the triggers are HTTP
requests to it with a developer's personal token, and the runners report to it. Measured per side: the wall time from the first
trigger (or `docker run`) to the last run finished — SUCCEEDED stored by the control plane, or the raw container
exited, both as their own clocks stamped it — and each run's own trigger → finished (min / median / p99).
FLOWYARD_BENCH_REPETITIONS (default 5) rounds of both sides, taking turns at going first (a round's first side
meets the machine as the previous one left it: disk writeback, the engine's clean-up); the ratio is of the median
wall times. Target: Flowyard's median wall time within 1.3× raw docker's.

A broken run cannot look fast: every Flowyard run must be SUCCEEDED with its ten task runs SUCCEEDED, its check line
stored and its container exit code 0; every raw container must exit 0 and print the check line and ten task lines.
Containers are left to neither side: the reconciler must remove every Flowyard container, the raw ones are removed
by the test (only those carrying this test's own label). Docker's create/start/die events and the runner's first
user line split each run into stages (launch queue, container start, runner start, flow and report).

Layout (FLOWYARD_BENCH_LAUNCH_THREADS, default 16): the fixture's worker (solo pool, beat: the reconciler at its
default interval, 10 s) and, when not 0, a launch worker with that many threads on the same queue, as in production (see the
schedule-lateness benchmark). Prints the tables and writes them into docs/benchmarks.md between its
"concurrent-runs" markers.

Run with `make bench`, or alone (PostgreSQL; FLOWYARD_BENCH_RUNS=5 for a quick try):
`FLOWYARD_DATABASE_URL=postgres://postgres@127.0.0.1:5432/flowyard_bench .venv/bin/pytest tests/benchmarks/test_concurrent_runs.py -q -s`
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from flowyard_testkit.bench_report import bench_command, machine_facts, markdown_table, write_docs_block
from flowyard_testkit.docker_env import docker_client, registry, runtime_image, wheel_cache  # noqa: F401
from flowyard_testkit.platform import RUN_LABEL, behaviours_image, platform, wait_until  # noqa: F401
from flowyard_testkit.ports import free_port
from flowyard_testkit.schedulers import QueueWorker, percentile
from flowyard_testkit.web import WebProcess

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = int(os.environ.get("FLOWYARD_BENCH_RUNS", "50"))
REPETITIONS = int(os.environ.get("FLOWYARD_BENCH_REPETITIONS", "5"))
LAUNCH_THREADS = int(os.environ.get("FLOWYARD_BENCH_LAUNCH_THREADS", "16"))
TRIGGER_THREADS = 10  # API requests answer in milliseconds: ten threads send them all within a moment
WEB_PORT = free_port()  # the control plane's gunicorn; the runners report there
WEB_URL = f"http://127.0.0.1:{WEB_PORT}"
WEB_PROCESSES, WEB_THREADS = 2, 4  # as the control plane image (FLOWYARD_WEB_WORKERS, FLOWYARD_WEB_THREADS)
CPUS, MEMORY_MIB = 1, 256  # the same limits on both sides: the comparison is of orchestration, not of CPU
TARGET = 1.3
TASKS = [f"step-{number}" for number in range(10)]
FIRST_LINE = "first line of user code"
CHECK_LINE = "10 tasks done, total 285"  # sum of squares below 10, logged by the flow after its ten tasks
ENDED = ("SUCCEEDED", "FAILED", "CRASHED", "TIMED_OUT", "CANCELLED")
RUN_USER = "10001:10001"  # the Docker backend's default user for runs
RAW_LABEL = "org.flowyard.benchmark"  # raw containers carry it with this session's own value
TEST_FILE = "tests/benchmarks/test_concurrent_runs.py"
UTC = datetime.UTC


def now() -> datetime.datetime:
    """The time now, UTC."""
    return datetime.datetime.now(UTC)


def docker_time(value: str) -> datetime.datetime:
    """A Docker RFC 3339 time (nanoseconds) as an aware datetime."""
    from controlplane.runtimes.backends.docker.mapping import parse_time

    parsed = parse_time(value)
    assert parsed is not None, f"no time in {value!r}"
    return parsed


@dataclass
class Side:
    """One side's measurements: when it began, and per run its trigger and end times and stage spans."""

    name: str
    began: datetime.datetime
    asked: dict[str, datetime.datetime]
    finished: dict[str, datetime.datetime]
    issued_by: datetime.datetime  # when the last trigger (or docker run) had been answered
    stages: dict[str, list[float]] = field(default_factory=dict)
    cpu: str = ""  # CPU use while the side ran (CpuMeter)

    @property
    def wall(self) -> float:
        """Seconds from the first trigger to the last run finished."""
        return (max(self.finished.values()) - self.began).total_seconds()

    @property
    def per_run(self) -> list[float]:
        """Each run's seconds from its own trigger to its end."""
        return [(self.finished[key] - self.asked[key]).total_seconds() for key in self.asked]

    def stage(self, name: str, begin: datetime.datetime | None, end: datetime.datetime | None) -> None:
        """Record one run's span of stage `name` (skipped when a moment is unknown)."""
        if begin and end:
            self.stages.setdefault(name, []).append((end - begin).total_seconds())


class ContainerEvents:
    """Docker's create/start/die events of Flowyard's containers, by run id, read on a thread while the side runs."""

    def __init__(self, docker) -> None:
        self.times: dict[str, dict[str, datetime.datetime]] = {}
        self._stream = docker.events(decode=True, filters={"type": "container", "label": "org.flowyard.managed=true"})
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        """Keep the first time of each action per run."""
        try:
            for event in self._stream:
                run_id = event.get("Actor", {}).get("Attributes", {}).get(RUN_LABEL)
                if run_id and event.get("Action") in ("create", "start", "die"):
                    at = datetime.datetime.fromtimestamp(event["timeNano"] / 1e9, tz=UTC)
                    self.times.setdefault(run_id, {}).setdefault(event["Action"], at)
        except Exception:  # noqa: BLE001 - the stream ends with an error when closed
            pass

    def close(self) -> None:
        """Stop reading events."""
        self._stream.close()
        self._thread.join(timeout=5)


def processes() -> dict[int, tuple[str, int, float]]:
    """Every process now, read from /proc: pid → (name, parent pid, CPU seconds used, user + system)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        name, fields = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        found[int(stat.parent.name)] = (name, int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return found


def containers_cpu() -> float | None:
    """CPU seconds every Docker container on the machine has used (their parent cgroup keeps what exited ones used);
    None where that cgroup is not found."""
    v1, v2 = Path("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage"), Path("/sys/fs/cgroup/docker/cpu.stat")
    if v1.exists():
        return int(v1.read_text()) / 1e9
    if v2.exists():
        return int(v2.read_text().split("usage_usec")[1].split()[0]) / 1e6
    return None


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (every core, idle and I/O wait left out)."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def trigger_over_http(token: str, deployment: str) -> tuple[str, datetime.datetime, datetime.datetime]:
    """POST /api/v1/runs/ to the control plane as a developer with a personal token: (run id, asked, answered)."""
    body = json.dumps({"deployment": deployment, "parameters": {"mode": "tasks"}}).encode()
    request = urllib.request.Request(f"{WEB_URL}/api/v1/runs/", data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    asked = now()
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 201
        return json.loads(answer.read())["id"], asked, now()


class CpuMeter:
    """CPU seconds used while a side runs, from /proc (read only): the machine's; the API's (gunicorn, which the
    runners report to and the triggers go through); this process's (the benchmark); the Celery workers' (with their
    children); the Docker engine's (dockerd, containerd); PostgreSQL's (its processes that lived through the side,
    and the backends of connections opened during it); every other process that lived through the side (other work
    on the machine); the containers' (their cgroup); and the rest, processes that came and went: container shims,
    runc, other short-lived work (a PostgreSQL backend that also ended within the side)."""

    def __init__(self, workers: list[int], web: int | None = None) -> None:
        self.workers, self.web = set(workers), web
        self.began, self.busy, self.before = time.monotonic(), machine_busy(), processes()
        self.containers = containers_cpu()

    def stop(self) -> str:
        """One line: the machine's busy share and each group's CPU seconds since the meter began."""
        wall, busy, after = time.monotonic() - self.began, machine_busy() - self.busy, processes()
        used = dict.fromkeys(("API (gunicorn)", "this process (the benchmark)", "Celery workers", "Docker engine",
                              "PostgreSQL", "other processes"), 0.0)
        for pid, (name, parent, cpu) in after.items():
            if pid not in self.before or self.before[pid][0] != name:
                if name == "postgres":  # the backend of a connection opened meanwhile: all its CPU is this side's
                    used["PostgreSQL"] += cpu
                continue  # other processes started meanwhile: counted in the rest
            if self.web is not None and self.web in (pid, parent):
                group = "API (gunicorn)"
            elif pid == os.getpid():
                group = "this process (the benchmark)"
            elif pid in self.workers or parent in self.workers:
                group = "Celery workers"
            elif name in ("dockerd", "containerd"):
                group = "Docker engine"
            elif name == "postgres":
                group = "PostgreSQL"
            else:
                group = "other processes"
            used[group] += cpu - self.before[pid][2]
        containers = containers_cpu()
        if containers is not None and self.containers is not None:
            used["the containers"] = containers - self.containers
        rest = busy - sum(used.values())
        return (f"CPU {busy:.1f} s busy of {wall * (os.cpu_count() or 1):.1f} s ({busy / wall:.2f} cores): "
                + ", ".join(f"{name} {value:.1f} s" for name, value in used.items())
                + f", the rest (container shims and runc, other short-lived processes) {rest:.1f} s")


def check_flowyard_runs(run_ids: list[str]) -> None:
    """Every run SUCCEEDED, not retried, with its ten task runs SUCCEEDED and its check line stored."""
    from controlplane.runs.models import Run, RunLogLine, TaskRun

    states = dict(Run.objects.filter(pk__in=run_ids).values_list("pk", "state"))
    assert sorted(states.values()) == ["SUCCEEDED"] * len(run_ids), states
    assert not Run.objects.filter(retry_of__in=run_ids).exists()
    tasks: dict[str, list[tuple[str, str]]] = {}
    for run_id, key, state in TaskRun.objects.filter(run__in=run_ids).values_list("run_id", "task_key", "state"):
        tasks.setdefault(str(run_id), []).append((key, state))
    for run_id in run_ids:
        assert sorted(tasks.get(run_id, [])) == [(key, "SUCCEEDED") for key in sorted(TASKS)], (run_id, tasks.get(run_id))
    checked = RunLogLine.objects.filter(run__in=run_ids, message=CHECK_LINE).values_list("run_id", flat=True)
    assert sorted(map(str, checked)) == sorted(run_ids), "every run logged its check line once"


def containers_of(docker, run_ids: list[str]) -> list:
    """The containers of these runs (one Docker listing, exited ones included)."""
    wanted = set(run_ids)
    return [container for container in docker.containers.list(
        all=True, filters={"label": "org.flowyard.managed=true"}, ignore_removed=True)
        if container.labels.get(RUN_LABEL) in wanted]


def flowyard_side(platform, deployment: str, docker, workers: list[int], web: WebProcess,  # noqa: F811
                  token: str) -> Side:
    """Trigger RUNS runs together through the API, wait until all ended and their containers are removed; check
    and time them."""
    from controlplane.runs.models import Run, RunLogLine

    events = ContainerEvents(docker)
    run_ids: list[str] = []
    try:
        meter, began = CpuMeter(workers, web.pid), now()
        with ThreadPoolExecutor(max_workers=TRIGGER_THREADS) as pool:
            triggered = list(pool.map(lambda _: trigger_over_http(token, deployment), range(RUNS)))
        run_ids = [run_id for run_id, _, _ in triggered]
        runs = Run.objects.filter(pk__in=run_ids)
        wait_until(lambda: runs.filter(state__in=ENDED).count() == RUNS, timeout=60 + 6 * RUNS, every=0.5,
                   what=f"{RUNS} Flowyard runs to end")
        cpu = meter.stop()
        check_flowyard_runs(run_ids)
        wait_until(lambda: not containers_of(docker, run_ids), timeout=60, every=0.5,
                   what="the reconciler to remove every run's container")
        exit_codes = dict(runs.values_list("pk", "exit_code"))
        assert set(exit_codes.values()) == {0}, f"every container exited 0 (as the reconciler recorded): {exit_codes}"
    finally:
        events.close()
        for container in containers_of(docker, run_ids):  # a failed side: what is left of its own runs only
            container.remove(force=True)
    finished = {str(pk): at for pk, at in runs.values_list("pk", "state_changed_at")}
    first_lines = {str(pk): at for pk, at in RunLogLine.objects.filter(run__in=run_ids, message=FIRST_LINE)
                   .values_list("run_id", "at")}
    side = Side("Flowyard", began, {run_id: asked for run_id, asked, _ in triggered}, finished,
                max(answered for _, _, answered in triggered), cpu=cpu)
    for run_id, asked, _ in triggered:
        seen = events.times.get(run_id, {})
        side.stage("trigger → container created (API, launch queue, claim)", asked, seen.get("create"))
        side.stage("container created → started", seen.get("create"), seen.get("start"))
        side.stage("container started → first user line", seen.get("start"), first_lines.get(run_id))
        side.stage("first user line → finished (SUCCEEDED stored)", first_lines.get(run_id), finished[run_id])
        side.stage("finished → container exited", finished[run_id], seen.get("die"))
    return side


def hardened_host_options(image: str) -> dict:
    """The host config Flowyard gives a run's container (its Docker backend's own mapping): the same limits and the
    same hardening (read-only root with tmpfs, docker-init, capabilities dropped, no-new-privileges, pids limit),
    so that the raw side differs only by what orchestration adds, not by a lighter container."""
    from controlplane.runtimes.backends.base import LaunchSpec
    from controlplane.runtimes.backends.docker import mapping
    from controlplane.runtimes.backends.docker.config import DockerSettings

    spec = LaunchSpec(run_id="raw", image=image, environment={}, cpu_units=CPUS * 1024, memory_mib=MEMORY_MIB,
                      labels={})
    return mapping.host_config_options(spec, DockerSettings.parse({"network_mode": "host"}))


def raw_docker_side(image: str, workers: list[int], count: int = RUNS) -> Side:
    """`count` parallel `docker run`s of the image (mode=tasks) with the same limits; each checked, then removed."""
    import docker

    label = f"{RAW_LABEL}=concurrent-runs-{uuid.uuid4().hex[:12]}"  # only these containers are ever removed here
    client = docker.from_env(timeout=300, max_pool_size=count + 4)  # one connection per parallel `docker run`

    host_config = client.api.create_host_config(**hardened_host_options(image))

    def docker_run(_: int) -> tuple[object, datetime.datetime]:
        """`docker run -d` of one container (create, start, inspect, as the SDK's run does): it and when it was
        asked for."""
        at = now()
        created = client.api.create_container(image, ["--param", "mode=tasks"], host_config=host_config,
                                              labels=dict([label.split("=", 1)]), user=RUN_USER)
        client.api.start(created["Id"])
        return client.containers.get(created["Id"]), at

    try:
        meter, began = CpuMeter(workers), now()
        with ThreadPoolExecutor(max_workers=count) as pool:  # all at once, as `docker run … &` fifty times
            started = list(pool.map(docker_run, range(count)))
        side = Side("raw docker run", began, {}, {}, now())
        deadline = time.monotonic() + 60 + 6 * count
        results = [container.wait(timeout=max(1.0, deadline - time.monotonic())) for container, _ in started]
        side.cpu = meter.stop()
        for (container, at), result in zip(started, results):
            container.reload()
            state = container.attrs["State"]
            output = container.logs(stdout=True, stderr=True, timestamps=True).decode()
            assert result["StatusCode"] == 0 and state["ExitCode"] == 0, output[-2000:]
            lines = [raw.partition(" ") for raw in output.splitlines()]
            assert sum(CHECK_LINE in text for _, _, text in lines) == 1, output[-2000:]
            assert sorted(text.split()[2] for _, _, text in lines if text.endswith(" SUCCEEDED")
                          and text.split()[1] == "task") == sorted(TASKS), output[-2000:]
            first = next(docker_time(stamp) for stamp, _, text in lines if FIRST_LINE in text)
            created, start = docker_time(container.attrs["Created"]), docker_time(state["StartedAt"])
            side.asked[container.id], side.finished[container.id] = at, docker_time(state["FinishedAt"])
            side.stage("docker run → container created", at, created)
            side.stage("container created → started", created, start)
            side.stage("container started → first user line", start, first)
            side.stage("first user line → finished (container exited)", first, side.finished[container.id])
    finally:
        for container in client.containers.list(all=True, filters={"label": label}):
            container.remove(force=True)
    try:
        assert not client.containers.list(all=True, filters={"label": label}), "raw containers left behind"
    finally:
        client.close()
    return side


def seconds(values: list[float]) -> str:
    """min / median / p99 in seconds."""
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {percentile(values, 99):.2f} s"


def median_side(sides: list[Side]) -> Side:
    """The repetition with the median wall time (the lower middle one of an even number)."""
    return sorted(sides, key=lambda side: side.wall)[(len(sides) - 1) // 2]


def walls(sides: list[Side]) -> str:
    """Each repetition's wall time, in the order they ran."""
    return ", ".join(f"{side.wall:.2f}" for side in sides) + " s"


def report(flowyards: list[Side], raws: list[Side], ratio: float, docker) -> list[str]:
    """The result block for docs/benchmarks.md: the facts, the command, the comparison (every repetition's wall
    time; the per-run times, stages and CPU of each side's median repetition) and the stages."""
    flowyard, raw = median_side(flowyards), median_side(raws)
    layout = (f"gunicorn {WEB_PROCESSES} × {WEB_THREADS} threads; the fixture's solo worker (beat, reconciler every 10 s) and a launch worker with {LAUNCH_THREADS} threads"
              if LAUNCH_THREADS else f"gunicorn {WEB_PROCESSES} × {WEB_THREADS} threads; the fixture's solo worker only (beat, reconciler every 10 s)")
    comparison = markdown_table(
        ["side", "wall, median (each repetition)", "median repetition, per run: trigger → finished, min / median / p99",
         "all triggers answered after"],
        [[side.name, f"{side.wall:.2f} s ({walls(sides)})", seconds(side.per_run),
          f"{(side.issued_by - side.began).total_seconds():.2f} s"]
         for side, sides in ((flowyard, flowyards), (raw, raws))]
        + [["ratio Flowyard / raw docker (median wall)", f"**{ratio:.2f}**", f"target ≤ {TARGET} "
            f"{'met' if ratio <= TARGET else 'missed'}", ""]],
    )
    stages = markdown_table(
        ["stage (seconds per run)", "p50", "p99", "max"],
        [[f"{side.name}: {name}", f"{statistics.median(values):.2f}", f"{percentile(values, 99):.2f}",
          f"{max(values):.2f}"] for side in (flowyard, raw) for name, values in side.stages.items()],
    )
    return [f"Result ({machine_facts(docker)}; {RUNS} runs per side, each a flow of {len(TASKS)} tasks, 1 vCPU and "
            f"{MEMORY_MIB} MiB; {len(flowyards)} repetitions per side, taking turns at going first; {layout}; one run of "
            f"`{bench_command(TEST_FILE, 'FLOWYARD_DATABASE_URL', 'FLOWYARD_BENCH_RUNS', 'FLOWYARD_BENCH_REPETITIONS', 'FLOWYARD_BENCH_LAUNCH_THREADS')}`):",
            "", *comparison, "", "Where the time goes (each side's median repetition):", "", *stages, "",
            *(f"- {side.name}: {side.cpu}." for side in (flowyard, raw))]


@pytest.mark.parametrize("platform", [{"FLOWYARD_RECONCILE_SECONDS": "10", "FLOWYARD_PUBLIC_URL": WEB_URL}],
                         indirect=True)
def test_concurrent_runs_finish_within_one_point_three_raw_docker_runs(platform, docker_client, tmp_path):  # noqa: F811
    """Both sides checked and timed REPETITIONS times, the tables printed and written into the docs, then the target
    asserted on the median wall times."""
    from controlplane.tenancy import services as tenancy
    from flowyard_spec.states import Role

    deployment = platform.deploy(cpu=CPUS * 1024, memory=MEMORY_MIB)
    env = platform.worker.env
    launcher = None
    if LAUNCH_THREADS:
        launcher = QueueWorker(env, tmp_path / "launcher.log", env["FLOWYARD_TASK_QUEUE"], beat=False,
                               pool="threads", concurrency=LAUNCH_THREADS).start()
    workers = [worker.process.pid for worker in (platform.worker, launcher) if worker is not None]
    # The API as the control plane image serves it (gunicorn, persistent database connections), not Django's test
    # server in pytest (a database connection per request, sharing the benchmark's process).
    web = WebProcess.gunicorn(env, tmp_path / "web.log", WEB_PORT, processes=WEB_PROCESSES, threads=WEB_THREADS)
    _, token = tenancy.personal_token_create(actor=platform.tenant.users[Role.DEVELOPER], name="b5")
    flowyards: list[Side] = []
    raws: list[Side] = []
    try:
        warm, _, _ = trigger_over_http(token, deployment)  # warm up both paths once
        platform.wait_for(warm, "SUCCEEDED", timeout=60)
        raw_docker_side(platform.image[0], workers, count=1)
        for repetition in range(REPETITIONS):
            if repetition % 2:
                raws.append(raw_docker_side(platform.image[0], workers))
            flowyards.append(flowyard_side(platform, deployment, docker_client, workers, web, token))
            if not repetition % 2:
                raws.append(raw_docker_side(platform.image[0], workers))
    finally:
        web.stop()
        if launcher is not None:
            launcher.stop()
    ratio = statistics.median(side.wall for side in flowyards) / statistics.median(side.wall for side in raws)
    lines = report(flowyards, raws, ratio, docker_client)
    print("\n" + "\n".join(lines))
    write_docs_block("concurrent-runs", lines)
    assert ratio <= TARGET, f"Flowyard / raw docker median wall time {ratio:.2f} > {TARGET}"
