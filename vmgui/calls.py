"""Per-connection queues of blocking calls, each awaited as an asyncio future.

A connection may run at most ``per_connection`` calls at once on the shared
pool, so one dead host cannot take every worker; the rest wait their turn. A
call can time out, or be given up by the user: its future fails at once, and
the thread, stuck in the driver, is left to finish on its own (a foreign call
cannot be interrupted safely). Results always come back through ``post``,
which runs them on the UI thread. No Qt and no driver calls here.
"""
from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers import DriverError, ErrorCode

from .textmark import N_, NP_
from .workers import WorkerPool

Post = Callable[[Callable[[], None]], None]


class CallAbandoned(Exception):
    """The user gave up waiting on a call; its thread may still be stuck in the driver.

    Its one argument is the sentence saying so, marked for translation (``str(exc)`` is the English)."""


@dataclass(eq=False)
class _Call:
    key: str  # the connection URI the call belongs to
    what: str
    work: Callable[[], Any]
    future: asyncio.Future[Any]
    started: float = 0.0
    timer: Any = None
    #: what to do with a result nobody awaits any more (the user gave up, or it timed out)
    orphan: Callable[[Any], None] | None = None


@dataclass
class _Slots:
    running: set[_Call] = field(default_factory=set)
    waiting: deque[_Call] = field(default_factory=deque)
    busy_text: str = ""


class CallQueue:
    """Schedules calls per connection key; ``settled`` is told whenever a call ends."""

    def __init__(self, pool: WorkerPool, per_connection: int, post: Post, settled: Callable[[], None]) -> None:
        self._pool = pool
        self._per_conn = per_connection
        self._post = post
        self._settled = settled
        self._slots: dict[str, _Slots] = {}
        self._closed = False

    def submit(self, key: str, what: str, work: Callable[[], Any], timeout: float | None = None,
               orphan: Callable[[Any], None] | None = None) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self._closed:
            future.set_exception(DriverError(ErrorCode.OPERATION_INVALID, "vmgui is shutting down"))
            return future
        call = _Call(key, what, work, future, orphan=orphan)
        self._slots.setdefault(key, _Slots()).waiting.append(call)
        if timeout is not None:
            call.timer = loop.call_later(timeout, self._time_out, call, timeout)
        self._pump(key)
        return future

    def _pump(self, key: str) -> None:
        slots = self._slots.get(key)
        while slots and slots.waiting and len(slots.running) < self._per_conn:
            call = slots.waiting.popleft()
            if call.future.done():
                continue
            call.started = time.monotonic()
            slots.running.add(call)
            self._pool.submit(functools.partial(self._execute, call))

    def _execute(self, call: _Call) -> None:
        """Worker thread: run the call, hand the outcome to the UI thread."""
        try:
            result, error = call.work(), None
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting UI code
            result, error = None, exc
        self._post(lambda: self._settle(call, result, error))

    def _settle(self, call: _Call, result: Any, error: BaseException | None) -> None:
        slots = self._slots.get(call.key)
        if slots is not None:
            slots.running.discard(call)
        if call.timer is not None:
            call.timer.cancel()
        if not call.future.done():
            if error is not None:
                call.future.set_exception(error)
            else:
                call.future.set_result(result)
        elif error is None and call.orphan is not None:
            call.orphan(result)  # e.g. a connection that opened after the user gave up: close it
        self._pump(call.key)
        self._settled()

    def _time_out(self, call: _Call, timeout: float) -> None:
        if not call.future.done():
            call.future.set_exception(DriverError(
                ErrorCode.OPERATION_TIMEOUT,
                f"{call.what} did not answer within {timeout:g} s; the host may be unreachable"))

    def give_up(self, key: str) -> int:
        """Fail every pending call of ``key`` with :class:`CallAbandoned`; returns how many.

        Abandoned calls no longer count against the connection's share of the pool.
        """
        slots = self._slots.get(key)
        if slots is None:
            return 0
        calls = list(slots.running) + list(slots.waiting)
        slots.running.clear()
        slots.waiting.clear()
        for call in calls:
            if not call.future.done():
                call.future.set_exception(CallAbandoned(N_("gave up waiting for {what}", what=call.what)))
        return len(calls)

    def pending(self, key: str) -> int:
        slots = self._slots.get(key)
        return len(slots.running) + len(slots.waiting) if slots else 0

    def busy_changes(self, after_s: float) -> list[tuple[str, str]]:
        """(key, text) for every connection whose "slow call" description changed.

        The text (marked for translation) names the oldest call running for at least ``after_s``, or is
        empty when none is.
        """
        now = time.monotonic()
        changes = []
        for key, slots in self._slots.items():
            slow = [c for c in slots.running if now - c.started >= after_s]
            text = ""
            if slow:
                oldest = min(slow, key=lambda c: c.started)
                text = N_("{what} ({secs} s)", what=oldest.what, secs=f"{now - oldest.started:.0f}")
                if len(slow) > 1:
                    text = NP_("{call} and %n more", "{call} and %n more", len(slow) - 1, call=text)
            if text != slots.busy_text:
                slots.busy_text = text
                changes.append((key, text))
        return changes

    def forget(self, key: str) -> None:
        self.give_up(key)
        self._slots.pop(key, None)

    def close(self) -> None:
        for key in list(self._slots):
            self.give_up(key)
        self._closed = True
