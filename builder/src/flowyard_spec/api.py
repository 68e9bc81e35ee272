"""Payloads exchanged between the runner in a workflow container and the control plane (stdlib only).

The runner POSTs batches to `POST {FLOWYARD_API_URL}/api/v1/runner/runs/{FLOWYARD_RUN_ID}/events/` with
`Authorization: Bearer {FLOWYARD_RUN_TOKEN}`. A batch is applied in one transaction, so it is either all
stored or not at all; sending the same batch again is harmless:
- log lines carry a per-run sequence number `seq` (1, 2, 3, … with no gap) assigned by the runner, and a
  line whose `seq` is already stored is ignored, so a retried batch never duplicates a line;
- task events are upserts keyed by `task_key`;
- run events go through the control plane's lifecycle rules; a repeated terminal event is accepted once.
"""

from datetime import datetime
from typing import Any, Literal

try:  # pydantic validates TypedDicts from typing_extensions on Python < 3.12; the SDK image has only the stdlib
    from typing_extensions import NotRequired, TypedDict
except ImportError:  # pragma: no cover - exercised inside workflow images
    from typing import NotRequired, TypedDict

RUNNER_EVENTS_PATH = "/api/v1/runner/runs/{run_id}/events/"
# The `code` of a 401 to a run token: the run has ended (its token died with it), or the control plane does not know
# the token (yet: the launch that made it commits only after the container started, so a quick runner may report
# first; or no longer: a relaunch replaced it).
RUN_ENDED_CODE = "run_ended"
RUN_TOKEN_UNKNOWN_CODE = "run_token_unknown"
MAX_EVENTS_PER_BATCH = 1000
# Where a run shares cached task results with its environment's other runs: FLOWYARD_RESULT_DIR (a directory, the
# environment's volume on Docker hosts), or FLOWYARD_RESULT_STORE=signed-urls (an object store such as S3, read and
# written through short-lived URLs the control plane signs: the runner needs no credentials of its own).
RESULT_STORE_VARIABLE = "FLOWYARD_RESULT_STORE"
SIGNED_URLS = "signed-urls"
MAX_CACHE_RECORDS_PER_BATCH = 1000  # records of stored results per POST …/cache/batch/
MAX_TASK_NAME_LENGTH = 200  # a cache record's task name is cut to this (the runner's index is keyed the same way)
# At most this many upstream task keys per task run: a task run given more futures (a fan-in over a huge map)
# reports the first MAX_UPSTREAM_KEYS of its sorted keys, and the control plane keeps no more than that.
MAX_UPSTREAM_KEYS = 1000

# A parameter whose value is exactly one of these becomes the run's logical time (its schedule tick, or when it
# was triggered): filled by the control plane when it creates a run, and by the runner for a local run.
TIME_TEMPLATES = {
    "{{ scheduled_time }}": lambda moment: moment.isoformat(),
    "{{ scheduled_date }}": lambda moment: moment.date().isoformat(),
}


def result_location(key: str) -> str:
    """Where the cached result of `key` lies inside a result store (a directory or an object store's prefix)."""
    return f"{key[:2]}/{key}.pickle"


def fill_time_templates(parameters: dict[str, Any], moment: datetime) -> dict[str, Any]:
    """`parameters` with every "{{ scheduled_time }}"/"{{ scheduled_date }}" value replaced by `moment`."""
    return {name: TIME_TEMPLATES[value](moment) if isinstance(value, str) and value in TIME_TEMPLATES else value
            for name, value in parameters.items()}


class RunEvent(TypedDict):
    """The run changed state: RUNNING when user code starts, then a terminal state."""

    type: Literal["run"]
    state: Literal["RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
    at: str  # ISO 8601 with timezone
    reason: NotRequired[str]  # a RunReason value when FAILED/CANCELLED, e.g. "user_error"
    message: NotRequired[str]


class TaskEvent(TypedDict):
    """A task changed state (PENDING, RUNNING, RETRYING, SUCCEEDED, FAILED, CACHED, UPSTREAM_FAILED, CANCELLED)."""

    type: Literal["task"]
    task_key: str  # unique within the run, e.g. "extract-0" or "transform-3"
    name: str
    state: str
    at: str
    attempt: NotRequired[int]
    map_index: NotRequired[int | None]
    tags: NotRequired[list[str]]
    error: NotRequired[str]
    # The task keys of the task runs this one was given (futures, results of earlier task runs): sorted, without
    # duplicates, at most MAX_UPSTREAM_KEYS. Sent with a task run's first event only; absent means [] (older
    # runners), and a later event without it leaves what was stored.
    upstream: NotRequired[list[str]]


class LogEvent(TypedDict):
    """One log line; `seq` numbers a run's lines from 1 with no gap."""

    type: Literal["log"]
    seq: int
    at: str
    message: str
    stream: NotRequired[Literal["sdk", "stdout", "stderr", "system"]]
    level: NotRequired[str]
    task_key: NotRequired[str]


class HeartbeatEvent(TypedDict):
    """The runner is alive."""

    type: Literal["heartbeat"]
    at: str


RunnerEvent = RunEvent | TaskEvent | LogEvent | HeartbeatEvent


class EventBatch(TypedDict):
    """What the runner POSTs."""

    events: list[RunnerEvent]


class EventBatchReply(TypedDict):
    """What the control plane answers: the run's state, whether to cancel, and the last stored log line."""

    run_state: str
    cancel_requested: bool
    last_log_seq: int
