"""Docker engines of a test's own: a dockerd (with its own containerd) per engine, started and torn down here.

A test that stops, kills or restarts a Docker engine must never do it to the machine's dockerd (other tests and
sessions use it): it starts its own with `docker_engines("a", "b")` (a context manager) or the module-scoped
`own_docker_engine` fixture, and stops only that one (`engine.stop()`, `engine.kill()`, `engine.start()`).

Each engine has a directory of its own under /tmp (short, for unix socket paths) with
`data/` (`--data-root`), `exec/` (`--exec-root`), `dockerd.pid` (`--pidfile`), `docker.sock` (`-H unix://…`,
the only listener: no TCP), `daemon.json` (an empty `--config-file`, so /etc/docker/daemon.json is not read) and
the logs. The engine runs like the machine's (`--bridge=none --iptables=false --ip-masq=false`, plus
`--ip-forward=false` so it changes no sysctl); its containers use `network_mode="host"`.

containerd: dockerd would use /run/containerd/containerd.sock when a system containerd listens there, and so
share it with every other engine on the machine. Here each engine has its own containerd process
(`containerd.sock`, root and state in the engine's directory, started before dockerd and passed with
`--containerd`), and dockerd's containerd namespaces are named after the engine, so no engine sees another's
containers or images. The two engines share no storage either: an image gets into one with `engine.load(ref)`
(`docker save` from the machine's engine, `docker load` into this one) or `engine.pull(ref)` (from the
registry on 127.0.0.1:5000).

Teardown (always, also when a start or the test failed, in this order): remove the engine's containers through
its API; SIGTERM dockerd (SIGKILL after a deadline); SIGKILL what still runs in the cgroups of the containers
its data root knows; stop its containerd and the shims of that containerd; lazily unmount whatever is mounted
below the engine's directory; remove the directory. Only processes this module started (by pid), or that
name this engine's own containerd socket, are signalled.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowyard_testkit.platform import wait_until

START_SECONDS = 60
STOP_SECONDS = 30
DOCKERD_FLAGS = ("--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false", "--ip6tables=false")
CONTAINERD_CONFIG = """\
version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{socket}"

[ttrpc]
  address = ""

[debug]
  address = "{debug}"
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
"""


class DockerEngine:
    """One dockerd with its own containerd, data root, exec root, pid file and unix socket (see the module doc)."""

    def __init__(self, name: str, base: Path) -> None:
        self.name = name
        self.base = base
        self.data_root = base / "data"
        self.exec_root = base / "exec"
        self.pidfile = base / "dockerd.pid"
        self.socket = base / "docker.sock"
        self.containerd_socket = base / "containerd.sock"
        self.log_path = base / "dockerd.log"
        self.containerd_log_path = base / "containerd.log"
        self.namespace = f"flowyard-test-{uuid.uuid4().hex[:12]}"  # containerd: alphanumeric runs joined by one . _ or -
        self.dockerd: subprocess.Popen | None = None
        self.containerd: subprocess.Popen | None = None
        self._client = None

    @property
    def base_url(self) -> str:
        """The engine's address, as a Docker runtime target's `hosts[].base_url` or `docker -H` takes it."""
        return f"unix://{self.socket}"

    @property
    def target_settings(self) -> dict:
        """Settings of a Docker runtime target that runs on this engine only."""
        return {"hosts": [{"base_url": self.base_url}], "network_mode": "host"}

    # -- processes ----------------------------------------------------------------------------------------

    def start(self) -> "DockerEngine":
        """Start containerd (unless it runs) and dockerd; return once the engine answers /_ping."""
        if self.containerd is None or self.containerd.poll() is not None:
            self._start_containerd()
        if self.dockerd is not None and self.dockerd.poll() is None:
            return self
        (self.base / "daemon.json").write_text("{}\n")
        command = [
            "dockerd", "--data-root", str(self.data_root), "--exec-root", str(self.exec_root),
            "--pidfile", str(self.pidfile), "-H", self.base_url, "--config-file", str(self.base / "daemon.json"),
            "--containerd", str(self.containerd_socket), "--containerd-namespace", self.namespace,
            "--containerd-plugins-namespace", f"{self.namespace}-plugins", "--storage-driver", "overlay2",
            *DOCKERD_FLAGS,
        ]
        with open(self.log_path, "ab") as log:
            self.dockerd = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self._wait_up(self.dockerd, self.log_path, "dockerd", self.ping)
        return self

    def _start_containerd(self) -> None:
        config = self.base / "containerd.toml"
        config.write_text(CONTAINERD_CONFIG.format(
            root=self.data_root / "containerd", state=self.base / "containerd-state", socket=self.containerd_socket,
            debug=self.base / "containerd-debug.sock", opt=self.data_root / "containerd-opt"))
        with open(self.containerd_log_path, "ab") as log:
            self.containerd = subprocess.Popen(["containerd", "--config", str(config)], stdin=subprocess.DEVNULL,
                                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_up(self.containerd, self.containerd_log_path, "containerd", self.containerd_socket.exists)

    def _wait_up(self, process: subprocess.Popen, log: Path, what: str, ready) -> None:
        try:
            wait_until(lambda: process.poll() is not None or ready(), timeout=START_SECONDS,
                       what=f"{what} of engine {self.name} to answer")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log_tail(log)}") from None
        if process.poll() is not None:
            raise AssertionError(f"{what} of engine {self.name} exited {process.returncode}\n{self.log_tail(log)}")

    def ping(self) -> bool:
        """True when dockerd answers on its socket."""
        import docker

        try:
            client = docker.DockerClient(base_url=self.base_url, timeout=5, version="auto")
        except Exception:  # noqa: BLE001 - whatever the failure, the engine does not answer yet
            return False
        try:
            return bool(client.ping())
        except Exception:  # noqa: BLE001
            return False
        finally:
            client.close()

    @property
    def pid(self) -> int | None:
        """dockerd's pid while it runs."""
        return self.dockerd.pid if self.dockerd is not None and self.dockerd.poll() is None else None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_SECONDS) -> None:
        """Send dockerd `sig` (SIGTERM: it stops its containers on the way down) and wait until it has exited.

        SIGKILL follows at the deadline; containerd keeps running, so `start()` brings the same engine back (and
        `client()` reconnects to it)."""
        if self.dockerd is None or self.dockerd.poll() is not None:
            return
        self.dockerd.send_signal(sig)
        try:
            self.dockerd.wait(timeout)
        except subprocess.TimeoutExpired:
            self.dockerd.kill()
            self.dockerd.wait(10)

    def kill(self) -> None:
        """SIGKILL dockerd: no shutdown, its containers keep running under containerd."""
        self.stop(signal.SIGKILL)

    # -- use ----------------------------------------------------------------------------------------------

    def client(self):
        """A docker SDK client for this engine (one, reused; it reconnects after a restart)."""
        import docker

        if self._client is None:
            self._client = docker.DockerClient(base_url=self.base_url, timeout=300, version="auto")
        return self._client

    def _close_client(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None

    def load(self, *images: str, timeout: float = 600) -> None:
        """Copy `images` from the machine's engine into this one (`docker save | docker -H … load`)."""
        save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            load = subprocess.run(["docker", "-H", self.base_url, "load", "-q"], stdin=save.stdout,
                                  capture_output=True, text=True, timeout=timeout)
        finally:
            save.stdout.close()
            saved = save.wait(timeout)
        assert saved == 0, f"docker save {' '.join(images)} failed: {save.stderr.read().decode(errors='replace')}"
        assert load.returncode == 0, f"docker load into engine {self.name} failed: {load.stderr}"

    def pull(self, reference: str) -> None:
        """Pull `reference` (e.g. `127.0.0.1:5000/repo@sha256:…`) from the test registry into this engine."""
        repository, separator, digest = reference.partition("@")
        if separator:
            self.client().images.pull(repository, tag=digest)
        else:
            self.client().images.pull(reference)

    def log_tail(self, path: Path | None = None, lines: int = 30) -> str:
        """The last lines of dockerd's log (or of `path`)."""
        path = path or self.log_path
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- teardown -----------------------------------------------------------------------------------------

    def destroy(self) -> None:
        """Stop everything of this engine and remove its directory (see the module doc); safe to call twice."""
        if self.dockerd is not None and self.dockerd.poll() is None:
            with contextlib.suppress(Exception):
                for container in self.client().containers.list(all=True, ignore_removed=True):
                    with contextlib.suppress(Exception):
                        container.remove(force=True)
        self.stop()
        self._close_client()
        self._kill_container_processes()
        self._stop_containerd()
        self._unmount_all()
        shutil.rmtree(self.base, ignore_errors=True)

    def _container_ids(self) -> list[str]:
        try:
            return [entry.name for entry in (self.data_root / "containers").iterdir() if len(entry.name) == 64]
        except OSError:
            return []

    def _kill_container_processes(self) -> None:
        """SIGKILL any process left in the cgroup of a container of this engine (after a dockerd that hung)."""
        for container_id in self._container_ids():
            cgroups = Path("/sys/fs/cgroup")
            for procs in [*cgroups.glob(f"*/docker/{container_id}/cgroup.procs"),  # cgroup v1, cgroupfs driver
                          *cgroups.glob(f"docker/{container_id}/cgroup.procs"),  # cgroup v2, cgroupfs driver
                          *cgroups.glob(f"*/system.slice/docker-{container_id}.scope/cgroup.procs"),  # systemd
                          *cgroups.glob(f"system.slice/docker-{container_id}.scope/cgroup.procs")]:
                with contextlib.suppress(OSError):
                    for pid in procs.read_text().split():
                        with contextlib.suppress(ProcessLookupError, ValueError):
                            os.kill(int(pid), signal.SIGKILL)

    def _stop_containerd(self) -> None:
        if self.containerd is not None and self.containerd.poll() is None:
            self.containerd.terminate()
            try:
                self.containerd.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.containerd.kill()
                self.containerd.wait(10)
        # Shims of this engine's containerd (they name its socket) outlive it when a container was left.
        marker = str(self.containerd_socket).encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if marker in (proc / "cmdline").read_bytes():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(proc.name), signal.SIGKILL)

    def _unmount_all(self) -> None:
        """Lazily unmount everything mounted below the engine's directory, deepest first."""
        prefix = f"{self.base}/"
        mounts = []
        with contextlib.suppress(OSError):
            for line in Path("/proc/self/mountinfo").read_text().splitlines():
                point = line.split()[4].encode().decode("unicode_escape")  # octal escapes such as \040
                if point.startswith(prefix) or point == str(self.base):
                    mounts.append(point)
        for point in sorted(set(mounts), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)


def new_engine(name: str) -> DockerEngine:
    """An engine object with a fresh directory (/tmp/fyd-NAME-XXXX); not started."""
    if shutil.which("dockerd") is None or shutil.which("containerd") is None:
        pytest.fail("dockerd and containerd are needed: run `scripts/provision` as root first", pytrace=False)
    base = Path(tempfile.mkdtemp(prefix=f"fyd-{name}-{uuid.uuid4().hex[:4]}-", dir="/tmp"))
    return DockerEngine(name, base)


@contextlib.contextmanager
def docker_engines(*names: str) -> Iterator[list[DockerEngine]]:
    """Start one independent engine per name (`with docker_engines("a", "b") as (a, b)`); all torn down after,
    also when one of them failed to start or the body raised."""
    with contextlib.ExitStack() as stack:
        engines = []
        for name in names or ("engine",):
            engine = new_engine(name)
            stack.callback(engine.destroy)
            engines.append(engine)
        for engine in engines:
            engine.start()
        yield engines


@pytest.fixture(scope="module")
def own_docker_engine() -> Iterator[DockerEngine]:
    """A Docker engine of the module's own, shared by its tests (a test that stops it starts it again)."""
    with docker_engines("own") as (engine,):
        yield engine
