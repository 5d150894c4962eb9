"""At start, the window also opens this machine's libvirt daemons that answer: a virt-manager
user sees their VMs. No daemon is no news; a silent one never holds the window up."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest
from libvirt_hosts import running_libvirtd
from test_hung import StallMeter

from drivers.libvirt import discover
from vmgui import app as vmgui_app
from vmgui.models import settings as store
from vmgui.models.connections import ConnState

pytestmark = pytest.mark.libvirt
libvirt = pytest.importorskip("libvirt")


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, node_uri: str) -> Path:
    """This machine as discovery sees it: its own runtime dir, no system daemon, a demo host as default."""
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setattr(discover, "SYSTEM_SOCKET_DIR", tmp_path / "no-system-daemon")
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI", raising=False)
    monkeypatch.setattr(vmgui_app, "default_uri", lambda: (node_uri, "the demo host"))
    return runtime


def open_at_start(qtbot, settings) -> tuple:
    window = vmgui_app.start([], settings)
    found: list[list[str]] = []
    window.session.discovered.connect(found.append)  # discovery runs once the loop turns
    qtbot.addWidget(window)
    window.show()
    return window, found


def ready(window, uri: str) -> bool:
    row = window.session.connections.get(uri)
    return row is not None and row.ready


def table_names(window) -> list[str]:
    model = window.table.model()
    return [model.index(row, 0).data() for row in range(model.rowCount())]


@pytest.fixture(scope="module")
def users_daemon():
    """The user's own session daemon, holding a VM made with another libvirt tool."""
    with running_libvirtd("5c0c6d43-5a51-4c6a-9d1f-0000000000d1", "libvirtd-discovery") as daemon:
        conn = libvirt.open(daemon.uri)
        conn.defineXML(daemon.domain_xml("from-virt-manager"))
        conn.close()
        yield daemon


def test_the_users_libvirt_vms_show_up_in_the_window(qtbot, aloop, settings, machine, monkeypatch, users_daemon):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(users_daemon.root / "run"))
    window, found = open_at_start(qtbot, settings)
    qtbot.waitUntil(lambda: "from-virt-manager" in table_names(window), timeout=60000)
    uri = f"qemu:///session?socket={users_daemon.sock}"
    assert found == [[uri]]
    # its rows can be on screen a moment before the connection's row says connected (the first
    # listing is shown as soon as it arrives)
    qtbot.waitUntil(lambda: window.session.connections.get(uri).state is ConnState.CONNECTED, timeout=10000)
    texts = [m.full_text() for m in window.session.messages.messages()]
    assert any(f"qemu:///session: libvirt's session daemon answered ({users_daemon.sock})" in t
               for t in texts), texts
    assert any(f"discover_libvirt = false under [connections] in {settings.fileName()}" in t for t in texts), texts
    sentence = f"qemu:///session: libvirt's session daemon answered ({users_daemon.sock})"
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == sentence, timeout=10000)
    assert store.open_uris(settings) == []  # found anew each start, never remembered as the user's
    window.session.close(uri)


def test_a_daemon_already_open_is_not_opened_twice(qtbot, aloop, settings, machine, monkeypatch, users_daemon):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(users_daemon.root / "run"))
    uri = f"qemu:///session?socket={users_daemon.sock}"
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", uri)
    window, found = open_at_start(qtbot, settings)
    qtbot.waitUntil(lambda: bool(found), timeout=30000)
    assert found == [[]]
    qtbot.waitUntil(lambda: "from-virt-manager" in table_names(window), timeout=60000)
    assert table_names(window).count("from-virt-manager") == 1
    assert window.session.messages.messages() == []
    window.session.close(uri)


def test_no_daemon_opens_nothing_and_says_nothing(qtbot, aloop, settings, machine, node_uri):
    window, found = open_at_start(qtbot, settings)
    qtbot.waitUntil(lambda: bool(found), timeout=30000)
    assert found == [[]]
    qtbot.waitUntil(lambda: ready(window, node_uri), timeout=10000)
    assert window.session.connections.uris() == [node_uri]
    assert window.session.messages.messages() == []


def test_a_silent_daemon_is_left_closed_and_the_window_never_waits(qtbot, aloop, settings, machine, node_uri):
    (machine / "libvirt").mkdir()
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(str(machine / "libvirt" / "virtqemud-sock"))
    silent.listen(8)
    meter = StallMeter()
    try:
        window, found = open_at_start(qtbot, settings)
        qtbot.waitUntil(lambda: ready(window, node_uri), timeout=10000)
        assert not found, "the demo host loaded only after the probe of the silent daemon ended"
        qtbot.waitUntil(lambda: bool(found), timeout=30000)
        assert found == [[]]
        assert window.session.connections.uris() == [node_uri]
        assert window.session.messages.messages() == []
        assert meter.worst < 1.0, f"the event loop stalled {meter.worst:.3f} s"
    finally:
        meter.timer.stop()
        meter.timer.deleteLater()
        silent.close()


@pytest.mark.parametrize("switch", ["true", "false"])
def test_the_setting_turns_discovery_off(qtbot, aloop, settings, machine, node_uri, monkeypatch, switch):
    settings.setValue(store.DISCOVER_LIBVIRT_KEY, switch)
    calls: list[str] = []
    monkeypatch.setattr(discover, "discover", lambda *a, **k: calls.append("asked") or [])
    window, found = open_at_start(qtbot, settings)
    qtbot.waitUntil(lambda: ready(window, node_uri), timeout=10000)
    if switch == "true":  # the same path does ask when switched on: the "false" case is not vacuous
        qtbot.waitUntil(lambda: bool(found), timeout=30000)
        assert calls == ["asked"] and found == [[]]
    else:
        qtbot.wait(1000)
        assert calls == [] and found == []


def test_the_switch_is_on_by_default_and_shows_in_the_settings_file(settings):
    assert store.discover_libvirt(settings)
    settings.sync()
    assert "discover_libvirt=true" in Path(settings.fileName()).read_text()
    for off in ("false", "0", "no", "off", "False"):
        settings.setValue(store.DISCOVER_LIBVIRT_KEY, off)
        assert not store.discover_libvirt(settings), off
    settings.setValue(store.DISCOVER_LIBVIRT_KEY, "true")
    assert store.discover_libvirt(settings)
