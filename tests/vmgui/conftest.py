"""Shared fixtures: an offscreen Qt, a qasync loop pytest-qt can drive, private test hosts.

Every test opens private ``test:///<tmp node file>`` connections, so no test
changes the process-wide ``test:///default`` demo host another test sees.
"""
from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import qasync
from PySide6.QtCore import QCoreApplication, QEvent, QSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vmgui_nodes

from drivers.test import DEFAULT_NODE_XML
from vmgui.models import pathprobe, quitting

# The offscreen platform plugin says these for top-level windows (it has no window manager); not our bug.
OFFSCREEN_NOISE = "This plugin does not support (propagateSizeHints|raise|grabbing the mouse)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:  # the hook sees every test of the session: mark only ours
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))


@pytest.fixture
def aloop(qapp) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop marked running, so coroutines advance while qtbot processes Qt events."""
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    asyncio.events._set_running_loop(loop)
    yield loop
    for _ in range(5):  # let cancelled tasks finish cancelling before the loop closes
        qapp.processEvents()
        time.sleep(0.005)
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture(autouse=True)
def private_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a test starts, it never reads or writes the user's real vmgui settings."""
    monkeypatch.setenv("VMGUI_SETTINGS", str(tmp_path / "vmgui-settings.ini"))


@pytest.fixture(autouse=True)
def no_desktop_notifications(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A job a test finishes "in the background" never pops up on the desktop of whoever runs the tests."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-session-bus'}")


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "vmgui.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def node_uri(tmp_path: Path) -> str:
    """A private copy of the demo host (same domains as test:///default)."""
    path = tmp_path / "demo.xml"
    path.write_text(DEFAULT_NODE_XML, encoding="utf-8")
    return f"test://{path}"


@pytest.fixture
def make_node(tmp_path: Path):
    """make_node(count, name='nodeN.xml', rate=None) -> a private test:/// URI."""
    counter = iter(range(1000))

    def make(count: int = 0, xml: str | None = None, rate: float | None = None) -> str:
        path = tmp_path / f"node{next(counter)}.xml"
        if xml is not None:
            path.write_text(xml, encoding="utf-8")
            uri = f"test://{path}"
        else:
            uri = vmgui_nodes.write_node(str(path), count)
        return f"{uri}?rate={rate:g}" if rate else uri
    return make


@pytest.fixture
def open_window(qtbot, aloop, settings):
    """open_window(*uris) -> a shown MainWindow whose connections are all connected."""
    from vmgui.app import start
    from vmgui.models.connections import ConnState
    windows = []

    def make(*uris: str, wait: bool = True):
        window = start(list(uris), settings)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        if wait:
            def ready() -> None:
                states = [window.session.connections.get(u) for u in uris]
                assert all(s is not None and s.state is not ConnState.CONNECTING for s in states)
            qtbot.waitUntil(ready, timeout=10000)
            window.refresh_selection_state()
        return window

    yield make
    settings.setValue(quitting.SETTING, "false")  # the test is over: close without asking
    for window in windows:
        window.session.stop()
        window.close()
        window.deleteLater()


@pytest.fixture(autouse=True)
def collect_qt_objects_here(qapp) -> Iterator[None]:
    """Free this test's Qt objects on the UI thread (see vmgui.gcguard: the app does the same).

    Left to automatic collection, a window could be freed from whatever thread
    allocates at that moment (a driver or worker thread): Qt then warns that
    timers cannot be stopped from another thread, or crashes.
    """
    enabled = gc.isenabled()
    gc.disable()
    yield
    for _ in range(2):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        gc.collect()
    if enabled:
        gc.enable()


@pytest.fixture
def dead_mount(monkeypatch: pytest.MonkeyPatch):
    """Paths under /mnt/dead hang like a dead NFS server's until the test ends; looks time out after 0.5 s."""
    release = threading.Event()
    real = pathprobe.probe

    def hanging(paths):
        if any(p.startswith("/mnt/dead") for p in paths):
            release.wait(60)
        return real(paths)
    monkeypatch.setattr(pathprobe, "probe", hanging)
    monkeypatch.setattr(pathprobe, "TIMEOUT_S", 0.5)
    yield "/mnt/dead"
    release.set()  # let the stuck daemon threads finish
