"""`get_logger()` and print capture: lines inside a flow go to its sink, tagged with their task."""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any, TextIO

from flowyard.context import flow_run_var, task_run_var

ROOT_LOGGER_NAME = "flowyard.user"
MAX_LINE_CHARS = 32_000


def clip(message: str) -> str:
    """The message cut to MAX_LINE_CHARS characters, saying so."""
    return message if len(message) <= MAX_LINE_CHARS else message[:MAX_LINE_CHARS] + " …[truncated]"


class RunLogHandler(logging.Handler):
    """Sends records to the current flow run's sink with the current task's key; to stderr outside a flow."""

    def emit(self, record: logging.LogRecord) -> None:
        """Route one record."""
        try:
            message = record.getMessage()
            if record.exc_info:
                message = f"{message}\n{self.formatter_or_default().formatException(record.exc_info)}"
            flow_run = flow_run_var.get()
            if flow_run is None:
                stream = sys.stderr
                stream = getattr(stream, "original", stream)
                stream.write(f"{record.levelname} {message}\n")
                return
            task_run = task_run_var.get()
            flow_run.sink.log(clip(message), stream="sdk", level=record.levelname,
                              task_key=None if task_run is None else task_run.key)
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001 - logging must never break the flow
            self.handleError(record)

    def formatter_or_default(self) -> logging.Formatter:
        """This handler's formatter, or the default one."""
        return self.formatter or logging.Formatter()


def _configure() -> logging.Logger:
    logger = logging.getLogger(ROOT_LOGGER_NAME)
    if not any(isinstance(handler, RunLogHandler) for handler in logger.handlers):
        logger.addHandler(RunLogHandler())
    level = os.environ.get("FLOWYARD_LOG_LEVEL", "INFO").strip().upper()
    logger.setLevel(level if level in logging.getLevelNamesMapping() else logging.INFO)
    logger.propagate = False
    return logger


_ROOT = _configure()


def get_logger(name: str | None = None) -> logging.Logger:
    """A logger whose lines are captured with the flow run and the task they were written in."""
    return _ROOT if not name else _ROOT.getChild(name)


class CapturingStream:
    """Stands in for sys.stdout/sys.stderr: inside a flow, complete lines become log lines of the run."""

    def __init__(self, original: TextIO, stream_name: str) -> None:
        self.original = original
        self.stream_name = stream_name
        self._partial: dict[int, str] = {}
        self._busy = threading.local()

    def write(self, text: str) -> int:
        """Pass through outside a flow; inside one, emit each complete line (keeping partial ones)."""
        flow_run = flow_run_var.get()
        if flow_run is None or not flow_run.capture_output or getattr(self._busy, "on", False):
            return self.original.write(text)
        ident = threading.get_ident()
        pending = self._partial.pop(ident, "") + text
        if "\n" not in pending:
            if pending:
                self._partial[ident] = pending
            return len(text)
        *lines, rest = pending.split("\n")
        if rest:
            self._partial[ident] = rest
        self._emit(flow_run, lines)
        return len(text)

    def _emit(self, flow_run: Any, lines: list[str]) -> None:
        task_run = task_run_var.get()
        key = None if task_run is None else task_run.key
        self._busy.on = True
        try:
            for line in lines:
                flow_run.sink.log(clip(line.rstrip("\r")), stream=self.stream_name, task_key=key)
        finally:
            self._busy.on = False

    def flush_partial(self) -> None:
        """Emit what this thread wrote without a final newline (at the end of a task or flow)."""
        rest = self._partial.pop(threading.get_ident(), "")
        flow_run = flow_run_var.get()
        if rest and flow_run is not None:
            self._emit(flow_run, [rest])

    def flush(self) -> None:
        """Flush the real stream."""
        try:
            self.original.flush()
        except (OSError, ValueError):
            pass

    def writelines(self, lines: Any) -> None:
        """Write each item."""
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


_install_lock = threading.Lock()
_install_count = 0


def start_capture() -> None:
    """Route sys.stdout and sys.stderr through CapturingStream (counted; nested runs share it)."""
    global _install_count
    with _install_lock:
        _install_count += 1
        if not isinstance(sys.stdout, CapturingStream):
            sys.stdout = CapturingStream(sys.stdout, "stdout")
        if not isinstance(sys.stderr, CapturingStream):
            sys.stderr = CapturingStream(sys.stderr, "stderr")


def stop_capture() -> None:
    """Undo `start_capture` once the last run using it ends."""
    global _install_count
    with _install_lock:
        _install_count = max(0, _install_count - 1)
        if _install_count:
            return
        if isinstance(sys.stdout, CapturingStream):
            sys.stdout = sys.stdout.original
        if isinstance(sys.stderr, CapturingStream):
            sys.stderr = sys.stderr.original


def flush_partial_lines() -> None:
    """Emit partial lines the current thread left on stdout/stderr."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, CapturingStream):
            stream.flush_partial()
