"""The runner: `python -m flowyard run` executes a flow or a command and reports what happens.

Environment variables it reads:

- FLOWYARD_ENTRYPOINT: `module:function` (or `path/file.py:function`), or a JSON list for a command;
  otherwise flowyard.json's "entrypoint" (FLOWYARD_ENVIRONMENT's override first), else workflow.py's one flow.
- FLOWYARD_PARAMETERS: a JSON object of parameters (then --params-json, then each --param key=value).
- FLOWYARD_API_URL, FLOWYARD_RUN_ID, FLOWYARD_RUN_TOKEN: all three set → report to the control plane.
- FLOWYARD_HEARTBEAT_SECONDS (10), FLOWYARD_FLUSH_TIMEOUT_SECONDS (30): reporting timing.
- FLOWYARD_CONSOLE (1): 0 stops printing state and log lines on stdout.
- FLOWYARD_CANCEL_GRACE_SECONDS (5): how long a command gets after SIGTERM before SIGKILL.
- FLOWYARD_MAX_WORKERS, FLOWYARD_CACHE_DIR, FLOWYARD_LOG_LEVEL: the SDK's thread pool, cache and log level.

Exit codes: 0 succeeded, 1 failed, 130 cancelled by SIGINT, 143 cancelled by SIGTERM or the control plane.
"""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130  # SIGINT
EXIT_TERMINATED = 143  # SIGTERM or a cancel request from the control plane
