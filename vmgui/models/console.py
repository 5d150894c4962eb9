"""One serial console's state: terminal bytes turned into plain text, plus input.

The guest's bytes are decoded incrementally (a UTF-8 character may straddle
two reads), ANSI escape sequences are stripped (a plain-text view cannot draw
them), line endings are normalised, and the scrollback is capped at
:data:`MAX_LINES`. Opening, reading and writing all go through the bridge, so
the view never touches a driver; a guest hanging up ends the stream with a
sentence (:attr:`ConsoleModel.ended`), never a traceback.

Input is never dropped while the console opens: what is typed before the
stream is open waits in an outbox and goes first once it is, and one writer at
a time empties the outbox, so lines reach the guest whole and in the order typed
(separate calls could run on different worker threads and overtake each other).
"""
from __future__ import annotations

import codecs
import re
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..bridge import Bridge
from ..models.messages import explain
from ..streams import ConsoleStream

MAX_LINES = 10_000
#: CSI (ESC [ ... final), OSC (ESC ] ... BEL/ST), and two-byte ESC sequences
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
Spawn = Callable[[Coroutine[Any, Any, Any], str], object]


class TextCleaner:
    """Bytes of a terminal stream -> plain text chunks (stateful across reads)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""  # an escape sequence cut off at the end of a read

    def feed(self, data: bytes) -> str:
        text = self._pending + self._decoder.decode(data)
        self._pending = ""
        cut = text.rfind("\x1b")
        if cut != -1 and not ANSI.match(text, cut) and len(text) - cut < 32:
            text, self._pending = text[:cut], text[cut:]
        text = ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "")
        return "".join(c for c in text if c in "\n\t\b" or c >= " ")


class ConsoleModel(QObject):
    """The console of one domain: ``appended`` carries new text (``\\b`` erases one char)."""

    appended = Signal(str)
    #: a sentence: the console is open, or why it is not (any more)
    status = Signal(str)
    ended = Signal(str)

    def __init__(self, bridge: Bridge, spawn: Spawn, uri: str, uuid: str, name: str,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge, self.uri, self.uuid, self.name = bridge, uri, uuid, name
        self._spawn = spawn
        self._stream: ConsoleStream | None = None
        self._cleaner = TextCleaner()
        self.lines: deque[str] = deque([""], maxlen=MAX_LINES)
        self.open = False
        self.end_reason = ""
        self._outbox: list[bytes] = []  # typed, not yet handed to the driver
        self._writing = False

    def text(self) -> str:
        return "\n".join(self.lines)

    def start(self) -> None:
        """Open (or re-open, after a hang-up) the console through the bridge."""
        self.end_reason = ""
        self._cleaner = TextCleaner()
        self.status.emit(f"Connecting to the serial console of {self.name}…")
        self._spawn(self._open(), f"Opening the console of {self.name}")

    async def _open(self) -> None:
        try:
            stream = await self.bridge.open_console(self.uri, self.uuid, self.name)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            if not self.end_reason:  # else the dialog is gone already
                title, message, _hint = explain(exc, f"Opening the console of {self.name}")
                self._finish(f"{title}: {message}")
            return
        if self.end_reason:  # closed while opening
            self.bridge.close_console(stream)
            return
        self._stream = stream
        stream.on_data = self._on_data
        stream.on_end = self._on_end
        self.open = True
        self.status.emit(f"Connected to the serial console of {self.name} (ttyS0)")
        stream.start()
        self._drain()  # what was typed while connecting

    def _on_data(self, data: bytes) -> None:
        if self._stream is None:
            return  # posted just before we closed it
        text = self._cleaner.feed(data)
        if not text:
            return
        for i, part in enumerate(text.split("\n")):
            if i:
                self.lines.append("")
            while "\b" in part:  # backspace: erase in the current line
                at = part.index("\b")
                if at == 0:
                    self.lines[-1] = self.lines[-1][:-1]
                    part = part[1:]
                else:
                    part = part[:at - 1] + part[at + 1:]
            self.lines[-1] += part
        self.appended.emit(text)

    def _on_end(self, why: str) -> None:
        if self._stream is None:
            return
        self._finish(f"The console of {self.name} closed: {why}")

    def _finish(self, sentence: str) -> None:
        self._outbox.clear()  # nobody is there to read it; the dialog disables input
        self.open = False
        self.end_reason = sentence
        self._stream = None
        self.status.emit(sentence)
        self.ended.emit(sentence)

    def send(self, data: bytes) -> None:
        """Type ``data`` into the guest: now, or as soon as the console is open."""
        if self.end_reason:
            return  # closed or hung up: input is disabled
        self._outbox.append(data)
        self._drain()

    def _drain(self) -> None:
        if self._stream is not None and self._outbox and not self._writing:
            self._writing = True
            self._spawn(self._write(self._stream), f"Typing into the console of {self.name}")

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
                        title, message, _hint = explain(exc, "Typing into the console")
                        self.status.emit(f"{title}: {message}")
                    return
        finally:
            self._writing = False

    def close(self) -> None:
        """Stop reading; the guest keeps running."""
        if self._stream is not None:
            self.bridge.close_console(self._stream)
        self._stream = None
        self._outbox.clear()
        self.open = False
        self.end_reason = self.end_reason or "closed"
