"""The display of one domain inside the window: frames as QImages, input to the guest.

The stream comes from the bridge (``Domain.open_graphics`` off the UI thread);
an :class:`~vmgui.rfb.session.RfbSession` then reads it on threads of its own.
A frame is handed to the UI thread at most once per event-loop turn: the
reader merges what changed while the UI is busy, and the UI copies the whole
framebuffer into a QImage when it takes the frame, so a slow window never
queues up frames and never sees a half-applied update.
"""
from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QRect, Signal, Slot
from PySide6.QtGui import QImage, QImageWriter

from drivers.errors import DriverError, ErrorCode
from drivers.fsutil import write_atomically

from ..bridge import SPICE_ONLY, Bridge
from ..rfb import Cursor, PasswordRequired, Rect, RfbSession, ServerInit
from ..rfb.keys import evdev_to_xt
from ..rfb.session import SessionListener
from ..textmark import N_
from .messages import explain

__all__ = ["SPICE_ONLY", "DisplayModel", "save_png", "screenshot_png", "write_screenshot"]

Spawn = Callable[[Coroutine[Any, Any, Any], str], object]


class _Relay(SessionListener):
    """Reader thread -> the model: notes what changed, wakes the UI thread once."""

    def __init__(self, model: DisplayModel) -> None:
        self._model = model

    def on_connected(self, init: ServerInit) -> None:
        self._model._post(lambda: self._model._connected(self, init))

    def on_update(self, damage: list[Rect]) -> None:
        if damage:
            self._model._damaged(damage)
        else:  # only pseudo-encodings (QEMU's pointer mode): nothing to draw, a state to take
            self._model._post(lambda: self._model._pointer_mode(self))

    def on_cursor(self, cursor: Cursor) -> None:
        self._model._post(lambda: self._model._cursor(self, cursor))

    def on_end(self, why: str) -> None:
        self._model._post(lambda: self._model._ended(self, why))


class DisplayModel(QObject):
    """``frameChanged(QRect)``: take the new frame with :meth:`frame`; ``status``/``ended`` carry sentences."""

    frameChanged = Signal(QRect)
    cursorChanged = Signal()
    pointerModeChanged = Signal()  # the guest's pointer turned out (or became) absolute or relative
    #: sentences (str; object signals, so a marked Text reaches the view whole and is translated there)
    status = Signal(object)
    ended = Signal(object)
    _wake = Signal()
    _posted = Signal(object)

    def __init__(self, bridge: Bridge, spawn: Spawn, uri: str, uuid: str, name: str,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge, self.uri, self.uuid, self.name = bridge, uri, uuid, name
        self._spawn = spawn
        self._session: RfbSession | None = None
        self._relay: _Relay | None = None  # the current session's: a late word from an old one is dropped
        self._lock = threading.Lock()
        self._damage: QRect | None = None  # merged since the UI last took a frame
        self._woken = False
        self._image = QImage()
        self.cursor: Cursor | None = None
        #: True: the guest has a tablet (positions are absolute); False: only a mouse (the view grabs the
        #: pointer and sends motion); None until the server says
        self.absolute_pointer: bool | None = None
        self.open = False
        self.connecting = False
        self.end_reason = ""
        self.closed_by_vm = False  # the stream ended from the other side (not closed here, not refused)
        self.spice_only = False  # refused: the domain's only display is SPICE
        #: the VNC server asked for a password (none given, or ``password_refused``): ask the user
        self.needs_password = self.password_refused = False
        #: the password given for this display: kept in memory for reconnecting, never written anywhere
        self.password: str | None = None
        self.frames = 0  # frames taken by the UI (for tests and figures)
        self._wake.connect(self._deliver)
        self._posted.connect(self._run_posted)
        self._attempt = 0  # which start() an answer of the bridge belongs to

    # -- life ------------------------------------------------------------------------
    def start(self, password: str | None = None) -> None:
        """Open (or open again) the display through the bridge; ``password`` answers a VNC server that asks."""
        self.close()
        if password is not None:
            self.password = password
        self.end_reason = ""
        self.closed_by_vm = self.spice_only = self.needs_password = self.password_refused = False
        self.connecting = True
        self._attempt += 1
        self.status.emit(N_("Connecting to the display of {name}…", name=self.name))
        self._spawn(self._open(self._attempt), N_("Opening the display of {name}", name=self.name))

    async def _open(self, attempt: int) -> None:
        try:
            sock = await self.bridge.open_graphics(self.uri, self.uuid, self.name)
        except Exception as exc:  # noqa: BLE001 - shown as the view's status line
            if attempt == self._attempt and self.connecting:
                self.spice_only = isinstance(exc, DriverError) and exc.message == SPICE_ONLY
                title, message, _hint = explain(exc, N_("Opening the display of {name}", name=self.name))
                self._finish(N_("{title}: {message}", title=title, message=message))
            return
        if attempt != self._attempt or not self.connecting:  # closed, or started again, while opening
            _close_quietly(sock)
            return
        self._relay = _Relay(self)
        self._session = RfbSession(sock, self._relay, name=self.name, password=self.password)
        self._session.start()

    def close(self) -> None:
        """Stop showing the display; the guest keeps running."""
        session, self._session, self._relay = self._session, None, None
        if session is not None:
            session.close()
        self.open = self.connecting = False
        self.end_reason = self.end_reason or "closed"

    @property
    def busy(self) -> bool:
        """Connected or connecting."""
        return self.open or self.connecting

    def _finish(self, sentence: str) -> None:
        self.open = self.connecting = False
        self.end_reason = sentence
        self._session, self._relay = None, None
        self.status.emit(sentence)
        self.ended.emit(sentence)

    # -- from the reader thread ------------------------------------------------------------
    @Slot(object)
    def _run_posted(self, fn: Callable[[], None]) -> None:
        fn()

    def _post(self, fn: Callable[[], None]) -> None:
        try:
            self._posted.emit(fn)
        except RuntimeError:  # the model was deleted: nobody is left to tell
            pass

    def _damaged(self, damage: list[Rect]) -> None:
        if not damage:
            return
        with self._lock:
            for r in damage:
                rect = QRect(r.x, r.y, r.width, r.height)
                self._damage = rect if self._damage is None else self._damage.united(rect)
            if self._woken:
                return
            self._woken = True
        try:
            self._wake.emit()
        except RuntimeError:
            pass

    # -- on the UI thread -------------------------------------------------------------------
    def _connected(self, relay: _Relay, init: ServerInit) -> None:
        if relay is not self._relay:
            return
        self.open, self.connecting = True, False
        self.status.emit(N_("Connected to the display of {name} ({width}×{height})", name=self.name,
                            width=init.width, height=init.height))

    def _cursor(self, relay: _Relay, cursor: Cursor) -> None:
        if relay is not self._relay:
            return
        self.cursor = cursor
        self.cursorChanged.emit()

    def _ended(self, relay: _Relay, why: str) -> None:
        if relay is not self._relay:
            return  # closed by us
        failure = self._session.failure if self._session is not None else None
        if isinstance(failure, PasswordRequired):
            self.needs_password, self.password_refused = True, failure.refused
            if failure.refused:
                self.password = None
                self._finish(N_("The display of {name} did not accept the password.", name=self.name))
            else:
                self._finish(N_("The display of {name} asks for a password.", name=self.name))
            return
        self.closed_by_vm = True
        self._finish(N_("The display of {name} closed: {why}", name=self.name, why=why) if why
                     else N_("The display of {name} closed", name=self.name))

    @Slot()
    def _deliver(self) -> None:
        session = self._session
        with self._lock:
            damage, self._damage, self._woken = self._damage, None, False
        if session is None or damage is None:
            return
        client = session.client
        with client.lock:
            fb = client.framebuffer
            if fb.width and fb.height:
                self._image = QImage(fb.data, fb.width, fb.height, fb.stride, QImage.Format.Format_RGB32).copy()
        self.frames += 1
        self._take_pointer_mode(session)
        self.frameChanged.emit(damage)

    def _pointer_mode(self, relay: _Relay) -> None:
        if relay is self._relay and self._session is not None:
            self._take_pointer_mode(self._session)

    def _take_pointer_mode(self, session: RfbSession) -> None:
        absolute = session.client.absolute_pointer
        if absolute != self.absolute_pointer:
            self.absolute_pointer = absolute
            self.pointerModeChanged.emit()

    def frame(self) -> QImage:
        """The latest whole frame (a copy: the reader thread never writes into it)."""
        return self._image

    # -- input ------------------------------------------------------------------------------
    def key(self, down: bool, keysym: int, scancode: int = 0) -> None:
        if self._session is not None:
            self._session.key(down, keysym, scancode)

    def pointer(self, buttons: int, x: int, y: int) -> None:
        if self._session is not None:
            self._session.pointer(buttons, x, y)

    def pointer_relative(self, buttons: int, dx: int, dy: int) -> None:
        if self._session is not None:
            self._session.pointer_relative(buttons, dx, dy)

    def send_combo(self, keys: tuple[tuple[int, int], ...]) -> None:
        """Press ``keys`` (keysym, evdev code) in order and release them in reverse, by position (QEMU's
        extended key event): what the host's window manager would take for itself reaches the guest."""
        for keysym, evdev in keys:
            self.key(True, keysym, evdev_to_xt(evdev))
        for keysym, evdev in reversed(keys):
            self.key(False, keysym, evdev_to_xt(evdev))


def screenshot_png(image: QImage) -> bytes:
    """``image`` (the framebuffer at 1:1) as PNG bytes; a display that has shown nothing has no picture."""
    if image.isNull():
        raise DriverError(ErrorCode.OPERATION_INVALID,
                          N_("the display has not shown a picture yet: connect first"))
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not QImageWriter(buffer, QByteArray(b"PNG")).write(image):
        raise DriverError(ErrorCode.INTERNAL_ERROR, "the screen could not be encoded as PNG")
    return bytes(buffer.data().data())


async def write_screenshot(path: str, data: bytes) -> None:
    """:func:`save_png` on a worker thread: a slow disk never stalls the window."""
    await asyncio.to_thread(save_png, path, data)


def save_png(path: str, data: bytes) -> None:
    """Write the screenshot atomically (a crash leaves the old file or none, never half a PNG); worker thread."""
    try:
        write_atomically(path, data, mode=0o644)
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot write {path}: {exc.strerror or exc}") from None


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
