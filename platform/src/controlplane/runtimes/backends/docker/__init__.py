"""The `docker` runtime backend: runs as containers on one or more Docker Engine hosts (docker SDK).

- `config`: the target's settings, validated (unknown keys and anything that would mount are refused), and
  the connection to each host (local socket or TCP with TLS);
- `mapping`: what a run's container is created with, and how Docker's answers become `RuntimeStatus` and
  `LogLine` values;
- `hosts`: a client per host, and engine errors turned into `TargetUnavailable` / `LaunchFailed`;
- `placement`: which host a new container goes to;
- `usage`, `cgroups`: a running container's memory and CPU, watched until it exits (kernel figures when local);
- `backend`: `DockerBackend`, the `RuntimeBackend` implementation.
"""

from controlplane.runtimes.backends.docker.backend import DockerBackend
from controlplane.runtimes.backends.docker.config import DockerSettings, HostSettings

__all__ = ["DockerBackend", "DockerSettings", "HostSettings"]
