"""Event callback registry with delivery on a driver-owned thread.

Drivers call :meth:`EventBus.emit` from wherever a change happens, often under
their own locks. Delivery happens later on the bus's thread, so a callback
never runs under a driver lock, may call back into the driver, and a slow or
raising callback cannot break the driver or the other callbacks.
"""
from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from .records import DomainEvent

log = logging.getLogger(__name__)

#: ``callback(conn, domain_or_none, event)``
EventCallback = Callable[[Any, Any, DomainEvent], None]

_STOP = object()


class EventBus:
    """Callbacks of one hypervisor state, fed in order from one thread."""

    def __init__(self, name: str = "events") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._callbacks: dict[int, tuple[Any, EventCallback]] = {}
        self._ids = itertools.count(1)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def register(self, conn: Any, callback: EventCallback) -> int:
        """Add ``callback`` for events seen through ``conn``; returns a handle > 0."""
        if not callable(callback):
            from .errors import invalid_arg
            raise invalid_arg("event callback must be callable")
        with self._lock:
            handle = next(self._ids)
            self._callbacks[handle] = (conn, callback)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, args=(self._queue,), name=self._name,
                                                daemon=True)
                self._thread.start()
        return handle

    def deregister(self, handle: int) -> bool:
        with self._lock:
            found = self._callbacks.pop(handle, None) is not None
            self._stop_when_idle()
            return found

    def deregister_conn(self, conn: Any) -> None:
        """Drop every callback registered through ``conn`` (on close)."""
        with self._lock:
            for handle in [h for h, (c, _) in self._callbacks.items() if c is conn]:
                del self._callbacks[handle]
            self._stop_when_idle()

    def _stop_when_idle(self) -> None:
        """With no callback left the thread ends (a host that outlives its connections keeps none).

        Lock held. The old thread ends on its own queue, where what was still queued
        reaches no one (no callback is left to take it); a later :meth:`register` starts
        a new thread on a new queue.
        """
        if self._callbacks or self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread = None
        self._queue = queue.SimpleQueue()

    def emit(self, domain_factory: Callable[[Any], Any] | None, event: DomainEvent) -> None:
        """Queue ``event``; ``domain_factory(conn)`` builds the domain handle per connection.

        Only callbacks registered now hear it: one registered later could otherwise
        hear it from an ending thread after newer events from the new one.
        """
        with self._lock:
            if self._callbacks:
                self._queue.put((domain_factory, event, tuple(self._callbacks)))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything emitted so far was delivered (for tests and close)."""
        if self._thread is None:
            return True
        done = threading.Event()
        with self._lock:
            if self._thread is None:
                return True
            self._queue.put(done)
        return done.wait(timeout)

    def close(self) -> None:
        with self._lock:
            self._callbacks.clear()
            self._stop_when_idle()

    def _run(self, items: queue.SimpleQueue[Any]) -> None:
        while True:
            item = items.get()
            if item is _STOP:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            factory, event, handles = item
            with self._lock:  # registered when it happened and still registered now
                targets = [self._callbacks[h] for h in handles if h in self._callbacks]
            for conn, callback in targets:
                try:
                    domain = factory(conn) if factory is not None else None
                    callback(conn, domain, event)
                except Exception:  # a broken callback must not stop delivery
                    log.exception("event callback %r raised on %s", callback, event.type.name)
