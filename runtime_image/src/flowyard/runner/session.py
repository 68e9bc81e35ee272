"""RunnerSession: the sinks, the reporter, signal handling and the run's final event and exit code."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, TextIO

from flowyard import cache
from flowyard.cancellation import Cancellation
from flowyard.errors import FlowCancelled
from flowyard.events import ConsoleSink, EventSink, TeeSink
from flowyard.reporting import Reporter, ReportingSink
from flowyard.result_store import store_from_env
from flowyard.run_context import environ_moment
from flowyard.runner import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED
from flowyard.states import RunReason, RunState

_FALSE = {"0", "false", "no", "off"}


def flush_timeout(environ: Mapping[str, str]) -> float:
    """FLOWYARD_FLUSH_TIMEOUT_SECONDS, default 30."""
    try:
        return max(0.0, float(environ.get("FLOWYARD_FLUSH_TIMEOUT_SECONDS", "") or 30.0))
    except ValueError:
        return 30.0


class RunnerSession:
    """Everything one `python -m flowyard run` shares: where events go, how it is cancelled, how it ends."""

    def __init__(self, environ: Mapping[str, str] | None = None, stdout: TextIO | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.cancellation = Cancellation()
        self.signum: int | None = None
        self.reporter = Reporter.from_env(self.environ, on_cancel_requested=self._cancel_from_api)
        cache.use_store(store_from_env(self.environ))  # cached results shared by the environment's runs
        console = None
        if self.environ.get("FLOWYARD_CONSOLE", "1").strip().lower() not in _FALSE:
            console = ConsoleSink(stdout if stdout is not None else sys.stdout)
        reporting = ReportingSink(self.reporter) if self.reporter is not None else None
        self.sink: EventSink = TeeSink(console, reporting)
        self._previous_handlers: dict[int, Any] = {}
        self._finished = False

    # -- start and signals ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start reporting and take over SIGTERM/SIGINT (the run is reported RUNNING by `begin`)."""
        if self.reporter is not None:
            self.reporter.start()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def begin(self) -> None:
        """Wait for the run's tick if it was started ahead of it (FLOWYARD_NOT_BEFORE), then report RUNNING.

        The scheduler starts a scheduled run's container a few seconds before its tick, so that the image is
        up and the workflow imported when the tick comes; user code starts at the tick, not before.
        """
        deadline = environ_moment(self.environ, "FLOWYARD_NOT_BEFORE")
        if deadline is not None:
            ahead = (deadline - datetime.now(timezone.utc)).total_seconds()
            if ahead > 0:
                self.log(f"ready {ahead:.1f} s ahead of the run's tick; waiting for {deadline.isoformat()}")
            while (remaining := (deadline - datetime.now(timezone.utc)).total_seconds()) > 0:
                time.sleep(min(remaining, 1.0))  # SIGTERM raises FlowCancelled out of the sleep
        self.sink.run_state(RunState.RUNNING)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
        self.cancellation.mark(f"received {signal.Signals(signum).name}")
        if not self.cancellation.shielded:
            raise FlowCancelled(self.cancellation.reason)

    def _cancel_from_api(self) -> None:
        """The control plane asked to cancel (or ended the run): behave as on SIGTERM."""
        self.cancellation.mark("cancel requested by the control plane")
        os.kill(os.getpid(), signal.SIGTERM)

    def log(self, message: str, level: str = "INFO") -> None:
        """A runner line (stream "system")."""
        self.sink.log(message, stream="system", level=level)

    # -- the end --------------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True once the terminal state was reported."""
        return self._finished

    def finish(self, state: RunState, message: str | None = None) -> int:
        """Report the terminal state, flush (with FLOWYARD_FLUSH_TIMEOUT_SECONDS) and return the exit code."""
        self.cancellation.shielded = True
        if self._finished:
            raise RuntimeError("the run already finished")
        self._finished = True
        reason = None
        if state is RunState.FAILED:
            reason = RunReason.USER_ERROR
        elif state is RunState.CANCELLED:
            reason = RunReason.CANCELLED
            message = message or self.cancellation.reason
        unrecorded = cache.flush_store()  # before the end is reported: a run started after it finds every result
        if unrecorded:
            self.log(f"{unrecorded} cached task results could not be recorded at the control plane; later runs "
                     "will compute them again", level="WARNING")
        self.sink.run_state(state, reason=reason, message=message)
        delivered = True
        if self.reporter is not None:
            timeout = flush_timeout(self.environ)
            delivered = self.reporter.close(timeout)
            if not delivered and not self.reporter.stopped:
                sys.__stderr__.write(f"flowyard: {self.reporter.pending} events could not be delivered "
                                     f"within {timeout:g} s\n")
        self.sink.close()
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        if state is RunState.SUCCEEDED:
            return EXIT_OK
        if state is RunState.CANCELLED:
            return EXIT_INTERRUPTED if self.signum == signal.SIGINT else EXIT_TERMINATED
        return EXIT_FAILED
