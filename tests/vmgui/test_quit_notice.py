"""Quitting with VMs that outlive vmgui (qemu:///embed's run under their own supervisors) says so once;
a host whose VMs end with vmgui (the demo host) needs no notice."""
from __future__ import annotations

import pytest
from borrowed_fixtures import borrow
from PySide6.QtWidgets import QWidget

import drivers
from drivers import DomainState, Feature
from vmgui.models import quitting

_e2e = borrow("e2e")  # also puts tests/e2e on sys.path
env, guest_kernel = _e2e.env, _e2e.guest_kernel
import e2e_helpers as h  # noqa: E402

pytestmark = [pytest.mark.qemu,
              pytest.mark.skipif(not (h.QEMU and h.QEMU_IMG), reason="qemu-system-x86_64 / qemu-img are not installed")]


def quit_notice(window) -> QWidget | None:
    return window.findChild(QWidget, "quitNotice")


@pytest.fixture
def running_guest(env):
    conn = env.open()
    dom = conn.define_xml(env.xml("keeps-going"))
    dom.create()
    h.wait_heartbeat(env.serial("keeps-going"), 1)
    return dom


def test_quit_says_once_that_running_vms_keep_running_and_cancel_stays(
        env, running_guest, open_window, settings, qtbot):
    settings.setValue(quitting.SETTING, "true")
    window = open_window(env.uri())
    qtbot.waitUntil(lambda: "keeps-going" in window.session.domains.names(env.uri()))
    closed = []
    window.closed.connect(lambda: closed.append(True))
    window.close()
    qtbot.waitUntil(lambda: quit_notice(window) is not None and quit_notice(window).isVisible())
    notice = quit_notice(window)
    assert "keeps-going keeps running after vmgui quits." in notice.findChild(QWidget, "quitNoticeText").text()
    notice.reject()  # Cancel: vmgui stays
    qtbot.waitUntil(lambda: quit_notice(window) is None)
    assert window.isVisible() and not closed

    window.close()
    qtbot.waitUntil(lambda: quit_notice(window) is not None)
    quit_notice(window).findChild(QWidget, "quitAnyway").click()
    qtbot.waitUntil(lambda: bool(closed))
    assert running_guest.state()[0] == DomainState.RUNNING  # quitting vmgui did not stop the VM
    assert quitting.wanted(settings)  # asked again next time


def test_dont_show_again_is_remembered(env, running_guest, open_window, settings, qtbot):
    settings.setValue(quitting.SETTING, "true")
    window = open_window(env.uri())
    qtbot.waitUntil(lambda: "keeps-going" in window.session.domains.names(env.uri()))
    window.close()
    qtbot.waitUntil(lambda: quit_notice(window) is not None)
    quit_notice(window).findChild(QWidget, "quitNoticeNever").setChecked(True)
    quit_notice(window).findChild(QWidget, "quitAnyway").click()
    qtbot.waitUntil(lambda: not window.isVisible())
    assert not quitting.wanted(settings)


def test_a_host_whose_vms_end_with_vmgui_quits_at_once(node_uri, open_window, settings, qtbot):
    settings.setValue(quitting.SETTING, "true")
    window = open_window(node_uri)
    assert any(row.rec.id is not None for row in window.session.domains.rows_of({node_uri}))  # running demo VMs
    window.close()
    assert not window.isVisible() and quit_notice(window) is None


def test_the_notice_names_a_few_and_counts_the_rest():
    assert quitting.notice_text(["a"]) == "a keeps running after vmgui quits."
    assert quitting.notice_text(["a", "b"]) == "a and b keep running after vmgui quits."
    assert quitting.notice_text(["a", "b", "c", "d", "e", "f"]) == \
        "a, b, c, d and 2 others keep running after vmgui quits."


def test_which_hosts_keep_their_vms_running_is_the_driver_s_answer(env, running_guest, node_uri):
    assert env.open().supports_feature(Feature.GUESTS_OUTLIVE_CLIENT)
    demo = drivers.open(node_uri)
    try:
        assert not demo.supports_feature(Feature.GUESTS_OUTLIVE_CLIENT)  # simulated in this process
    finally:
        demo.close()
    env.open().close()  # a client going away leaves the supervised VM running
    assert env.open().lookup_by_name("keeps-going").state()[0] == DomainState.RUNNING
