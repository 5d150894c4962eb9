"""One serial console's state: a terminal screen fed with the guest's bytes, plus input.

The guest's bytes go to a :class:`~vmgui.models.terminal.TerminalScreen`
(a VT100/xterm emulator with scrollback) in slices of a few milliseconds per
event-loop turn, so a guest printing without pause never stalls the window;
``changed`` says the screen moved on (a view repaints at most once a frame).
Opening, reading and writing all go through the bridge, so the view never
touches a driver; a guest hanging up ends the stream with a sentence
(:attr:`ConsoleModel.ended`), never a traceback.

The model watches the domain's events: when the domain starts again after its
console hung up the console is opened again by itself, and while the domain is
paused the screen stays readable and typing says that it is paused.

Input is never dropped while the console opens: what is typed before the
stream is open waits in an outbox and goes first once it is, and one writer at
a time empties the outbox, so keys reach the guest whole and in the order typed
(separate calls could run on different worker threads and overtake each other).
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from drivers import DomainEvent, EventType

from ..bridge import Bridge
from ..models.messages import explain
from ..streams import ConsoleStream
from ..textmark import N_
from .terminal import SCROLLBACK, TerminalScreen

MAX_LINES = SCROLLBACK
FEED_SLICE_S = 0.008  # screen updates per event-loop turn, at most (then the window gets its turn)
FEED_CHUNK = 512  # pyte takes ~25 µs a line: a slice may overrun by one chunk, a few ms
SEEN_TAIL = 256  # bytes of output remembered to find, in a reopened console's history, where the screen left off
Spawn = Callable[[Coroutine[Any, Any, Any], str], object]
#: events after which the domain runs (again): a hung-up console is opened again
RUNNING_AGAIN = frozenset({EventType.STARTED, EventType.REBOOT})


class ConsoleModel(QObject):
    """The console of one domain: ``terminal`` holds the screen; ``changed`` says it moved on."""

    changed = Signal()
    #: a sentence: the console is open, or why it is not (any more); str, an object signal, so a marked Text
    #: reaches the view whole and is translated there
    status = Signal(object)
    #: the sentence, and whether opening failed (True: only a Reconnect tries again) or the VM stopped
    #: (False: the console opens again by itself when the VM runs)
    ended = Signal(object, bool)
    #: the console is open again after it ended or failed to open (opened by itself or by a Reconnect)
    reopened = Signal()
    #: bool: the domain is paused (the screen stays, typed keys wait)
    paused = Signal(bool)

    def __init__(self, bridge: Bridge, spawn: Spawn, uri: str, uuid: str, name: str,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge, self.uri, self.uuid, self.name = bridge, uri, uuid, name
        self._spawn = spawn
        self._stream: ConsoleStream | None = None
        self.terminal = TerminalScreen(reply=self.send)
        self.open = False
        self.is_paused = False
        self.end_reason = ""
        self._closed = False  # by the user: never opened again
        self._opening = False
        self._was_open = False
        self._after_end = False
        self._restarted = False  # the domain ran again while the old stream was still open
        self._outbox: list[bytes] = []  # typed, not yet handed to the driver
        self._writing = False
        self._inbox: deque[bytes] = deque()  # read, not yet on the screen
        self._feeding = False
        self._seen = b""  # the last bytes put on the screen
        self._skip_seen = False  # the next data is a reopened console's history: drop what is on screen
        if bridge is not None:
            bridge.eventsArrived.connect(self._on_events)

    def text(self) -> str:
        """Scrollback and screen as plain text."""
        return self.terminal.text()

    def start(self) -> None:
        """Open (or re-open, after a hang-up) the console through the bridge."""
        if self._closed or self._opening or self.open:
            return
        self._after_end = bool(self.end_reason)  # a retry: its success says "reopened" too
        self.end_reason = ""
        self._opening = True
        self._restarted = False
        self.status.emit(N_("Connecting to the serial console of {name}…", name=self.name))
        self._spawn(self._open(), N_("Opening the console of {name}", name=self.name))

    async def _open(self) -> None:
        try:
            stream = await self.bridge.open_console(self.uri, self.uuid, self.name)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            self._opening = False
            if not self._closed:
                title, message, _hint = explain(exc, N_("Opening the console of {name}", name=self.name))
                self._finish(N_("{title}: {message}", title=title, message=message), failed=True)
            return
        self._opening = False
        if self._closed:  # closed while opening
            self.bridge.close_console(stream)
            return
        reopened, self._was_open = self._was_open, True
        self._skip_seen = reopened
        self._stream = stream
        stream.on_data = self._on_data
        stream.on_end = self._on_end
        self.open = True
        self._show_state()
        if reopened or self._after_end:
            self.reopened.emit()
        stream.start()
        self._drain()  # what was typed while connecting

    def _show_state(self) -> None:
        if self.is_paused:
            self.status.emit(N_("{name} is paused: the screen and scrollback stay, and what you type reaches the "
                                "guest when it runs again", name=self.name))
        elif self.open:
            self.status.emit(N_("Connected to the serial console of {name} (ttyS0)", name=self.name))

    def _on_data(self, data: bytes) -> None:
        if self._stream is None:
            return  # posted just before we closed it
        if self._skip_seen:
            self._skip_seen = False
            data = self._unseen(data)
        self._seen = (self._seen + data)[-SEEN_TAIL:]
        self._inbox.append(data)
        if not self._feeding:
            self._feeding = True
            QTimer.singleShot(0, self._feed)

    def _unseen(self, history: bytes) -> bytes:
        """The part of a reopened console's history after what the screen shows already.

        A VM's serial log may go on across restarts: its history then starts with
        output shown before the hang-up, which must not be printed twice.
        """
        at = history.rfind(self._seen) if self._seen else -1
        return history[at + len(self._seen):] if at != -1 else history

    def _feed(self) -> None:
        """Put read bytes on the screen for a few milliseconds, then yield to the window."""
        deadline = time.monotonic() + FEED_SLICE_S
        fed = False
        while self._inbox and time.monotonic() < deadline:
            data = self._inbox.popleft()
            if len(data) > FEED_CHUNK:
                self._inbox.appendleft(data[FEED_CHUNK:])
                data = data[:FEED_CHUNK]
            self.terminal.feed(data)
            fed = True
        if fed:
            self.changed.emit()
        if self._inbox:
            QTimer.singleShot(0, self._feed)
        else:
            self._feeding = False

    def flush(self) -> None:
        """Put everything read so far on the screen now."""
        while self._inbox:
            self.terminal.feed(self._inbox.popleft())
        self.changed.emit()

    def _on_end(self, why: str) -> None:
        if self._stream is None:
            return
        self._finish(N_("VM stopped: {why}. It opens again by itself when {name} runs again.", why=why,
                        name=self.name), failed=False)
        if self._restarted:  # the domain started again before its old console hung up
            self.start()

    def _finish(self, sentence: str, *, failed: bool) -> None:
        self._outbox.clear()  # nobody is there to read it
        self.open = False
        self.end_reason = sentence
        self._stream = None
        self.status.emit(sentence)
        self.ended.emit(sentence, failed)

    def _on_events(self, uri: str, events: list[DomainEvent]) -> None:
        if uri != self.uri or self._closed:
            return
        for event in events:
            if event.domain_uuid != self.uuid:
                continue
            if event.type in RUNNING_AGAIN:
                self._set_paused(False)
                if self.open:
                    self._restarted = event.type == EventType.STARTED
                else:
                    self.start()
            elif event.type == EventType.SUSPENDED:
                self._set_paused(True)
            elif event.type == EventType.RESUMED:
                self._set_paused(False)

    def _set_paused(self, paused: bool) -> None:
        if paused != self.is_paused:
            self.is_paused = paused
            self.paused.emit(paused)
            self._show_state()

    def set_paused(self, paused: bool) -> None:
        """What the domain list knows when the console opens (events tell the changes after)."""
        self._set_paused(paused)

    def send(self, data: bytes) -> None:
        """Type ``data`` into the guest: now, or as soon as the console is open."""
        if self.end_reason or self._closed:
            return  # closed or hung up: nothing reads it
        if self.is_paused:
            self.status.emit(N_("{name} is paused: what you type reaches the guest when it runs again", name=self.name))
        self._outbox.append(data)
        self._drain()

    def _drain(self) -> None:
        if self._stream is not None and self._outbox and not self._writing:
            self._writing = True
            self._spawn(self._write(self._stream), N_("Typing into the console of {name}", name=self.name))

    async def _write(self, stream: ConsoleStream) -> None:
        """Hand the outbox to the driver, oldest first, until it is empty (one writer at a time)."""
        try:
            while self._outbox and self._stream is stream:
                data = b"".join(self._outbox)
                self._outbox.clear()
                try:
                    await self.bridge.console_write(stream, data)
                except Exception as exc:  # noqa: BLE001 - the guest went away between two keys
                    if self.open:
                        title, message, _hint = explain(exc, N_("Typing into the console"))
                        self.status.emit(N_("{title}: {message}", title=title, message=message))
                    return
        finally:
            self._writing = False

    def close(self) -> None:
        """Stop reading; the guest keeps running."""
        self._closed = True
        if self._stream is not None:
            self.bridge.close_console(self._stream)
        self._stream = None
        self._outbox.clear()
        self._inbox.clear()
        self.open = False
        self.end_reason = self.end_reason or "closed"
