"""A bounded pool of daemon threads for blocking driver calls.

Unlike ``concurrent.futures.ThreadPoolExecutor`` (whose workers are joined at
interpreter exit), a thread stuck forever in a hung driver call here never
keeps the process alive, and shutting the pool down never waits for it.

New workers are started by the pool's own spawner thread: ``Thread.start()``
waits until the new thread first holds the GIL, which takes a switch interval
(5 ms) while other workers are busy in Python, so a caller on the UI thread
that opened twenty hosts at once would stall for 100 ms.
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
        self._spawning = 0  # workers asked of the spawner and not started yet (counted as idle)
        self._closed = False
        self._spawns: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._spawner = threading.Thread(target=self._spawn_workers, name="vmgui-worker-spawner", daemon=True)
        self._spawner.start()

    def submit(self, work: Callable[[], None]) -> None:
        """Queue ``work``; never waits for a thread (a worker to come is asked of the spawner)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("worker pool is shut down")
            grow = self._idle == 0 and len(self._threads) + self._spawning < self._max
            if grow:
                self._spawning += 1
                self._idle += 1
            self._idle -= 1
        self._queue.put(work)
        if grow:
            self._spawns.put(True)

    def _spawn_workers(self) -> None:
        """Spawner thread: start each worker asked for, so only this thread waits for it to start."""
        while self._spawns.get():
            with self._lock:
                self._spawning -= 1
                if self._closed:
                    continue
                thread = threading.Thread(target=self._run, name=f"vmgui-worker-{len(self._threads)}",
                                          daemon=True)
                self._threads.append(thread)
            thread.start()

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
        self._spawns.put(False)
        for _ in range(count):
            self._queue.put(None)
