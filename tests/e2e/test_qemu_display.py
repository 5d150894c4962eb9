"""The display of real QEMU guests through Domain.open_graphics and the RFB client."""
from __future__ import annotations

import socket

import e2e_helpers as h
import pytest
from rfbwatch import Watcher, wait_until_equal

from drivers import DomainXMLFlags, DriverError, ErrorCode
from drivers.domxml import DomainXML
from vmgui.rfb import PasswordRequired, RfbClient
from vmgui.rfb.client import DEFAULT_ENCODINGS, ZRLE_FIRST

pytestmark = pytest.mark.qemu

VNC = "<graphics type='vnc'/>"


@pytest.mark.parametrize("encodings", [DEFAULT_ENCODINGS, ZRLE_FIRST], ids=["raw-first", "zrle-first"])
def test_open_graphics_speaks_rfb_and_the_frame_equals_the_screendump(env, encodings):
    conn = env.open()
    dom = conn.create_xml(env.xml("scr", extra_devices=VNC))
    h.wait_heartbeat(env.serial("scr"), 1)
    client = RfbClient(dom.open_graphics(), encodings)
    init = client.handshake()
    assert init.version == (3, 8)
    assert (init.width, init.height) == (720, 400)  # VGA text mode, as the screendump
    assert init.name == "QEMU (scr)"
    assert dom._dom().live.mon.execute("query-display-options") == {"type": "dbus", "p2p": True}, \
        "the D-Bus display that keeps QEMU's refresh at 30 ms runs beside VNC"
    watcher = Watcher(client)
    try:
        watcher.wait_updates(1)
        wait_until_equal(watcher.frame_rgb, dom.screenshot, lambda: watcher.last_update)
        assert client.extended_keys, "QEMU confirms its extended key event"
        client.key(True, 0x61, 0x1E)  # input is accepted (the test guest ignores the keyboard)
        client.key(False, 0x61, 0x1E)
        client.pointer(0, 10, 10)
        watcher.wait_updates(watcher.updates + 1)  # incremental requests keep being answered
    finally:
        watcher.stop()
    assert watcher.error is None


def test_two_displays_open_at_once_and_a_destroyed_guest_ends_the_stream(env):
    conn = env.open()
    dom = conn.create_xml(env.xml("two", extra_devices=VNC))
    first, second = RfbClient(dom.open_graphics()), RfbClient(dom.open_graphics())
    first.handshake()
    second.handshake()
    watchers = [Watcher(first), Watcher(second)]
    for w in watchers:
        w.wait_updates(1)
    dom.destroy()
    for w in watchers:
        assert w.done.wait(30), "the reader ends when QEMU goes away"
        assert w.error is not None and "closed the connection" in str(w.error)


def test_open_graphics_refusals(env):
    conn = env.open()
    off = conn.define_xml(env.xml("off", extra_devices=VNC))
    with h.refused(ErrorCode.OPERATION_INVALID):
        off.open_graphics()
    bare = conn.create_xml(env.xml("bare"))
    with pytest.raises(DriverError) as err:
        bare.open_graphics()
    assert err.value.code == ErrorCode.NO_SUPPORT and "add <graphics type='vnc'/>" in err.value.message
    shown = conn.create_xml(env.xml("shown", extra_devices=VNC))
    with pytest.raises(DriverError) as err:
        shown.open_graphics(1)
    assert err.value.code == ErrorCode.NO_SUPPORT and "index 0" in err.value.message
    with h.refused(ErrorCode.INVALID_ARG):
        shown.open_graphics(-1)


@pytest.mark.slow
def test_the_frame_follows_the_guest_into_a_1024x768_mode(env, linux_guest):
    """Connected from power-on: the kernel's switch from VGA text to a VESA mode arrives as a desktop
    resize, and the new screen is drawn whole."""
    conn = env.open()
    cmdline = linux_guest.cmdline("tty1", extra="vga=0x318")
    dom = conn.create_xml(env.xml("vesa", memory_mib=256, kernel=linux_guest.kernel, initrd=linux_guest.initrd,
                                  cmdline=cmdline, extra_devices=VNC))
    client = RfbClient(dom.open_graphics())
    init = client.handshake()
    assert (init.width, init.height) != (1024, 768), "connected before the guest set its mode"
    watcher = Watcher(client)
    try:
        env.guest("vesa").wait_for(b"VMGUI READY", timeout=90)
        wait_until_equal(watcher.frame_rgb, dom.screenshot, lambda: watcher.last_update)
        assert watcher.resizes and watcher.resizes[-1] == (1024, 768), watcher.resizes
        assert watcher.frame_rgb()[:2] == (1024, 768)
    finally:
        watcher.stop()
    assert watcher.error is None


def test_a_vnc_password_from_the_xml_guards_the_socket_and_the_client_answers_it(env):
    """<graphics passwd=...>: QEMU's socket asks for the password (what an ssh tunnel or an external viewer
    reaches); open_graphics hands over a stream that skips it, as libvirt's SKIPAUTH does."""
    conn = env.open()
    dom = conn.create_xml(env.xml("pw", extra_devices="<graphics type='vnc' passwd='secret12'/>"))
    h.wait_heartbeat(env.serial("pw"), 1)
    (graphics,) = DomainXML.parse(dom.xml_desc()).graphics()
    assert graphics.socket, "QEMU's VNC socket is in the live XML"
    assert graphics.passwd is None, "a plain read hides the password, as libvirt's does"
    assert [g.passwd for g in DomainXML.parse(dom.xml_desc(DomainXMLFlags.SECURE)).graphics()] == ["secret12"]

    def connect(password: str | None) -> RfbClient:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(graphics.socket)
        return RfbClient(sock, password=password)

    for password, refused in ((None, False), ("wrong", True), ("", True)):
        client = connect(password)
        with pytest.raises(PasswordRequired) as err:
            client.handshake()
        client.close()
        assert err.value.refused is refused
    client = connect("secret12")
    client.handshake()
    watcher = Watcher(client)
    try:
        watcher.wait_updates(1)
        wait_until_equal(watcher.frame_rgb, dom.screenshot, lambda: watcher.last_update)
    finally:
        watcher.stop()
    assert watcher.error is None
    inside = RfbClient(dom.open_graphics())  # no password: the driver's own stream skips it
    assert inside.handshake().name == "QEMU (pw)"
    inside.close()
