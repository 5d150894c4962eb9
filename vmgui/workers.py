"""A bounded pool of daemon threads for blocking driver calls.

Unlike ``concurrent.futures.ThreadPoolExecutor`` (whose workers are joined at
interpreter exit), a thread stuck forever in a hung driver call here never
keeps the process alive, and shutting the pool down never waits for it.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)
MAX_WORKERS = 24


class WorkerPool:
    """At most ``max_workers`` daemon threads fed from one queue."""

    def __init__(self, max_workers: int = MAX_WORKERS) -> None:
        self._max = max_workers
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, work: Callable[[], None]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("worker pool is shut down")
            if self._idle == 0 and len(self._threads) < self._max:
                thread = threading.Thread(target=self._run, name=f"vmgui-worker-{len(self._threads)}",
                                          daemon=True)
                self._threads.append(thread)
                self._idle += 1
                thread.start()
            self._idle -= 1
        self._queue.put(work)

    def _run(self) -> None:
        while True:
            work = self._queue.get()
            if work is None:
                return
            try:
                work()
            except Exception:
                log.exception("worker item failed")
            with self._lock:
                self._idle += 1

    @property
    def size(self) -> int:
        return len(self._threads)

    def shutdown(self) -> None:
        """Stop idle threads; never waits for a hung one (they are daemons)."""
        with self._lock:
            self._closed = True
            count = len(self._threads)
        for _ in range(count):
            self._queue.put(None)
