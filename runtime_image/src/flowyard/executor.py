"""A small pool of daemon threads for submitted tasks: a stuck task never keeps the process alive."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable


class DaemonPool:
    """Runs callables on up to `max_workers` daemon threads, started only as needed."""

    def __init__(self, max_workers: int, name: str = "flowyard-task") -> None:
        self.max_workers = max(1, max_workers)
        self._name = name
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, work: Callable[[], None]) -> None:
        """Queue `work` to run on a worker thread; `work` must handle its own errors."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the task pool is shut down")
            self._queue.put(work)
            if self._idle > 0:
                self._idle -= 1
            elif len(self._threads) < self.max_workers:
                thread = threading.Thread(target=self._worker, name=f"{self._name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def _worker(self) -> None:
        while True:
            work = self._queue.get()
            if work is None:
                return
            try:
                work()
            except BaseException:  # noqa: BLE001 - the work reports its own errors; the worker lives on
                pass
            with self._lock:
                self._idle += 1

    def shutdown(self) -> None:
        """Let idle workers exit; work still running carries on in its daemon thread."""
        with self._lock:
            self._closed = True
            for _ in self._threads:
                self._queue.put(None)
