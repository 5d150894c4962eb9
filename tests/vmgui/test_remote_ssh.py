"""A remote libvirt host for real: ``qemu+ssh://`` through a private sshd on 127.0.0.1 to a private
libvirtd, in the real window. List, start, a save job with its figures, then the host going away
(sshd and its tunnels killed) shows as disconnected while the window keeps painting, and
connecting again works once sshd is back. A host that stops answering without closing anything
(sshd frozen) is found out by libvirt's keepalive, while the other connections go on working."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from libvirt_hosts import running_libvirtd
from private_sshd import PrivateSshd, unavailable_reason
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import QProgressBar
from rfbwatch import Watcher, qimage_rgb, wait_until_equal
from test_hung import StallMeter

import drivers
from drivers import DomainState, DriverError, ErrorCode, EventType, JobOperation, JobState
from drivers.base import Screenshot
from drivers.domxml import DomainXML
from drivers.flags import JobEventDetail
from vmgui.models.connections import ConnState
from vmgui.rfb import PasswordRequired, RfbClient

pytestmark = [pytest.mark.libvirt, pytest.mark.qemu, pytest.mark.slow]
libvirt = pytest.importorskip("libvirt")

GUEST = "over-ssh"
MEMORY_MIB = 256


@pytest.fixture
def remote():
    """(daemon, sshd): a libvirtd reachable only through the private sshd's qemu+ssh URI."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no private sshd: {reason}")
    with running_libvirtd("5c0c6d43-5a51-4c6a-9d1f-0000000000e1", "libvirtd-ssh") as daemon:
        sshd = PrivateSshd()
        try:
            sshd.start()
            conn = libvirt.open(daemon.uri)
            conn.defineXML(daemon.domain_xml(GUEST, memory_mib=MEMORY_MIB))
            conn.close()
            yield daemon, sshd
        finally:
            sshd.stop()
            sshd.remove()


def select(window, uri: str, name: str) -> tuple[str, str]:
    model = window.session.domains
    key = next(model.row_at(i).key for i in range(model.rowCount())
               if model.row_at(i).key[0] == uri and model.row_at(i).rec.name == name)
    window.table.clearSelection()
    assert window.table.select_key(key)
    window.refresh_selection_state()
    return key


def record(window, key):
    row = window.session.domains.get(key)
    return row.rec if row is not None else None


def trigger(window, qtbot, name: str) -> None:
    action = window.findChild(QAction, name)
    qtbot.waitUntil(action.isEnabled, timeout=10000)  # as for a user: once the row shows the state
    action.trigger()


def test_a_host_over_ssh_lists_starts_saves_goes_away_and_comes_back(open_window, qtbot, remote):
    daemon, sshd = remote
    uri = sshd.libvirt_uri(daemon.sock)
    window = open_window(uri)
    conns = window.session.connections
    assert conns.get(uri).state is ConnState.CONNECTED, conns.get(uri).message
    key = select(window, uri, GUEST)
    assert record(window, key).state is DomainState.SHUTOFF

    trigger(window, qtbot, "actionStart")
    qtbot.waitUntil(lambda: record(window, key).state is DomainState.RUNNING, timeout=60000)

    jobs: list = []
    window.session.bridge.eventsArrived.connect(
        lambda u, events: jobs.extend(e for e in events if u == uri and e.type == EventType.JOB))
    trigger(window, qtbot, "actionSave")

    def saved_job():
        return next((r for r in window.session.jobs.rows() if r.key[0] == uri
                     and r.info.operation is JobOperation.SAVE and r.info.finished), None)
    qtbot.waitUntil(lambda: saved_job() is not None, timeout=120000)
    final = saved_job().info
    assert final.state is JobState.COMPLETED, final.error
    assert final.total and final.processed == final.total >= MEMORY_MIB * 1024 * 1024 // 2
    assert any(e.job.state is JobState.RUNNING for e in jobs), "no running job was reported over ssh"
    bar = window.findChild(QProgressBar, f"jobProgress_{final.id}")
    assert bar.value() == 100 and "completed" in bar.format()
    assert all(0 <= e.job.processed <= (e.job.total or e.job.processed) for e in jobs
               if e.detail == JobEventDetail.PROGRESS)
    qtbot.waitUntil(lambda: record(window, key).managed_save, timeout=30000)

    meter = StallMeter()
    try:
        sshd.kill()  # the host goes away: server and tunnel
        qtbot.waitUntil(lambda: conns.get(uri).state is ConnState.DISCONNECTED, timeout=60000)
        assert any(m.title == f"Lost the connection to {uri}" for m in window.session.messages.messages())
        assert "Traceback" not in "".join(m.full_text() for m in window.session.messages.messages())
        qtbot.wait(1000)  # the window goes on painting with the host gone
        assert meter.worst < 1.0, f"the event loop stalled {meter.worst:.3f} s"

        sshd.start()  # back, same address and keys
        window.connect_uri(uri)
        qtbot.waitUntil(lambda: conns.get(uri).state is ConnState.CONNECTED, timeout=60000)
        key = select(window, uri, GUEST)
        assert record(window, key).managed_save
        trigger(window, qtbot, "actionStart")  # restores the saved guest
        qtbot.waitUntil(lambda: record(window, key).state is DomainState.RUNNING, timeout=60000)
        assert not record(window, key).managed_save
        assert meter.worst < 1.0, f"the event loop stalled {meter.worst:.3f} s"
    finally:
        meter.timer.stop()
        meter.timer.deleteLater()
    window.session.close(uri)


def test_a_host_that_stops_answering_is_dropped_by_keepalive_and_nothing_waits(open_window, node_uri, qtbot,
                                                                               remote):
    daemon, sshd = remote
    uri = sshd.libvirt_uri(daemon.sock)
    window = open_window(uri, node_uri)
    conns = window.session.connections
    assert conns.get(uri).state is ConnState.CONNECTED, conns.get(uri).message
    meter = StallMeter()
    try:
        sshd.freeze()  # no FIN, no RST: only keepalive can tell
        good = window.session.bridge.connection(node_uri)
        key = select(window, node_uri, "test")
        trigger(window, qtbot, "actionPause")  # the other host still answers meanwhile
        qtbot.waitUntil(lambda: good.lookup_by_name("test").state()[0] is DomainState.PAUSED, timeout=10000)
        # the regular re-sync runs into the silence: the host shows as busy, not the window
        qtbot.waitUntil(lambda: "listing domains" in conns.get(uri).busy, timeout=30000)
        qtbot.waitUntil(lambda: conns.get(uri).state is ConnState.DISCONNECTED, timeout=90000)
        lost = [m for m in window.session.messages.messages() if m.title == f"Lost the connection to {uri}"]
        assert lost and "keepalive timeout" in lost[0].text, [m.full_text() for m in lost]
        assert record(window, key).state is DomainState.PAUSED
        assert meter.worst < 1.0, f"the event loop stalled {meter.worst:.3f} s"
        sshd.thaw()
        window.connect_uri(uri)
        qtbot.waitUntil(lambda: conns.get(uri).state is ConnState.CONNECTED, timeout=60000)
        assert GUEST in window.session.domains.names(uri)
    finally:
        meter.timer.stop()
        meter.timer.deleteLater()
    window.session.close(uri)


def test_the_display_of_a_vm_on_a_host_over_ssh_comes_through_an_ssh_tunnel(remote):
    """libvirt cannot pass a descriptor over ssh: the VNC endpoint of the live XML is reached through ssh
    (a unix socket with -L, a TCP port with -W), the frame equals QEMU's screendump, and the display's
    password is asked for."""
    daemon, sshd = remote
    conn = drivers.open(sshd.libvirt_uri(daemon.sock))
    try:
        for name, graphics_xml in (
                ("ssh-socket", "<graphics type='vnc' passwd='secret12'><listen type='socket'/></graphics>"),
                ("ssh-tcp", "<graphics type='vnc' autoport='yes' listen='127.0.0.1' passwd='secret12'/>")):
            dom = conn.define_xml(daemon.domain_xml(name, memory_mib=64).replace(
                "</devices>", graphics_xml + "</devices>"))
            dom.create()
            (graphics,) = DomainXML.parse(dom.xml_desc()).graphics()
            assert graphics.socket or graphics.port, "libvirt names the display's socket or port in the live XML"
            asking = RfbClient(dom.open_graphics())
            with pytest.raises(PasswordRequired):
                asking.handshake()
            asking.close()
            client = RfbClient(dom.open_graphics(), password="secret12")
            assert client.handshake().version == (3, 8)
            watcher = Watcher(client)
            try:
                watcher.wait_updates(1)
                wait_until_equal(watcher.frame_rgb, lambda name=name: screendump(daemon, name),
                                 lambda watcher=watcher: watcher.last_update)
            finally:
                watcher.stop()
            assert watcher.error is None
            dom.destroy()
            with pytest.raises(DriverError) as err:
                dom.open_graphics()
            assert err.value.code is ErrorCode.OPERATION_INVALID, err.value
            dom.undefine()
        deadline = time.monotonic() + 30
        while tunnels(sshd) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not tunnels(sshd), "closing the display ended its ssh"
    finally:
        conn.close()


def screendump(daemon, name: str) -> Screenshot:
    """QEMU's picture of ``name``'s screen, asked of the daemon on its own socket (virDomainScreenshot)."""
    vconn = libvirt.open(daemon.uri)
    try:
        stream = vconn.newStream(0)
        vconn.lookupByName(name).screenshot(stream, 0, 0)
        chunks: list[bytes] = []
        stream.recvAll(lambda _s, data, acc: acc.append(data), chunks)
        stream.finish()
    finally:
        vconn.close()
    image = QImage.fromData(b"".join(chunks))  # libvirt asks QEMU for PNG
    assert not image.isNull()
    width, height, rgb = qimage_rgb(image)
    return Screenshot("image/x-portable-pixmap", f"P6\n{width} {height}\n255\n".encode() + rgb, width, height)


def tunnels(sshd: PrivateSshd) -> list[int]:
    """The ssh client processes carrying displays to ``sshd`` (their argv names its port and -W or -L)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(sshd.port).encode() in argv and (b"-W" in argv or b"-L" in argv):
            found.append(int(entry.name))
    return found


def test_a_host_whose_sshd_forwards_nothing_says_so_in_a_sentence_and_offers_the_external_viewer(
        open_window, qtbot, remote):
    daemon, _sshd = remote
    closed = PrivateSshd(forwarding="no")
    closed.start()
    uri = closed.libvirt_uri(daemon.sock)
    conn = drivers.open(uri)
    try:
        dom = conn.create_xml(daemon.domain_xml("ssh-closed", memory_mib=64).replace(
            "</devices>", "<graphics type='vnc'><listen type='socket'/></graphics></devices>"))
        with pytest.raises(DriverError) as err:
            dom.open_graphics()
        assert err.value.code is ErrorCode.OPERATION_FAILED
        assert err.value.message.startswith("ssh to 127.0.0.1 could not reach the display of 'ssh-closed': "), \
            err.value.message
        assert "open failed" in err.value.message, err.value.message  # sshd refused the forward
        assert not tunnels(closed), "the failed ssh was ended"

        window = open_window(uri)
        key = (uri, dom.uuid)
        qtbot.waitUntil(lambda: record(window, key) is not None, timeout=30000)
        notice = window.commands.open_display(key).pane.notice
        qtbot.waitUntil(lambda: notice.text.text().startswith("Opening the display of ssh-closed failed: "),
                        timeout=60000)
        assert "open failed" in notice.text.text() and "Traceback" not in notice.text.text()
        assert notice.button.text() == "Open in External Viewer" and notice.button.isVisible()
        window.session.close(uri)
        dom.destroy()
    finally:
        conn.close()
        closed.stop()
        closed.remove()


def test_the_display_window_asks_for_the_password_of_a_vm_on_a_host_over_ssh(open_window, qtbot, remote, tmp_path):
    daemon, sshd = remote
    uri = sshd.libvirt_uri(daemon.sock)
    conn = drivers.open(uri)
    dom = conn.define_xml(daemon.domain_xml("ssh-pw", memory_mib=64).replace(
        "</devices>", "<graphics type='vnc' passwd='secret12'><listen type='socket'/></graphics></devices>"))
    dom.create()
    try:
        window = open_window(uri)
        key = (uri, dom.uuid)
        qtbot.waitUntil(lambda: record(window, key) is not None and record(window, key).active, timeout=30000)
        win = window.commands.open_display(key)
        pane = win.pane
        notice = pane.notice
        qtbot.waitUntil(lambda: notice.text.text() == "The display of ssh-pw asks for a password.", timeout=60000)
        assert notice.password.isVisible() and notice.password.accessibleName() == "Display password"
        assert notice.button.text() == "Connect"

        qtbot.keyClicks(notice.password, "wrong")
        qtbot.keyClick(notice.password, Qt.Key.Key_Return)  # Return connects, as the button does
        qtbot.waitUntil(lambda: notice.text.text() == "The display of ssh-pw did not accept the password.",
                        timeout=60000)
        assert notice.password.isVisible() and notice.password.text() == "", "asked again, the field empty"

        qtbot.keyClicks(notice.password, "secret12")
        notice.button.click()
        qtbot.waitUntil(lambda: pane.model.open and not pane.view.framebuffer_image().isNull(), timeout=60000)
        assert not notice.isVisible()
        last = [time.monotonic()]
        pane.model.frameChanged.connect(lambda _r: last.__setitem__(0, time.monotonic()))
        wait_until_equal(lambda: qimage_rgb(pane.view.framebuffer_image()), lambda: screendump(daemon, "ssh-pw"),
                         lambda: last[0], sleep=lambda s: qtbot.wait(int(s * 1000)))
        win.close()
        qtbot.waitUntil(lambda: not tunnels(sshd), timeout=30000)
        stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*.ini"))
        assert b"secret12" not in stored, "the password is not written anywhere"
        window.session.close(uri)
    finally:
        dom.destroy()
        dom.undefine()
        conn.close()
