"""Shut Down and Reboot are requests a guest may ignore: what was asked, since when, and when to offer more.

A request stays pending until the domain shows it happened: a shutdown until
the domain is off, a reboot until the driver reports REBOOT (or the domain went
off instead). A request that has not happened after ``timeout_s`` becomes
overdue, once: the window then offers the hard way (Force Off for a shutdown,
Reset for a reboot). So the window never says "done" for a request the guest
has not carried out. No widgets and no driver calls here.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from drivers import DomainRecord, EventType
from drivers.flags import ShutoffReason, StoppedDetail

from ..actions import SPECS, ActionId
from ..textmark import N_, Text
from .domainrow import Key

DEFAULT_TIMEOUT_S = 60.0
#: the requests a guest may ignore, and the hard way the window offers once one is overdue
FALLBACK = {spec.id: spec.fallback for spec in SPECS.values() if spec.fallback is not None}
#: what the table's State cell adds while a request waits for the guest (marked: the cell translates it)
DOING = {"shutdown": N_("shutting down"), "reboot": N_("rebooting")}


def _overdue_sentence(action: ActionId, name: str, secs: str) -> Text:
    """What did not happen, for the status bar and the message that offers the hard way."""
    if action == "shutdown":
        return N_("{name} is still running {secs} s after it was asked to shut down; its guest may ignore "
                  "the ACPI power button", name=name, secs=secs)
    return N_("{name} has not rebooted {secs} s after it was asked to; its guest may ignore the ACPI "
              "power button", name=name, secs=secs)


@dataclass
class Request:
    action: ActionId  # SHUTDOWN or REBOOT
    name: str
    since: float
    overdue: bool = False


class PendingRequests(QObject):
    """The shutdowns and reboots asked for and not yet seen happen, per domain."""

    #: key: what the domain's row shows changed
    changed = Signal(object)
    #: key, a sentence: the request was carried out (or the domain went off instead)
    finished = Signal(object, object)  # the sentence is a Text: a str signal would drop what translates it
    #: key, the fallback action name, a sentence saying what did not happen
    overdue = Signal(object, str, object)

    def __init__(self, parent: QObject | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self.timeout_s = timeout_s
        self._clock = clock
        self._requests: dict[Key, Request] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(500)
        self._timer.timeout.connect(self.check)

    def __contains__(self, key: object) -> bool:
        return key in self._requests

    def begin(self, key: Key, action: ActionId, name: str) -> None:
        """``action`` was asked of ``key`` (before the call: its events may come before it returns)."""
        self._requests[key] = Request(ActionId(action), name, self._clock())
        self._timer.start()
        self.changed.emit(key)

    def cancel(self, key: Key) -> None:
        """The request itself failed: nothing is pending."""
        if self._requests.pop(key, None) is not None:
            self.changed.emit(key)

    def uuids(self, uri: str) -> set[str]:
        """The domains of ``uri`` with a request pending."""
        return {uuid for (u, uuid) in self._requests if u == uri}

    def forget_connection(self, uri: str) -> None:
        for key in [k for k in self._requests if k[0] == uri]:
            del self._requests[key]

    def doing(self, key: Key) -> str:
        """What the row shows: "shutting down", after the timeout with how long it has gone unanswered."""
        req = self._requests.get(key)
        if req is None:
            return ""
        if req.overdue:
            return N_("{doing}, no answer after {secs} s", doing=DOING[req.action], secs=self._secs())
        return N_("{doing}…", doing=DOING[req.action])

    def on_event(self, key: Key, kind: EventType, detail: int = 0) -> None:
        req = self._requests.get(key)
        if req is None:
            return
        if kind == EventType.STOPPED:
            if detail == StoppedDetail.DESTROYED:
                self._finish(key, N_("{name} was forced off", name=req.name))
            elif req.action == "shutdown":
                self._finish(key, N_("{name} shut down", name=req.name))
            else:
                self._finish(key, N_("{name} shut down instead of rebooting", name=req.name))
        elif kind == EventType.REBOOT and req.action == "reboot":
            self._finish(key, N_("{name} rebooted", name=req.name))

    def on_records(self, uri: str, records: Iterable[DomainRecord], gone: Iterable[str] = ()) -> None:
        """Fresh records (the only news from a connection without events): off is off."""
        if not self._requests:
            return
        for rec in records:
            if rec.id is None and (uri, rec.uuid) in self._requests:
                forced = rec.reason == ShutoffReason.DESTROYED
                self.on_event((uri, rec.uuid), EventType.STOPPED,
                              StoppedDetail.DESTROYED if forced else StoppedDetail.SHUTDOWN)
        for uuid in gone:
            if (uri, uuid) in self._requests:
                self.on_event((uri, uuid), EventType.STOPPED)

    def check(self) -> None:
        """Mark requests older than the timeout overdue (the timer calls this twice a second)."""
        now = self._clock()
        for key, req in list(self._requests.items()):
            if not req.overdue and now - req.since >= self.timeout_s:
                req.overdue = True
                self.changed.emit(key)
                self.overdue.emit(key, FALLBACK[req.action], _overdue_sentence(req.action, req.name, self._secs()))
        if not self._requests:
            self._timer.stop()

    def _finish(self, key: Key, sentence: Text) -> None:
        del self._requests[key]
        self.changed.emit(key)
        self.finished.emit(key, sentence)

    def _secs(self) -> str:
        return f"{self.timeout_s:g}"
