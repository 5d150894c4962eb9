"""Real QEMU behind the GUI: the migration dialog between two qemu:///embed roots, and the VNC address.

The window fixtures are tests/vmgui/conftest.py's (borrowed_fixtures), so this
file drives the same offscreen window the GUI tests do.
"""
from __future__ import annotations

import socket

import e2e_helpers as h
import pytest
from borrowed_fixtures import borrow

from drivers import DomainState, JobOperation, JobState
from vmgui.models import vnc
from vmgui.views.migrateflow import MigrateFlow

_gui = borrow("vmgui")
aloop, settings, open_window = _gui.aloop, _gui.settings, _gui.open_window
private_settings, collect_qt_objects_here = _gui.private_settings, _gui.collect_qt_objects_here

pytestmark = [pytest.mark.qemu, pytest.mark.qt_log_ignore(_gui.OFFSCREEN_NOISE)]


def _rfb_greeting(address: vnc.VncAddress) -> bytes:
    family, where = ((socket.AF_UNIX, address.socket) if address.socket
                     else (socket.AF_INET6 if ":" in address.host else socket.AF_INET, (address.host, address.port)))
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(where)
        data = b""
        while len(data) < 12:
            chunk = sock.recv(12 - len(data))
            if not chunk:
                break
            data += chunk
        return data


def _free_vnc_port() -> int:
    for port in range(5990, 5900, -1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free VNC port between 5901 and 5990")


@pytest.mark.parametrize("graphics", ["<graphics type='vnc'/>", "port"])
def test_the_computed_vnc_address_answers_rfb(env, graphics):
    conn = env.open()
    if graphics == "port":
        graphics = f"<graphics type='vnc' port='{_free_vnc_port()}' listen='127.0.0.1'/>"
    dom = conn.create_xml(env.xml("vnc", extra_devices=graphics))
    address = vnc.vnc_address(dom.xml_desc())
    assert address is not None
    assert _rfb_greeting(address) == b"RFB 003.008\n"
    argv, viewer = vnc.choose((("remote-viewer", "/usr/bin/remote-viewer"),),
                              vnc.Target(address, *vnc.libvirt_target(conn.uri), "vnc"))
    assert viewer == "remote-viewer" and argv is not None
    assert argv[1] == (f"vnc+unix://{address.socket}" if address.socket else f"vnc://127.0.0.1:{address.port}")


def _ask(window, qtbot, uri: str, name: str, dest: str):
    key = (uri, window.session.bridge.connection(uri).lookup_by_name(name).uuid)
    qtbot.waitUntil(lambda: window.session.domains.get(key) is not None)
    dialog = MigrateFlow(window.session, window.commands._show, window).ask([key])
    dialog.dest.setCurrentText(dest)
    qtbot.waitUntil(lambda: dialog.checks() is not None, timeout=20000)
    return dialog


def test_migrate_through_the_dialog_between_two_roots(env, open_window, qtbot):
    a, b = env.open("hostA"), env.open("hostB")  # also what the env's cleanup stops
    shared = h.make_qcow2(env.base / "shared.qcow2")
    a.define_xml(env.xml("mover", memory_mib=48, disks=[{"path": shared}])).create()
    serial = env.serial("mover")
    before = h.wait_heartbeat(serial, 2)
    a.define_xml(env.xml("cold", disks=[{"path": str(env.base / "on-a-only.qcow2")}]))  # no such file here
    parked = h.make_qcow2(env.base / "parked.qcow2")
    a.define_xml(env.xml("parked", disks=[{"path": parked}]))
    src, dest = env.uri("hostA"), env.uri("hostB")
    window = open_window(src, dest)

    dialog = _ask(window, qtbot, src, "cold", dest)
    reason = f"the destination {dest} cannot see {env.base / 'on-a-only.qcow2'}"
    assert reason in dialog.error.text() and not dialog.start.isEnabled()
    dialog.reject()

    dialog = _ask(window, qtbot, src, "mover", dest)
    assert dialog.start.isEnabled(), dialog.error.text()
    lines = [dialog.check_list.item(i).text() for i in range(dialog.check_list.count())]
    assert f"{dest} sees its disk" in lines
    problem = a.lookup_by_name("mover").live_migration_problem()  # the driver's answer for this QEMU
    if problem:  # the reason is shown, and Live cannot be ticked
        assert f"mover moves paused, not live: {problem}" in lines
        assert not dialog.live.isChecked() and not dialog.live.isEnabled()
        assert dialog.live.toolTip() == f"Not available: {problem}."
    else:
        assert dialog.live.isChecked() and dialog.live.isEnabled()
    dialog.start.click()

    def done(uri: str, operation: JobOperation) -> bool:
        rows = [r for r in window.session.jobs.rows() if r.key[0] == uri and r.info.operation == operation]
        return bool(rows) and rows[-1].info.state is JobState.COMPLETED
    qtbot.waitUntil(lambda: done(src, JobOperation.MIGRATION_OUT), timeout=60000)
    out = [r for r in window.session.jobs.rows() if r.key[0] == src][-1]
    assert out.info.detail("paused_copy") is None, "the dialog asked for a paused copy itself"
    moved = b.lookup_by_name("mover")
    assert moved.state()[0] == DomainState.RUNNING and moved.is_persistent()
    h.wait_heartbeat(serial, before + 2)
    assert h.boots(serial) == 1, "the guest continued, it was not rebooted"

    dialog = _ask(window, qtbot, src, "parked", dest)  # shut off: offline, the definition only
    assert dialog.start.isEnabled() and dialog.offline_note.isVisibleTo(dialog), dialog.error.text()
    dialog.start.click()
    qtbot.waitUntil(lambda: any(d.name == "parked" for d in b.list_all_domains()), timeout=30000)
    parked_b = b.lookup_by_name("parked")
    assert parked_b.is_persistent() and not parked_b.is_active()
    assert not any(m.level == "error" for m in window.session.messages.messages())
