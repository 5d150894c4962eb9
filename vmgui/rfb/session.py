"""An RFB client on daemon threads of its own: one reads the screen, one sends input.

The socket may block (a guest whose QEMU stopped reading, a stream that
broke): no caller ever waits on it. The listener's methods run on the reader
thread; :meth:`RfbSession.key` and :meth:`RfbSession.pointer` only queue.
"""
from __future__ import annotations

import logging
import queue
import socket
import threading
from collections.abc import Callable

from .client import DEFAULT_ENCODINGS, RfbClient, RfbListener, ServerInit
from .protocol import RfbError

log = logging.getLogger(__name__)


class SessionListener(RfbListener):
    def on_connected(self, init: ServerInit) -> None:
        """The handshake is done; updates follow."""

    def on_end(self, why: str) -> None:
        """The session ended: ``why`` is "" when it was closed on purpose, else what went wrong."""


class RfbSession:
    """Owns ``sock`` from now on; :meth:`start` once, :meth:`close` when done."""

    def __init__(self, sock: socket.socket, listener: SessionListener,
                 encodings: tuple[int, ...] = DEFAULT_ENCODINGS, name: str = "display",
                 password: str | None = None) -> None:
        self.client = RfbClient(sock, encodings, password)
        self._listener = listener
        self._outbox: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._close_lock = threading.Lock()  # close() and the reader's end race: one of them ends the session
        #: what ended the session when the server or the stream did (a PasswordRequired asks for a password)
        self.failure: RfbError | None = None
        self._reader = threading.Thread(target=self._read, name=f"vmgui-rfb-{name}", daemon=True)
        self._writer = threading.Thread(target=self._write, name=f"vmgui-rfb-in-{name}", daemon=True)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def start(self) -> None:
        self._reader.start()
        self._writer.start()

    def key(self, down: bool, keysym: int, scancode: int = 0) -> None:
        self._queue(lambda: self.client.key(down, keysym, scancode))

    def pointer(self, buttons: int, x: int, y: int) -> None:
        self._queue(lambda: self.client.pointer(buttons, x, y))

    def pointer_relative(self, buttons: int, dx: int, dy: int) -> None:
        self._queue(lambda: self.client.pointer_relative(buttons, dx, dy))

    def _queue(self, send: Callable[[], None]) -> None:
        if not self._closed.is_set():
            self._outbox.put(send)

    def close(self) -> None:
        """Stop both threads (the reader sees the stream shut); the guest keeps running. Any thread, any
        number of times; input queued after it is dropped."""
        self._end()

    def _end(self) -> bool:
        """Mark the session ended and shut the stream; False when it had ended already."""
        with self._close_lock:
            if self._closed.is_set():
                return False
            self._closed.set()
        self._outbox.put(None)
        self.client.close()
        return True

    def _read(self) -> None:
        why = ""
        try:
            self._listener.on_connected(self.client.handshake())
            self.client.run(self._listener)
            why = "" if self._closed.is_set() else "the VNC server closed the connection"
        except RfbError as exc:
            why = "" if self._closed.is_set() else str(exc)
            self.failure = exc
        except Exception as exc:  # a decoder bug ends the session with a sentence instead of killing the thread
            log.exception("the display reader failed")
            why = f"unexpected {type(exc).__name__}: {exc}"
        ended_here = self._end()
        if not ended_here:
            why = ""  # closed on purpose while the stream was ending anyway
        try:
            self._listener.on_end(why)
        except Exception:  # a listener whose window is gone: the thread still ends quietly
            log.exception("the display listener failed at the end of the session")

    def _write(self) -> None:
        while True:
            send = self._outbox.get()
            if send is None or self._closed.is_set():
                return
            try:
                send()
            except RfbError:
                return  # the reader reports the end
            except Exception:  # a bug in one message must not kill input silently or loudly
                log.exception("sending input to the display failed")
                return
