"""A driver call that hangs never freezes the window, and the user can give up on it.

The hanging connection is a fake on purpose: the hang is the point. Everything
else (window, bridge, the other connection) is real.
"""
from __future__ import annotations

import asyncio
import threading
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction

import drivers
from drivers import DomainState, DriverError, ErrorCode, Feature
from vmgui.bridge import Bridge, CallAbandoned
from vmgui.models.connections import ConnState

HUNG = "hung:///nowhere"


class HungConnection(drivers.Connection):
    """Opens fine, then every listing blocks until ``release`` is set."""

    FEATURES = frozenset({Feature.JOBS})

    def __init__(self, uri: str, release: threading.Event) -> None:
        super().__init__(uri)
        self.release = release

    def register_event_callback(self, fn) -> int:
        return 1

    def get_all_domain_stats(self, flags: int = 0) -> list:
        self.release.wait(60)
        return []


@pytest.fixture
def release(monkeypatch):
    """Route hung:/// URIs to HungConnection (and hang-open:/// to an open() that hangs)."""
    event = threading.Event()
    real_open = drivers.open

    def fake_open(uri: str) -> drivers.Connection:
        if uri.startswith("hang-open:"):
            event.wait(60)
        if uri.startswith(("hung:", "hang-open:")):
            return HungConnection(uri, event)
        return real_open(uri)
    monkeypatch.setattr(drivers, "open", fake_open)
    yield event
    event.set()  # let the stuck daemon threads finish


class StallMeter:
    """Largest gap between ticks of a 10 ms timer: how long the event loop was blocked."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._last = time.monotonic()
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.monotonic()
        self.worst = max(self.worst, now - self._last)
        self._last = now


def test_hung_connection_shows_busy_and_the_rest_keeps_working(open_window, node_uri, release, qtbot):
    meter = StallMeter()
    window = open_window(node_uri, HUNG, wait=False)
    qtbot.waitUntil(lambda: window.table.model().rowCount() == 8)  # the good host loads meanwhile
    conns = window.session.connections
    assert conns.get(HUNG).state is ConnState.CONNECTING
    qtbot.waitUntil(lambda: "listing domains of hung:///nowhere" in conns.get(HUNG).busy, timeout=3000)
    chip = window.conn_status.chips[HUNG]
    assert chip.give_up.isVisibleTo(window) and "busy" in chip.text.text()
    # the good connection still answers actions while the other hangs
    model = window.table.model()
    window.table.selectRow([model.index(r, 0).data() for r in range(model.rowCount())].index("test"))
    window.refresh_selection_state()
    window.findChild(QAction, "actionPause").trigger()
    good = window.session.bridge.connection(node_uri)
    qtbot.waitUntil(lambda: good.lookup_by_name("test").state()[0] == DomainState.PAUSED)
    assert meter.worst < 1.0, f"the event loop stalled {meter.worst:.3f} s"  # frozen = the whole hang
    chip.give_up.click()
    qtbot.waitUntil(lambda: conns.get(HUNG).state is ConnState.FAILED)
    assert "gave up" in conns.get(HUNG).message
    qtbot.waitUntil(lambda: not conns.get(HUNG).busy)
    assert not window.session.messages.messages() or all(
        "Traceback" not in m.full_text() for m in window.session.messages.messages())
    meter.timer.stop()
    meter.timer.deleteLater()


def test_open_that_hangs_never_delays_the_window(open_window, node_uri, release, qtbot):
    start = time.monotonic()
    window = open_window("hang-open:///x", node_uri, wait=False)
    assert window.isVisible() and time.monotonic() - start < 2.0
    qtbot.waitUntil(lambda: window.table.model().rowCount() == 8)
    assert window.session.connections.get("hang-open:///x").state is ConnState.CONNECTING
    window.conn_status.chips["hang-open:///x"].close_button.click()  # close it while it hangs
    assert window.session.connections.get("hang-open:///x") is None
    assert window.table.model().rowCount() == 8


def run(qtbot, coro):
    """Drive ``coro`` on the qasync loop while Qt events are processed."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=10000)
    return task


def test_bridge_timeout_and_per_connection_share(aloop, qtbot, node_uri, release):
    bridge = Bridge(per_connection=2)
    try:
        run(qtbot, bridge.open(HUNG))
        run(qtbot, bridge.open(node_uri))
        slow = [asyncio.ensure_future(bridge.list_records(HUNG)) for _ in range(5)]
        timed = run(qtbot, bridge.call(HUNG, lambda c: c.get_all_domain_stats(), "listing", timeout=0.2))
        assert isinstance(timed.exception(), DriverError) and timed.exception().code is ErrorCode.OPERATION_TIMEOUT
        # five hung calls on one host never take the other host's share of the pool
        good = run(qtbot, bridge.list_records(node_uri))
        assert len(good.result()) == 8
        assert bridge.give_up(HUNG) >= 5
        qtbot.waitUntil(lambda: all(t.done() for t in slow))
        assert all(isinstance(t.exception(), CallAbandoned) for t in slow)
    finally:
        bridge.shutdown()
        bridge.deleteLater()  # on this thread: a QObject with timers must not die in a GC run elsewhere


def test_a_connection_that_opens_after_the_window_closed_is_closed_and_nothing_fails(aloop, qtbot, release,
                                                                                     monkeypatch):
    closed: list[str] = []
    monkeypatch.setattr(HungConnection, "close", lambda self: closed.append(self.uri), raising=False)
    bridge = Bridge()
    try:
        late = run(qtbot, bridge.open("hang-open:///late", timeout=0.2))  # the user gave up on it
        assert isinstance(late.exception(), DriverError)
        release.set()  # the host answers: the worker hands the late connection to the UI thread, queued...
        time.sleep(2)  # (no Qt events processed here: the hand-over waits in the queue)
        bridge.shutdown()  # ...and the window closes, the pool with it, before the UI thread takes it
        qtbot.waitUntil(lambda: closed == ["hang-open:///late"], timeout=5000)  # no traceback in the event loop
    finally:
        bridge.deleteLater()
