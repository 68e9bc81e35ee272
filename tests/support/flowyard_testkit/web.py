"""The control plane's web process as a subprocess of the test: `flowyard-admin serve` (Django's server) or gunicorn
as the control plane image runs it; started when /healthz answers, stopped with SIGTERM (SIGKILL if it lingers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from flowyard_testkit.platform import wait_until

BIN = Path(sys.executable).parent


class WebProcess:
    """One web process on 127.0.0.1:`port` with `env` (the database and settings), its output in `log_path`."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        with open(log_path, "ab") as output:  # the child keeps its own descriptor
            self.process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        wait_until(self.answers, timeout=60, what=f"the web process on {self.base}")

    @classmethod
    def serve(cls, env: dict[str, str], log_path: Path, port: int) -> WebProcess:
        """`flowyard-admin serve --no-migrate`: what `make demo` and a development install run."""
        return cls([str(BIN / "flowyard-admin"), "serve", "--no-migrate", f"127.0.0.1:{port}"], env, log_path, port)

    @classmethod
    def gunicorn(cls, env: dict[str, str], log_path: Path, port: int, *, processes: int = 2,
                 threads: int = 4) -> WebProcess:
        """gunicorn with the control plane image's defaults (FLOWYARD_WEB_WORKERS 2, FLOWYARD_WEB_THREADS 4)."""
        return cls([str(BIN / "gunicorn"), "controlplane.wsgi:application", "--bind", f"127.0.0.1:{port}",
                    "--workers", str(processes), "--threads", str(threads), "--error-logfile", "-"],
                   env, log_path, port)

    @property
    def pid(self) -> int:
        """The process id (gunicorn's master: its workers are its children)."""
        return self.process.pid

    def answers(self) -> bool:
        """True when /healthz answers 200; fails with the log when the process has exited."""
        assert self.process.poll() is None, f"the web process exited:\n{self.log_path.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"{self.base}/healthz", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the process group (requests in flight finish), SIGKILL it if it lingers."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
