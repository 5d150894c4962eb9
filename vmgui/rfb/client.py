"""A blocking RFB 3.3/3.7/3.8 client for one reader thread (RFC 6143).

:meth:`RfbClient.handshake` negotiates version, security (None, or VNC
authentication with the password given, through :mod:`.des`) and our pixel
format; :meth:`RfbClient.run` then reads server messages until the stream ends,
applying each rectangle to :attr:`RfbClient.framebuffer` under
:attr:`RfbClient.lock` and telling the listener what changed. Input (keys,
pointer) may be sent from any thread. Keys go as QEMU extended key events (XT
scancodes, independent of any keyboard layout) once the server confirms it
understands them, else as plain key events (keysyms).
"""
from __future__ import annotations

import io
import socket
import struct
import threading
from dataclasses import dataclass

from . import decoders, des, protocol
from .framebuffer import Cursor, Framebuffer, Rect
from .protocol import Encoding, PasswordRequired, RfbError, ServerMessage

#: Preference order sent in SetEncodings. Raw first: on the local socket QEMU hands out, ZRLE costs
#: QEMU its compression and us the decoding for bytes that cost nothing to move (measured at
#: 1024x768 by tests/bench/bench_display.py: full-screen random pixels 21.8 frames/s with Raw
#: against 3.6 with ZRLE, scrolling text 19.6 against 2.8). ZRLE stays on offer for remote
#: streams. Then the pseudo-encodings this client understands.
DEFAULT_ENCODINGS: tuple[int, ...] = (
    Encoding.RAW, Encoding.COPY_RECT, Encoding.ZRLE,
    Encoding.EXTENDED_DESKTOP_SIZE, Encoding.DESKTOP_SIZE, Encoding.CURSOR,
    Encoding.QEMU_EXTENDED_KEY_EVENT, Encoding.QEMU_POINTER_MOTION_CHANGE,
)
ZRLE_FIRST: tuple[int, ...] = (Encoding.ZRLE,) + tuple(e for e in DEFAULT_ENCODINGS if e != Encoding.ZRLE)


@dataclass(frozen=True)
class ServerInit:
    width: int
    height: int
    name: str
    version: tuple[int, int]


class RfbListener:
    """What the reader thread reports; override what you need (each runs on the reader thread)."""

    def on_update(self, damage: list[Rect]) -> None:
        """A whole FramebufferUpdate was applied; ``damage`` lists the regions it drew."""

    def on_resize(self, width: int, height: int) -> None:
        """The screen changed size; the framebuffer is new and black until the next update."""

    def on_cursor(self, cursor: Cursor) -> None:
        """The server sent a new pointer shape to draw locally."""

    def on_bell(self) -> None:
        """The guest rang the bell."""


class RfbClient:
    """One RFB session over ``sock``, a connected stream (the caller gave up ownership of it).

    ``password`` answers VNC authentication; it is kept only as long as this client.
    """

    def __init__(self, sock: socket.socket, encodings: tuple[int, ...] = DEFAULT_ENCODINGS,
                 password: str | None = None) -> None:
        self._sock = sock
        self._password = password
        self._rfile: io.BufferedReader = sock.makefile("rb")
        self._send_lock = threading.Lock()  # one message at a time; close() takes it to close the socket
        self._close_lock = threading.Lock()
        self._encodings = list(encodings)
        self._zrle = decoders.ZrleDecoder()
        self._closed = False
        self._running = False  # run() owns the reading side (and closes it when it returns)
        #: held while a rectangle is written into :attr:`framebuffer`; hold it to read a whole frame
        self.lock = threading.Lock()
        self.framebuffer = Framebuffer(0, 0)
        self.name = ""
        #: the server understands QEMU's extended key event (keys by scancode)
        self.extended_keys = False
        #: the server maps absolute pointer positions (QEMU: the guest has a tablet), None while unknown
        self.absolute_pointer: bool | None = None

    # -- connection setup ----------------------------------------------------------
    def handshake(self) -> ServerInit:
        """Version, security, ClientInit/ServerInit, then our pixel format and encodings."""
        version = protocol.client_version(protocol.parse_version(self._read(12)))
        self._send(b"RFB %03d.%03d\n" % version)
        self._security(version)
        self._send(b"\x01")  # ClientInit: shared, so an external viewer may stay connected
        width, height = struct.unpack(">HH", self._read(4))
        self._read(16)  # the server's pixel format: replaced by ours below
        (length,) = struct.unpack(">I", self._read(4))
        self.name = self._text(length)
        self.framebuffer = Framebuffer(width, height)
        self._send(protocol.set_pixel_format() + protocol.set_encodings(self._encodings)
                   + protocol.update_request(False, 0, 0, width, height))
        return ServerInit(width, height, self.name, version)

    def _security(self, version: tuple[int, int]) -> None:
        if version == (3, 3):
            (kind,) = struct.unpack(">I", self._read(4))
            offered = [kind] if kind != protocol.SECURITY_INVALID else []
        else:
            (count,) = struct.unpack(">B", self._read(1))
            offered = list(self._read(count))
        if not offered:
            raise RfbError(f"the VNC server refused the connection: {self._reason()}")
        if protocol.SECURITY_NONE in offered:
            kind = protocol.SECURITY_NONE
        elif protocol.SECURITY_VNC_AUTH in offered:
            kind = protocol.SECURITY_VNC_AUTH
            if self._password is None:
                raise PasswordRequired("the VNC server asks for a password", refused=False)
        else:
            raise RfbError("the VNC server asks for an authentication vmgui does not speak "
                           f"(security types {', '.join(map(str, offered))}); vmgui speaks none and VNC password")
        if version != (3, 3):
            self._send(bytes([kind]))
        if kind == protocol.SECURITY_VNC_AUTH:
            challenge = self._read(protocol.VNC_CHALLENGE_BYTES)
            self._send(des.vnc_response(self._password or "", challenge))
        if version == (3, 8) or kind == protocol.SECURITY_VNC_AUTH:  # 3.3 and 3.7 send a result after a password
            (result,) = struct.unpack(">I", self._read(4))
            if result != 0:
                reason = self._reason() if version == (3, 8) else "it gave no reason"
                if kind == protocol.SECURITY_VNC_AUTH:
                    raise PasswordRequired(f"the VNC server refused the password: {reason}", refused=True)
                raise RfbError(f"the VNC server refused the connection: {reason}")

    def _reason(self) -> str:
        (length,) = struct.unpack(">I", self._read(4))
        return self._text(length) or "it gave no reason"

    # -- the reader loop -------------------------------------------------------------
    def run(self, listener: RfbListener) -> None:
        """Read and apply server messages until the stream ends (RfbError says how, unless closed)."""
        self._running = True
        try:
            while True:
                kind = self._read(1)[0]
                if kind == ServerMessage.FRAMEBUFFER_UPDATE:
                    self._update(listener)
                elif kind == ServerMessage.SET_COLOUR_MAP_ENTRIES:
                    _first, count = struct.unpack(">xHH", self._read(5))
                    self._read(count * 6)  # true colour: a colour map means nothing to us
                elif kind == ServerMessage.BELL:
                    listener.on_bell()
                elif kind == ServerMessage.SERVER_CUT_TEXT:
                    (length,) = struct.unpack(">3xI", self._read(7))
                    self._text(length)
                else:
                    raise RfbError(f"the VNC server sent message type {kind}, which RFB does not define")
        except RfbError:
            if not self._closed:
                raise
        finally:
            self._rfile.close()

    def _update(self, listener: RfbListener) -> None:
        (count,) = struct.unpack(">xH", self._read(3))
        damage: list[Rect] = []
        resized = False
        for _ in range(count):
            x, y, w, h, enc = struct.unpack(">HHHHi", self._read(12))
            if enc in (Encoding.DESKTOP_SIZE, Encoding.EXTENDED_DESKTOP_SIZE):
                if enc == Encoding.EXTENDED_DESKTOP_SIZE:
                    screens = self._read(4)[0]
                    self._read(16 * screens)
                    if y != 0:  # an answer to a SetDesktopSize we never sent: a failed resize
                        continue
                fb = self.framebuffer
                if (w, h) == (fb.width, fb.height):
                    continue  # also the answer to every full (non-incremental) request
                with self.lock:
                    fb.resize(w, h)
                listener.on_resize(w, h)
                damage = [Rect(0, 0, w, h)]
                resized = True
            elif enc == Encoding.CURSOR:
                data = self._read(decoders.cursor_bytes(w, h))
                listener.on_cursor(decoders.decode_cursor(x, y, w, h, data))
            elif enc == Encoding.QEMU_EXTENDED_KEY_EVENT:
                self.extended_keys = True
            elif enc == Encoding.QEMU_POINTER_MOTION_CHANGE:
                self.absolute_pointer = bool(x)
            else:
                self._rectangle(x, y, w, h, enc)
                damage.append(Rect(x, y, w, h))
        listener.on_update(damage)
        fb = self.framebuffer
        self._send(protocol.update_request(not resized, 0, 0, fb.width, fb.height))

    def _rectangle(self, x: int, y: int, w: int, h: int, enc: int) -> None:
        if enc == Encoding.RAW:
            size = w * h * protocol.BYTES_PER_PIXEL
            if size > protocol.MAX_RECT_BYTES:
                raise RfbError(f"the VNC server sent a {w}x{h} rectangle, larger than any screen")
            data = self._read(size)
            with self.lock:
                decoders.decode_raw(self.framebuffer, x, y, w, h, data)
        elif enc == Encoding.COPY_RECT:
            data = self._read(4)
            with self.lock:
                decoders.decode_copy_rect(self.framebuffer, x, y, w, h, data)
        elif enc == Encoding.ZRLE:
            (length,) = struct.unpack(">I", self._read(4))
            if length > protocol.MAX_RECT_BYTES:
                raise RfbError(f"the VNC server sent {length} bytes of ZRLE data for one rectangle")
            data = self._read(length)
            with self.lock:
                self._zrle.decode(self.framebuffer, x, y, w, h, data)
        else:
            raise RfbError(f"the VNC server used encoding {enc}, which was not asked for")

    # -- input, from any thread ------------------------------------------------------------
    def key(self, down: bool, keysym: int, scancode: int = 0) -> None:
        """A key by XT scancode when the server takes them and one is known, else by keysym."""
        if self.extended_keys and scancode:
            self._send(protocol.qemu_key_event(down, keysym, scancode))
        elif keysym:
            self._send(protocol.key_event(down, keysym))

    def pointer(self, buttons: int, x: int, y: int) -> None:
        """The pointer at framebuffer position (x, y) with ``buttons`` held (bit 0 left, 1 middle, 2 right,
        3/4 wheel up/down)."""
        fb = self.framebuffer
        self._send(protocol.pointer_event(buttons, max(0, min(x, fb.width - 1)), max(0, min(y, fb.height - 1))))

    def pointer_relative(self, buttons: int, dx: int, dy: int) -> None:
        """Move a relative pointer (a guest with only a mouse) by (dx, dy): QEMU reads a position as its
        offset from 0x7FFF once it told the client that the pointer is relative."""
        x, y = (max(0, min(0xFFFF, 0x7FFF + d)) for d in (dx, dy))
        self._send(protocol.pointer_event(buttons, x, y))

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """End the session; a reader blocked in :meth:`run` returns. Any thread, any number of times.

        The shutdown wakes a sender blocked in ``sendall`` (so taking the send lock never waits on the
        server); the socket is closed only under that lock, so no input is ever written to a closed
        descriptor, or to whatever file took its number since.
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        with self._send_lock:
            self._sock.close()
        if not self._running:
            self._rfile.close()

    # -- bytes -----------------------------------------------------------------------
    def _read(self, n: int) -> bytes:
        try:
            data = self._rfile.read(n)
        except ConnectionResetError:
            raise RfbError("the VNC server closed the connection") from None
        except (OSError, ValueError) as exc:  # ValueError: the file was closed by close()
            raise RfbError(f"the connection to the VNC server broke ({exc})") from None
        if len(data) != n:
            raise RfbError("the VNC server closed the connection")
        return data

    def _text(self, length: int) -> str:
        if length > protocol.MAX_TEXT:
            raise RfbError(f"the VNC server sent a text of {length} bytes")
        return self._read(length).decode("latin-1")

    def _send(self, data: bytes) -> None:
        """Send ``data``; on a closed session nothing happens (input after the end goes nowhere)."""
        with self._send_lock:
            if self._closed:
                return
            try:
                self._sock.sendall(data)
            except OSError as exc:
                raise RfbError(f"cannot send to the VNC server ({exc.strerror or exc})") from None
