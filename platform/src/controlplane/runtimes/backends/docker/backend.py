"""`DockerBackend`: each run is one container on one of the target's Docker hosts.

- **Naming and idempotency.** The container is named `workload_name(run_id)` and labelled with the spec's
  labels plus `MANAGED_LABEL=true` and `RUN_LABEL=<run id>`; it is found by that name. With several hosts,
  `launch` first looks for the run's container on every host; with one, the create's `409 Conflict` on the name
  finds it. When one exists it creates nothing and returns its id (starting it only if it was created and never
  started, e.g. after a crash between create and start: an exited container is never started again).
  Launches of one run are serialised inside a backend instance, and a `409 Conflict` from a racing `create` on
  the same host is answered with the container that won. With several hosts, a create that finds the run's
  container on another host afterwards removes its own (unstarted) container when the other one has started or
  sits on an earlier host; a race between processes that both pass that check before either creates is the one
  window left (the control plane's own run state transition is the guard there).
- **Placement** (`placement`): `launch` puts the container on the host where its memory and CPU limits fit
  with the most memory left (capacity: the host's `max_memory`/`max_cpus`, else the engine's); a silent host
  is marked unhealthy and passed over for a while; when no host has room the launch waits.
- **Installations.** Every container carries the backend's installation label; `list_workloads` leaves out
  containers of other installations (see `base.of_installation`).
- **Unreachable hosts.** When the run's container is not found on the hosts that answer and some host does
  not answer, every method raises `TargetUnavailable` rather than saying MISSING (or launching a second
  container): the container may be on the silent host. `list_workloads` also raises when a host is silent.
- **Terminate** sends SIGTERM at once (`container.kill(signal="SIGTERM")`, forwarded by docker-init to the
  workflow) and records the deadline; a short-lived daemon timer thread SIGKILLs the container at the
  deadline if it still runs, and a later `terminate` after the deadline kills it too (covering a timer
  lost with its process). The caller is never blocked for the grace period.
- **Image errors.** A missing image is pulled once; when that fails `launch` raises
  `LaunchFailed(image_error=True)`, as it does when `start` itself fails with an exec error. Containers run
  with `init=True`, though, so the engine starts docker-init, which then fails to exec a missing or foreign
  entrypoint: the container exits 127/126 and `inspect` reports `image_error=True` with docker-init's line
  (read from the stderr tail once per container) as the message.
- **Usage** (`usage`): from `launch`, or the first `inspect` / `list_workloads` that sees it running, a
  container is watched in a daemon thread until it exits (the kernel's cgroup figures when the engine is on
  this machine, the stats API otherwise); every status reports the highest memory and CPU seen for the run
  in this instance, also after exit, and an OOM-killed container's memory limit as its peak.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from controlplane.runtimes.backends.base import (
    RUN_LABEL,
    LaunchFailed,
    LaunchSpec,
    LogLine,
    RuntimeBackend,
    RuntimeStatus,
    TargetUnavailable,
    WorkloadState,
    of_installation,
    workload_name,
)
from controlplane.runtimes.backends.docker import mapping
from controlplane.runtimes.backends.docker.config import DockerSettings
from controlplane.runtimes.backends.docker.hosts import UNREACHABLE, Host, answers
from controlplane.runtimes.backends.docker.placement import MANAGED_FILTER, place
from controlplane.runtimes.backends.docker.usage import UsageMonitor, final_usage

logger = logging.getLogger(__name__)

STATE_RANK = {WorkloadState.MISSING: 0, WorkloadState.EXITED: 1, WorkloadState.PENDING: 2, WorkloadState.RUNNING: 3}
LAUNCH_LOCK_STRIPES = 64


@dataclass
class DockerBackend(RuntimeBackend):
    """Runs as containers on Docker hosts (see the module docstring for the rules and `config` for settings)."""

    kind: ClassVar[str] = "docker"
    lists_full_status: ClassVar[bool] = True  # list_workloads gives each container's whole status (see there)

    def __post_init__(self) -> None:
        self.config = DockerSettings.parse(self.settings)
        timeout = self.config.api_timeout_seconds
        self._hosts = [Host(index, host, timeout) for index, host in enumerate(self.config.hosts)]
        self._launch_locks = tuple(threading.Lock() for _ in range(LAUNCH_LOCK_STRIPES))
        self._state_lock = threading.Lock()
        self._usage = UsageMonitor()
        # By run id, each with the container it is about (a relaunch's container is another): the monotonic time
        # after which `terminate` kills it, and docker-init's exec failure ("" for none). `remove` forgets both.
        self._deadlines: dict[str, tuple[str, float]] = {}
        self._exec_failures: dict[str, tuple[str, str]] = {}

    # -- the interface -----------------------------------------------------------------------------------

    def launch(self, spec: LaunchSpec) -> str:
        """Create and start the run's container unless it exists; return its id.

        A given `spec.command` is the container's whole command line (`entrypoint=command[:1]`,
        `command=command[1:]`); None (or empty) keeps the image's entrypoint, the Flowyard runner.
        """
        create = {
            "image": spec.image,
            "name": spec.name,
            "labels": {**mapping.managed_labels(spec), **self.installation_labels()},
            "environment": mapping.container_environment(spec),
            "user": self.config.user,
            "stop_timeout": math.ceil(self.config.stop_grace_seconds),
            **mapping.command_arguments(spec),
        }
        host_options = mapping.host_config_options(spec, self.config)
        with self._launch_locks[hash(spec.run_id) % LAUNCH_LOCK_STRIPES]:
            # With one host, the create itself finds an existing container (409 on its name): no lookup first.
            found = self._find(spec.run_id, skip_unhealthy=True) if len(self._hosts) > 1 else None
            if found is None:
                host = place(self._hosts, memory_mib=spec.memory_mib, cpu_units=spec.cpu_units)
                found = self._create(host, create, host_options)
                found = self._settle_duplicates(*found)
            container_id = self._start(*found)
        self._usage.watch(spec.run_id, found[0], container_id)  # from the start: short runs get a peak too
        return container_id

    def inspect(self, run_id: str) -> RuntimeStatus:
        """The run's container state now, with the highest memory/CPU usage sampled so far (MISSING when none)."""
        found = self._find(run_id)
        if found is None:
            return RuntimeStatus(state=WorkloadState.MISSING)
        return self._status(run_id, *found)

    def result_store_remove(self, scope: str) -> None:
        """Remove the result volume of `scope` from every host; `TargetUnavailable` while a host is silent or a
        container still uses it (a run of the deleted environment still exiting), so it is asked again later."""
        name = mapping.results_volume_of(scope)
        busy: list[str] = []
        for host in self._hosts:
            with answers(host):
                try:
                    host.client().volumes.get(name).remove()
                except NotFound:
                    continue
                except APIError as exc:
                    if exc.status_code != 409:
                        raise
                    busy.append(f"{host.label}: {exc.explanation or exc}")
        if busy:
            raise TargetUnavailable(f"the result volume {name} is still in use: {'; '.join(busy)}")

    def terminate(self, run_id: str, *, grace_seconds: float) -> None:
        """SIGTERM the run's container now, SIGKILL it once `grace_seconds` have passed; never waits for the grace."""
        found = self._find(run_id)
        if found is None:
            return
        host, container = found
        if mapping.state_of(container.attrs) is not WorkloadState.RUNNING:
            return
        grace = self.config.stop_grace_seconds if grace_seconds is None or grace_seconds < 0 else grace_seconds
        now = time.monotonic()
        with self._state_lock:
            deadline = _about(self._deadlines.get(run_id), container.id)
            if deadline is None:
                self._deadlines[run_id] = (container.id, now + grace)
        if deadline is not None:  # asked before: kill once the first request's grace has run out
            if now >= deadline:
                self._signal(host, container.id, "SIGKILL")
            return
        try:
            self._signal(host, container.id, "SIGTERM" if grace > 0 else "SIGKILL")
        except TargetUnavailable:
            with self._state_lock:
                self._deadlines.pop(run_id, None)
            raise
        if grace > 0:
            timer = threading.Timer(grace, self._kill_after_grace, args=(host, container.id))
            timer.daemon = True
            timer.start()

    def kill(self, run_id: str) -> None:
        """SIGKILL the run's container at once (a missing or stopped one is fine)."""
        found = self._find(run_id)
        if found is not None and mapping.state_of(found[1].attrs) is WorkloadState.RUNNING:
            self._signal(found[0], found[1].id, "SIGKILL")

    def remove(self, run_id: str) -> None:
        """Force-remove the run's container, on every host that has one (a missing one is fine)."""
        with self._state_lock:
            self._deadlines.pop(run_id, None)
            self._exec_failures.pop(run_id, None)
        self._remove_named(run_id)
        self._usage.forget(run_id)

    def _remove_named(self, run_id: str, *, skip_unhealthy: bool = False) -> None:
        """Force-remove the container named after the run on every host (by its name: no lookup first); a host
        without one is fine. A silent host is marked unhealthy, and `TargetUnavailable` raised once the others are
        done; launches (`skip_unhealthy`) pass over hosts marked unhealthy, as in `_find`."""
        silent: list[str] = []
        for host in self._hosts:
            if skip_unhealthy and not host.healthy:
                continue
            try:
                self._remove_on(host, workload_name(run_id))
            except TargetUnavailable as exc:
                host.mark_unhealthy(str(exc))
                silent.append(str(exc))
        if silent:
            raise TargetUnavailable("; ".join(silent))

    @staticmethod
    def _remove_on(host: Host, name: str) -> None:
        """Force-remove the container `name` on `host`: one that is not there, or already being removed, is fine."""
        with answers(host):
            try:
                host.client().api.remove_container(name, force=True)
            except NotFound:
                pass
            except APIError as exc:
                if exc.status_code != 409:  # 409: a removal already in progress
                    raise

    def logs(self, run_id: str) -> Iterator[LogLine]:
        """The container's stdout and stderr lines, each with its stream and Docker's timestamp, oldest first."""
        found = self._find(run_id)
        if found is None:
            return iter(())
        host, container = found
        with answers(host):
            try:
                stdout = container.logs(stdout=True, stderr=False, timestamps=True)
                stderr = container.logs(stdout=False, stderr=True, timestamps=True)
            except NotFound:
                return iter(())
        return mapping.merge_logs(stdout, stderr)

    def list_workloads(self) -> dict[str, RuntimeStatus]:
        """Every container of this installation (running or not) on every host, by run id; raises if one is silent.

        One list call per host; a running container's status needs nothing more (its usage is watched), every
        other one is inspected for what only inspect tells (exit code, OOM flag, the engine's error)."""
        workloads: dict[str, RuntimeStatus] = {}
        labels = [MANAGED_FILTER, *(f"{key}={value}" for key, value in self.installation_labels().items())]
        for host in self._hosts:
            client = host.client()
            with answers(host):
                listed = client.api.containers(all=True, filters={"label": labels})
            for summary in listed:
                container_labels = summary.get("Labels") or {}
                run_id = container_labels.get(RUN_LABEL)
                if not run_id or not of_installation(container_labels, self.installation_id):
                    continue
                status = self._listed_status(run_id, host, summary)
                previous = workloads.get(run_id)
                if status is not None and (previous is None or STATE_RANK[status.state] > STATE_RANK[previous.state]):
                    workloads[run_id] = status
        return workloads

    def _listed_status(self, run_id: str, host: Host, summary: dict[str, Any]) -> RuntimeStatus | None:
        """The status of a container as listed: from the listing when it runs, else inspected (None: removed
        meanwhile)."""
        if summary.get("State") in mapping.RUNNING_STATES:
            self._usage.watch(run_id, host, summary["Id"])
            memory, cpu = self._usage.usage(run_id)
            return RuntimeStatus(state=WorkloadState.RUNNING, ref=summary["Id"], peak_memory_bytes=memory,
                                 cpu_seconds=cpu)
        with answers(host):
            try:
                container = host.client().containers.get(summary["Id"])
            except NotFound:
                return None
        return self._status(run_id, host, container)

    def close(self) -> None:
        """Stop watching usage and close the connections to every host."""
        self._usage.close()
        for host in self._hosts:
            host.close()

    # -- finding and creating ----------------------------------------------------------------------------

    def _get(self, host: Host, run_id: str):
        """The run's container on `host` (every launch of a run names it `workload_name(run_id)`), or None."""
        client = host.client()
        with answers(host):
            try:
                return client.containers.get(workload_name(run_id))
            except NotFound:
                return None

    def clear_leftover(self, run_id: str) -> None:
        """Remove an earlier launch's container of the run from every host not marked unhealthy."""
        self._remove_named(run_id, skip_unhealthy=True)

    def _find(self, run_id: str, *, skip_unhealthy: bool = False) -> tuple[Host, Any] | None:
        """(host, container) of the run, or None; `TargetUnavailable` if it is nowhere and some host is silent.

        A silent host is marked unhealthy. Launches (`skip_unhealthy`) do not ask hosts marked unhealthy, so a
        host that stays down holds launches for one attempt, not until it is back; everything else (inspect,
        terminate, the reconciler's list) still refuses to call a run MISSING while some host is silent."""
        silent: list[str] = []
        for host in self._hosts:
            if skip_unhealthy and not host.healthy:
                continue
            try:
                container = self._get(host, run_id)
            except TargetUnavailable as exc:
                host.mark_unhealthy(str(exc))
                silent.append(str(exc))
                continue
            if container is not None:
                return host, container
        if silent:
            raise TargetUnavailable("; ".join(silent))
        return None

    def _create(self, host: Host, create: dict[str, Any], host_options: dict[str, Any]) -> tuple[Host, Any]:
        """Create the container on `host` (pulling its image once if missing); a name conflict returns the winner."""
        client = host.client()
        pulled = False
        with answers(host, launching=True):
            for _attempt in range(3):
                try:
                    host_config = client.api.create_host_config(**host_options)
                    created = client.api.create_container(host_config=host_config, **create)
                    return host, _just_created(client, created["Id"], create)
                except ImageNotFound as exc:
                    if pulled:
                        raise LaunchFailed(f"image {create['image']} not found: {exc.explanation}",
                                           image_error=True) from exc
                    self._pull(host, client, create["image"])
                    pulled = True
                except APIError as exc:
                    if exc.status_code != 409:
                        raise
                    winner = self._conflicting(client, create["name"])  # another launch of the run created it first
                    if winner is not None:
                        return host, winner
        raise LaunchFailed(f"the container {create['name']} could not be created on {host.label}")

    @staticmethod
    def _conflicting(client: docker.DockerClient, name: str, wait_seconds: float = 5.0) -> Any:
        """The container that holds `name` after a 409 (the engine reserves a name before it can be inspected)."""
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                return client.containers.get(name)
            except NotFound:
                if time.monotonic() > deadline:
                    return None  # reserved by a create that failed: try to create it again
                time.sleep(0.02)

    @staticmethod
    def _pull(host: Host, client: docker.DockerClient, image: str) -> None:
        """Pull `image` onto `host` once; `LaunchFailed(image_error=True)` when that fails."""
        try:
            client.images.pull(image)
        except UNREACHABLE:
            raise
        except DockerException as exc:
            raise LaunchFailed(f"image {image} is not on {host.label} and could not be pulled: {exc}",
                               image_error=True) from exc

    def _settle_duplicates(self, host: Host, ours: Any) -> tuple[Host, Any]:
        """With several hosts: if another host has the run's container too, keep one (see the module docstring)."""
        if len(self._hosts) == 1 or not mapping.never_started(ours.attrs):
            return host, ours
        run_id = ours.labels[RUN_LABEL]
        for other in self._hosts:
            if other is host:
                continue
            try:
                theirs = self._get(other, run_id)
            except TargetUnavailable:
                continue
            if theirs is not None and (not mapping.never_started(theirs.attrs) or other.index < host.index):
                with answers(host):
                    with contextlib.suppress(NotFound):
                        ours.remove(force=True)
                return other, theirs
        return host, ours

    def _start(self, host: Host, container: Any) -> str:
        """Start a container that was never started; `LaunchFailed` (image_error: the image's fault) if it cannot."""
        if mapping.never_started(container.attrs):
            with answers(host, launching=True):
                try:
                    container.start()
                except NotFound as exc:
                    raise LaunchFailed(f"the container {container.name} was removed before it started") from exc
                except APIError as exc:
                    message = str(exc.explanation or exc)
                    raise LaunchFailed(f"the container {container.name} could not start: {message}",
                                       image_error=mapping.is_image_error(message)) from exc
        return container.id

    # -- state and signals ------------------------------------------------------------------------------

    def _status(self, run_id: str, host: Host, container: Any) -> RuntimeStatus:
        """The container's RuntimeStatus with the usage seen so far (watched from now on when it runs)."""
        if mapping.state_of(container.attrs) is WorkloadState.RUNNING:
            self._usage.watch(run_id, host, container.id)
        memory, cpu = final_usage(container.attrs, self._usage.usage(run_id))
        status = mapping.status_from_attrs(container.attrs, memory, cpu)
        if status.state is WorkloadState.EXITED and status.exit_code in mapping.EXEC_FAILURE_CODES:
            failure = self._exec_failure(run_id, host, container)
            if failure:
                status = dataclasses.replace(status, image_error=True, message=status.message or failure)
        return status

    def _exec_failure(self, run_id: str, host: Host, container: Any) -> str:
        """docker-init's words when it could not execute the entrypoint ("" when it could), read once per container."""
        with self._state_lock:
            known = _about(self._exec_failures.get(run_id), container.id)
            if known is not None:
                return known
        try:
            with answers(host):
                tail = container.logs(stdout=False, stderr=True, tail=5)
        except (TargetUnavailable, NotFound):
            return ""
        failure = mapping.exec_failure(tail)
        with self._state_lock:
            self._exec_failures[run_id] = (container.id, failure)
        return failure

    @staticmethod
    def _signal(host: Host, container_id: str, signal: str) -> None:
        """Send `signal` to the container (a container that is gone or not running is fine)."""
        client = host.client()
        with answers(host):
            try:
                client.api.kill(container_id, signal=signal)
            except NotFound:
                pass
            except APIError as exc:
                if exc.status_code != 409:  # 409: the container is not running
                    raise

    def _kill_after_grace(self, host: Host, container_id: str) -> None:
        """The terminate timer: SIGKILL the container if it still runs at the deadline."""
        try:
            state = host.client().api.inspect_container(container_id).get("State") or {}
            if state.get("Status") in mapping.RUNNING_STATES:
                logger.info("container %s outlived its grace period: killing it", container_id[:12])
                self._signal(host, container_id, "SIGKILL")
        except NotFound:
            pass
        except Exception:  # a timer thread has nobody to raise to: the reconciler's next terminate retries
            logger.warning("could not kill container %s after its grace period", container_id[:12], exc_info=True)


def _about(kept: tuple[str, Any] | None, container_id: str) -> Any:
    """The value kept for a run when it is about this container (None when nothing is, or it was another one)."""
    return kept[1] if kept is not None and kept[0] == container_id else None


def _just_created(client: docker.DockerClient, container_id: str, create: dict[str, Any]) -> Any:
    """The container a create just made, as the engine would inspect it where launching reads it (its id, name,
    labels and never-started state), without asking the engine again."""
    return client.containers.prepare_model({
        "Id": container_id, "Name": f"/{create['name']}", "Config": {"Labels": create["labels"]},
        "State": {"Status": "created", "StartedAt": "0001-01-01T00:00:00Z"},
    })
