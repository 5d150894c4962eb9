"""Closing an RFB session while input is still coming: a window closed mid-session ends its threads quietly.

The server is a socket pair end that answers the handshake and then keeps drawing a small screen, so the
reader is busy when the session closes; input comes from threads of its own, as from a mouse that moves
while its window closes.
"""
from __future__ import annotations

import gc
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from vmgui.rfb import RfbClient, RfbSession, ServerInit
from vmgui.rfb.protocol import PIXEL_FORMAT
from vmgui.rfb.session import SessionListener

WIDTH, HEIGHT = 64, 48
GREETING = (b"RFB 003.008\n\x01\x01\x00\x00\x00\x00" + struct.pack(">HH", WIDTH, HEIGHT) + PIXEL_FORMAT
            + b"\x00\x00\x00\x00")
FRAME = struct.pack(">BxH", 0, 1) + struct.pack(">HHHHi", 0, 0, WIDTH, HEIGHT, 0) + bytes(WIDTH * HEIGHT * 4)


class Ends(SessionListener):
    def __init__(self) -> None:
        self.connected = threading.Event()
        self.ends: list[str] = []

    def on_connected(self, init: ServerInit) -> None:
        self.connected.set()

    def on_end(self, why: str) -> None:
        self.ends.append(why)


class DrawingServer:
    """Sends the greeting, then frames until told to stop; reads and drops what the client sends."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.stop = threading.Event()
        self.drawer = threading.Thread(target=self._draw, daemon=True)
        self.drain = threading.Thread(target=self._drain, daemon=True)
        self.drawer.start()
        self.drain.start()

    def _draw(self) -> None:
        try:
            self.sock.sendall(GREETING)
            while not self.stop.is_set():
                self.sock.sendall(FRAME)
        except OSError:
            pass

    def _drain(self) -> None:
        try:
            while self.sock.recv(65536):
                pass
        except OSError:
            pass

    def finish(self) -> None:
        self.stop.set()
        self.sock.close()
        self.drawer.join(10)
        self.drain.join(10)


@pytest.fixture
def thread_failures() -> Iterator[list[str]]:
    """Every exception that escapes a thread during the test (the default hook only prints them).

    What earlier tests left for the garbage collector is collected here first, on this thread, and
    automatic collection waits until the end: a Qt object of theirs must not be freed on a storm thread.
    """
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    failures: list[str] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: failures.append(f"{args.thread.name if args.thread else '?'}: "
                                                        f"{args.exc_type.__name__}: {args.exc_value}")
    yield failures
    threading.excepthook = previous
    if enabled:
        gc.enable()


def test_closing_during_a_pointer_and_key_storm_ends_every_thread_quietly(thread_failures: list[str]) -> None:
    for round_ in range(40):
        ours, theirs = socket.socketpair()
        server = DrawingServer(theirs)
        ends = Ends()
        session = RfbSession(ours, ends, name="mouse")
        session.start()
        assert ends.connected.wait(10)
        go = threading.Event()

        def storm(session: RfbSession = session, go: threading.Event = go) -> None:
            go.wait()
            for i in range(3000):
                session.pointer(i & 1, i % WIDTH, i % HEIGHT)
                session.pointer_relative(0, 1, -1)
                session.key(bool(i & 1), 0x61, 0x1E)
        storms = [threading.Thread(target=storm) for _ in range(3)]
        closers = [threading.Thread(target=session.close) for _ in range(3)]
        for t in storms:
            t.start()
        go.set()
        for t in closers:  # the window closes from the UI thread while the reader and writer are busy
            t.start()
        for t in storms + closers:
            t.join(30)
        for name in ("vmgui-rfb-mouse", "vmgui-rfb-in-mouse"):
            thread = next((t for t in threading.enumerate() if t.name == name), None)
            if thread is not None:
                thread.join(10)
                assert not thread.is_alive(), f"{name} still runs after close (round {round_})"
        server.finish()
        assert session.closed
        assert ends.ends == [""], f"the end is told once, as a close on purpose (round {round_})"
    assert thread_failures == []


def test_input_to_a_closed_client_goes_nowhere_without_an_error() -> None:
    ours, theirs = socket.socketpair()
    client = RfbClient(ours)
    client.close()
    client.close()  # twice is harmless
    client.pointer(1, 10, 10)
    client.pointer_relative(0, 5, 5)
    client.key(True, 0x61)
    assert client.closed
    theirs.settimeout(5)
    assert theirs.recv(100) == b"", "nothing was sent after the close"
    theirs.close()


def test_the_server_hanging_up_while_the_window_closes_tells_the_end_once(thread_failures: list[str]) -> None:
    for _ in range(40):
        ours, theirs = socket.socketpair()
        ends = Ends()
        session = RfbSession(ours, ends, name="hangup")
        theirs.sendall(GREETING)
        session.start()
        assert ends.connected.wait(10)
        closer = threading.Thread(target=session.close)
        theirs.close()  # the VM's end goes away ...
        closer.start()  # ... as the window closes
        closer.join(10)
        reader = next((t for t in threading.enumerate() if t.name == "vmgui-rfb-hangup"), None)
        if reader is not None:
            reader.join(10)
        assert len(ends.ends) == 1 and ends.ends[0] in ("", "the VNC server closed the connection"), ends.ends
    assert thread_failures == []
