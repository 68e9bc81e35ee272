"""The Flowyard workflow SDK: `from flowyard import flow, task, get_logger`."""

from flowyard.cancellation import Cancellation
from flowyard.errors import (
    EntrypointError,
    FlowCancelled,
    FlowFailed,
    FlowyardError,
    ParameterError,
    TaskExited,
    TaskTimeout,
    UpstreamFailed,
)
from flowyard.events import ConsoleSink, EventSink, RecordingSink
from flowyard.flows import Flow, FlowRun, flow
from flowyard.futures import TaskFuture
from flowyard.log_capture import get_logger
from flowyard.run_context import RunContext, run_context
from flowyard.states import RunReason, RunState, TaskState
from flowyard.tasks import Task, exponential_backoff, task, unmapped

__version__ = "0.1.0"

__all__ = [
    "Cancellation",
    "ConsoleSink",
    "EntrypointError",
    "EventSink",
    "Flow",
    "FlowCancelled",
    "FlowFailed",
    "FlowRun",
    "FlowyardError",
    "ParameterError",
    "RecordingSink",
    "RunContext",
    "RunReason",
    "RunState",
    "Task",
    "TaskExited",
    "TaskFuture",
    "TaskState",
    "TaskTimeout",
    "UpstreamFailed",
    "__version__",
    "exponential_backoff",
    "flow",
    "get_logger",
    "run_context",
    "task",
    "unmapped",
]
