"""Start-up work (controlplane.startup): two first /api/schema/ requests at once both answer 200, and the WSGI
application gunicorn serves does the same start-up work as `flowyard-admin`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from flowyard_testkit.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN = Path(sys.executable).parent / "flowyard-admin"



def wait_for_listener(port: int, server: subprocess.Popen, seconds: float = 60) -> None:
    """Wait until the server accepts TCP connections, without sending it any HTTP request."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited before it listened"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listened on 127.0.0.1:{port} within {seconds} s")


def concurrent_get(url: str, clients: int) -> list[int]:
    """GET `url` from `clients` threads released at the same instant; the status codes."""
    start = threading.Barrier(clients)
    statuses: list[int] = []

    def get() -> None:
        start.wait()
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)

    threads = [threading.Thread(target=get) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_two_first_schema_requests_at_once_both_answer_200(tmp_path):
    """The first requests of a fresh server race for drf-spectacular's lazily resolved extensions unless
    start-up resolved them (a 500 after `ModuleNotFoundError: rest_framework_simplejwt` otherwise)."""
    port = free_port()
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith("FLOWYARD_") and name != "DJANGO_SETTINGS_MODULE"}
    environ.update(FLOWYARD_DATA_DIR=str(tmp_path / "data"), DJANGO_SETTINGS_MODULE="controlplane.settings.development")
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen([str(ADMIN), "serve", f"127.0.0.1:{port}", "--no-migrate"], cwd=REPO_ROOT,
                                  env=environ, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for_listener(port, server)
        statuses = concurrent_get(f"http://127.0.0.1:{port}/api/schema/", clients=2)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert statuses == [200, 200], log.read_text()


def test_the_wsgi_application_does_its_start_up_work_when_it_loads(tmp_path):
    """gunicorn loads controlplane.wsgi, not flowyard-admin: loading it resolves the OpenAPI extensions (the race
    above) and imports the broker's transport, which the first request that sends a task would otherwise import."""
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith("FLOWYARD_") and name != "DJANGO_SETTINGS_MODULE"}
    environ.update(FLOWYARD_DATA_DIR=str(tmp_path / "data"), DJANGO_SETTINGS_MODULE="controlplane.settings.development",
                   FLOWYARD_BROKER_URL="redis://127.0.0.1:6379/0")
    probe = (
        "import sys\n"
        "assert 'kombu.transport.redis' not in sys.modules\n"
        "import controlplane.wsgi\n"
        "from drf_spectacular.plumbing import OpenApiGeneratorExtension\n"
        "from controlplane.startup import subclasses_of\n"
        "lazy = [cls.__name__ for cls in subclasses_of(OpenApiGeneratorExtension) if isinstance(cls.target_class, str)]\n"
        "print('transport imported:', 'kombu.transport.redis' in sys.modules, 'unresolved extensions:', lazy)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=environ, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "transport imported: True unresolved extensions: []"
