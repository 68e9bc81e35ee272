"""The supervisor of one local run: a standalone, standard-library-only program (it never imports Django).

`LocalBackend.launch` starts this file by path, `python -I .../local/supervisor.py RUN_DIR`, in a new session
(`python -m controlplane.runtimes.backends.local.supervisor RUN_DIR` works as well) and writes its
configuration (argv, environment with secrets, limits) as JSON on its stdin, so secret values never touch the
disk or a command line. What it does is described in the package docstring (`local/__init__.py`). Run by path
under `-I` it cannot import its package (whose parent loads Celery), so it imports nothing but the standard
library, and the run-directory names and file helpers the backend shares with it live here.
"""

from __future__ import annotations

import datetime
import json
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time
import traceback
from typing import Any

SUPERVISOR_PID = "supervisor.pid"
SUPERVISOR_LOG = "supervisor.log"
SUPERVISOR_ERROR = "supervisor_error"
CHILD_PID = "pid"
CHILD_START = "pid.start"
STARTED_AT = "started_at"
FINISHED_AT = "finished_at"
EXIT_CODE = "exit_code"
USAGE = "usage.json"
SPEC = "spec.json"
STDOUT = "stdout.log"
STDERR = "stderr.log"
TERMINATE = "terminate"
WORKDIR = "workdir"
HOME = "home"
CACHE = "cache"
TMP = "tmp"

MARKER_VARIABLE = "FLOWYARD_CACHE_DIR"  # its value (inside the run dir) marks every process of the run
TIMESTAMP_WIDTH = len("2000-01-01T00:00:00.000000+00:00")
MAX_LINE_BYTES = 64 * 1024  # a longer line (or a partial line that never ends) is stored in pieces
DRAIN_SECONDS = 2.0  # how long output is still read after the workload exited
POLL_SECONDS = 0.25
IGNORED_IN_COPY = (".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")
PR_SET_PDEATHSIG = 1


# -- helpers shared with the backend --------------------------------------------------------------------

def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds (fixed width)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def write_atomic(path: str, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file, no file, or the whole new one."""
    temporary = f"{path}.tmp.{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


def read_text(path: str) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def read_int(path: str) -> int | None:
    """The integer a file holds, or None when it does not exist (or holds no integer)."""
    text = read_text(path)
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def proc_stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on; None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text[text.rfind(")") + 2:].split()


def process_start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks after boot), None when it is gone or a zombie."""
    fields = proc_stat_fields(pid)
    if not fields or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def marked_processes(cache_dir: str) -> list[int]:
    """Every process (but this one) whose initial environment has FLOWYARD_CACHE_DIR=`cache_dir`."""
    needle = f"{MARKER_VARIABLE}={cache_dir}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:  # gone, or another user's process
            continue
    return found


def kill_run_processes(run_dir: str, group: int | None) -> None:
    """SIGKILL the workload's process group (`group`, when known) and every process marked as the run's."""
    if group is not None:
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in marked_processes(os.path.join(run_dir, CACHE)):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def read_request(run_dir: str) -> dict[str, Any] | None:
    """The pending terminate request {"deadline": epoch seconds, "grace": seconds}, or None."""
    text = read_text(os.path.join(run_dir, TERMINATE))
    if not text:
        return None
    try:
        request = json.loads(text)
        return {"deadline": float(request["deadline"]), "grace": float(request["grace"])}
    except (ValueError, KeyError, TypeError):
        return None


# -- the supervisor ---------------------------------------------------------------------------------------

def _prctl():
    """libc's prctl (Linux), looked up before forking: nothing may be imported in the child before exec."""
    try:
        import ctypes  # here, not at the top: the supervisor starts with the standard library's bare minimum

        return ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None


class Supervisor:
    """Runs one workload to its end and leaves the facts in the run directory."""

    def __init__(self, run_dir: str, config: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None
        self.term_sent = False
        self.kill_message = ""
        self.buffers = {"stdout": bytearray(), "stderr": bytearray()}
        self.files: dict[str, int] = {}
        self.last_stamp = ""

    def path(self, name: str) -> str:
        """The path of `name` in the run directory."""
        return os.path.join(self.run_dir, name)

    # -- start ------------------------------------------------------------------------------------------

    def prepare(self) -> str | None:
        """Create home, cache, tmp and the workdir copy; a problem message, or None."""
        for name in (HOME, CACHE, TMP):
            os.makedirs(self.path(name), exist_ok=True)
        source = self.config["source"]
        if not os.path.isdir(source):
            return f"the source directory {source} does not exist"
        state_dir = os.path.realpath(os.path.dirname(self.run_dir))

        def ignore(directory: str, names: list[str]) -> list[str]:
            return [name for name in names if name in IGNORED_IN_COPY
                    or os.path.realpath(os.path.join(directory, name)) == state_dir]

        try:
            shutil.copytree(source, self.path(WORKDIR), symlinks=True, ignore=ignore, dirs_exist_ok=True)
        except (OSError, shutil.Error) as error:
            return f"cannot copy the source directory {source}: {error}"
        return None

    def start(self) -> tuple[int, str] | None:
        """Start the workload; (exit code, problem) and no process when it cannot be started."""
        argv = list(self.config["argv"])
        memory = int(self.config.get("memory_bytes") or 0)
        prctl = _prctl()
        parent = os.getpid()

        def in_child() -> None:  # between fork and exec: no imports, no locks
            if memory > 0:
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            if prctl is not None:
                prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
                if os.getppid() != parent:  # the supervisor died before the line above
                    os._exit(137)

        try:
            self.process = subprocess.Popen(
                argv, cwd=self.path(WORKDIR), env=dict(self.config["env"]), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True, process_group=0,
                preexec_fn=in_child,
            )
        except OSError as error:  # 127 and 126 as a shell (and Docker) says them
            code = 127 if isinstance(error, FileNotFoundError) else 126
            return code, f"cannot start {argv[0]!r}: {error.strerror or error}"
        start = process_start_ticks(self.process.pid)
        write_atomic(self.path(CHILD_START), str(start if start is not None else -1))
        write_atomic(self.path(CHILD_PID), str(self.process.pid))
        write_atomic(self.path(STARTED_AT), now_iso())
        return None

    # -- output -----------------------------------------------------------------------------------------

    def stamp(self) -> str:
        """Now, never earlier than the previous stamp (so the merged streams stay in reading order)."""
        self.last_stamp = max(self.last_stamp, now_iso())
        return self.last_stamp

    def emit(self, stream: str, lines: list[bytes]) -> None:
        """Append whole lines to the stream's log file, each prefixed by one stamp."""
        if not lines:
            return
        stamp = self.stamp().encode()
        out = bytearray()
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            text = line.decode("utf-8", "replace").encode("utf-8")
            out += stamp + b" " + text + b"\n"
        view = memoryview(out)
        while view:
            written = os.write(self.files[stream], view)
            view = view[written:]

    def take(self, stream: str, data: bytes, *, final: bool = False) -> None:
        """Add output read from `stream`; emit every complete line (and the rest when `final`)."""
        buffer = self.buffers[stream]
        buffer += data
        lines = []
        while True:
            newline = buffer.find(b"\n")
            if newline == -1 or newline > MAX_LINE_BYTES:
                if len(buffer) >= MAX_LINE_BYTES:
                    lines.append(bytes(buffer[:MAX_LINE_BYTES]))
                    del buffer[:MAX_LINE_BYTES]
                    continue
                break
            lines.append(bytes(buffer[:newline]))
            del buffer[:newline + 1]
        if final and buffer:
            lines.append(bytes(buffer))
            buffer.clear()
        self.emit(stream, lines)

    # -- signals ----------------------------------------------------------------------------------------

    def signal_group(self, signum: int) -> None:
        """Send `signum` to the workload's process group (a gone group is fine)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    @staticmethod
    def kill_reason(request: dict[str, Any]) -> str:
        """The run's message when the stop request ended in SIGKILL."""
        if request["grace"] > 0:
            return f"still running {request['grace']:g} s after SIGTERM: killed with SIGKILL"
        return "killed with SIGKILL"

    def obey_request(self) -> float:
        """Act on the terminate request file; the seconds until it next needs looking at."""
        request = read_request(self.run_dir)
        if request is None:
            return POLL_SECONDS
        remaining = request["deadline"] - time.time()
        if remaining > 0 and not self.term_sent:
            self.term_sent = True
            self.signal_group(signal.SIGTERM)
        if remaining <= 0 and not self.kill_message:
            self.kill_message = self.kill_reason(request)
            kill_run_processes(self.run_dir, self.process.pid if self.process else None)
        return max(0.0, min(POLL_SECONDS, remaining)) if remaining > 0 else POLL_SECONDS

    # -- the whole run ----------------------------------------------------------------------------------

    def finish(self, exit_code: int, *, message: str = "", image_error: bool = False,
               rusage: resource.struct_rusage | None = None, finished_at: str | None = None) -> None:
        """Write usage.json, finished_at and, last, exit_code: from here on the run is over."""
        usage: dict[str, Any] = {"message": message, "image_error": image_error,
                                 "peak_memory_bytes": None, "cpu_seconds": None}
        if rusage is not None:
            usage["peak_memory_bytes"] = int(rusage.ru_maxrss) * 1024  # Linux reports KiB
            usage["cpu_seconds"] = round(rusage.ru_utime + rusage.ru_stime, 6)
        write_atomic(self.path(USAGE), json.dumps(usage))
        write_atomic(self.path(FINISHED_AT), finished_at or now_iso())
        write_atomic(self.path(EXIT_CODE), str(exit_code))

    def run(self) -> None:
        """Prepare, start, watch and record the workload."""
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        for signum in (signal.SIGCHLD, signal.SIGUSR1):
            signal.signal(signum, lambda *_: None)
        # Someone signalling the supervisor itself (a service manager stopping it) stops the workload.
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda signum, _frame: self.signal_group(signum))

        problem = self.prepare()
        if problem is not None:
            self.finish(127, message=problem, image_error=True)
            return
        if read_request(self.run_dir) is not None:
            self.finish(143, message="terminated before it started")
            return
        failure = self.start()
        if failure is not None:
            self.finish(failure[0], message=failure[1], image_error=True)
            return
        assert self.process is not None and self.process.stdout and self.process.stderr
        for stream in ("stdout", "stderr"):
            self.files[stream] = os.open(self.path(f"{stream}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout.fileno(), selectors.EVENT_READ, "stdout")
        selector.register(self.process.stderr.fileno(), selectors.EVENT_READ, "stderr")
        selector.register(wake_read, selectors.EVENT_READ, None)
        status: int | None = None
        rusage = None
        finished_at = None
        exited = 0.0
        open_streams = 2
        while True:
            timeout = self.obey_request() if status is None else POLL_SECONDS
            for key, _ in selector.select(timeout):
                if key.data is None:
                    try:
                        os.read(wake_read, 4096)
                    except BlockingIOError:
                        pass
                    continue
                data = os.read(key.fd, 65536)
                if data:
                    self.take(key.data, data)
                else:
                    selector.unregister(key.fd)
                    open_streams -= 1
                    self.take(key.data, b"", final=True)
            if status is None:
                pid, status_, rusage_ = os.wait4(self.process.pid, os.WNOHANG)
                if pid:
                    status, rusage, finished_at, exited = status_, rusage_, now_iso(), time.monotonic()
                    self.process.returncode = os.waitstatus_to_exitcode(status)  # for Popen's bookkeeping
                    kill_run_processes(self.run_dir, self.process.pid)  # what it left behind goes with it
            if status is not None and (open_streams == 0 or time.monotonic() - exited > DRAIN_SECONDS):
                break
        for stream in ("stdout", "stderr"):
            self.take(stream, b"", final=True)
            os.close(self.files[stream])
        code = os.waitstatus_to_exitcode(status)
        message = self.kill_message
        request = read_request(self.run_dir)
        if not message and code == -signal.SIGKILL and request is not None and request["deadline"] <= time.time():
            message = self.kill_reason(request)  # the backend's own SIGKILL (kill()) came before our look
        if code < 0:
            code = 128 - code
            if not message:
                message = f"ended by {signal.Signals(code - 128).name}"
        self.finish(code, message=message, rusage=rusage, finished_at=finished_at)


def main(argv: list[str]) -> int:
    """`supervisor.py RUN_DIR` with the JSON configuration on stdin."""
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print("usage: supervisor.py RUN_DIR  (configuration as JSON on stdin)", file=sys.stderr)
        return 2
    run_dir = os.path.abspath(argv[1])
    config = json.loads(sys.stdin.buffer.read())
    pid = os.fork()
    if pid:
        try:
            write_atomic(os.path.join(run_dir, SUPERVISOR_PID), str(pid))
        except BaseException:
            os.kill(pid, signal.SIGKILL)
            raise
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    supervisor = Supervisor(run_dir, config)
    try:
        supervisor.run()
    except BaseException:  # noqa: BLE001 - leave the reason where inspect finds it, and no workload behind
        problem = traceback.format_exc()
        sys.stderr.write(problem)
        try:
            kill_run_processes(run_dir, supervisor.process.pid if supervisor.process else None)
            write_atomic(os.path.join(run_dir, SUPERVISOR_ERROR), problem.strip().splitlines()[-1])
        finally:
            os._exit(70)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
