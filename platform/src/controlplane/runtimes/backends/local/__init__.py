"""The `local` runtime: each run is a process on the control plane's own machine (embedded demo, development).

`spec.image` is not a container image here but the workflow's source directory, `file:///abs/path` or
`/abs/path`. Each run gets `<state_dir>/<run_id>/`, which is the whole truth about it (no database, no
memory: a new `LocalBackend` on the same state dir — a restarted control plane — sees everything):

    spec.json        the launch spec, secret values (and FLOWYARD_RUN_TOKEN) replaced by "***"; its labels
                     carry the installation id, and `list_workloads` lists only this installation's runs
    supervisor.pid   the supervisor's pid: the workload's reference        supervisor.log  its own errors
    workdir/         a copy of the source directory, the workload's cwd   home/ cache/ tmp/  HOME etc.
    pid, pid.start   the workload's pid and start time (clock ticks)      started_at, finished_at
    stdout.log       `<ISO-8601 UTC time> <line>` per line, the time the supervisor read it; stderr.log alike
    terminate        a stop request: {"deadline", "grace"}                 usage.json  peak memory, CPU, message
    exit_code        written last: present ⇔ the run is over

The run directory is created with `os.mkdir`, which is the launch lock: of two concurrent launches of a run
exactly one creates it and starts a supervisor (`supervisor`), the other returns its reference.
The supervisor runs in a new session, so stopping or restarting the control plane does not stop runs.

The supervisor (`supervisor.py`, a standard-library-only program started by path) forks once: the first
process writes the second one's pid to `supervisor.pid` and exits, and the second one
1. copies the source directory into `workdir` (the run's own snapshot, like an image layer);
2. starts the workload in its own process group with cwd `workdir`, the given environment, RLIMIT_AS and
   PR_SET_PDEATHSIG(SIGKILL), and writes `pid`, `pid.start` and `started_at`;
3. copies its stdout and stderr line by line into the stamped log files;
4. obeys the `terminate` request (SIGTERM at once, SIGKILL at its deadline), woken by SIGUSR1;
5. when the workload exits, kills what it left behind (its process group and every process whose initial
   environment carries this run's FLOWYARD_CACHE_DIR), then writes `usage.json`, `finished_at` and last
   `exit_code` (128 + signal number for a signal), each atomically.

Stopping: `terminate` writes the `terminate` request (its deadline never moves later) and wakes the
supervisor with SIGUSR1; the supervisor sends SIGTERM to the workload's process group at once and SIGKILL at
the deadline, so the call returns immediately and exactly one SIGTERM is sent however often it is repeated.
`kill` also SIGKILLs directly. If the supervisor is gone, the backend kills what is left itself.

Logs: the supervisor reads the workload's stdout and stderr through pipes and stamps each line with the time
it read it, so `logs()` can merge both streams in order with real times (a timestamp-less file would only give
the order within one stream). The price: a line is stamped when it is read, not when it was written, and a
supervisor that dies takes the workload with it (PR_SET_PDEATHSIG), which is what we want anyway: a workload
nobody watches must not run on unseen.

Limits and what this runtime cannot do (it has no cgroups):

- memory: `RLIMIT_AS` = `memory_mib`. That caps address space, not resident memory, so it is stricter than a
  container's limit for programs that reserve much more than they touch; the workload gets
  `MALLOC_ARENA_MAX=2` so that glibc's per-thread arenas do not eat the budget. Going over makes allocations
  fail: Python raises MemoryError and the run fails as a user error (exit 1).
- `oom_killed` is always False: without a cgroup there is no OOM flag, and a local process cannot tell a
  kernel OOM kill from any other SIGKILL, so a SIGKILL is reported as exit 137, never as OOM.
- pids: `RLIMIT_NPROC` is not set. It counts every process of the user (the control plane, workers and all
  other runs included), not the run's, and it is not enforced at all for root; so it would either break
  unrelated runs or do nothing. `spec.pids_limit` is recorded in spec.json only.
- cpu: `cpu_units` is not enforced (no cgroup cpu quota); recorded in spec.json only.
- the workload runs as the control plane's user, with the control plane's Python (`settings["python"]`,
  which must have the SDK and the workflow's dependencies installed), not as a non-root container user.
- peak memory and CPU time come from the workload's rusage (`wait4`): they cover the workload process and
  the descendants it waited for.

Modules: `backend` (`LocalBackend`: launch, inspect, list, remove), `supervisor` (the program, and the
run-directory names and file helpers both sides share), `processes` (is a pid this run's supervisor or
workload), `stopping` (stop requests and kills), `logs` (the stamped log files as `LogLine`s).
"""

from controlplane.runtimes.backends.local.backend import VANISHED, LocalBackend

__all__ = ["VANISHED", "LocalBackend"]
