"""Real QEMU behind Shut Down and Reboot: the window waits for the guest, and offers the hard way when it
does not answer (the multiboot test guest has no ACPI; the Linux guest obeys the power button)."""
from __future__ import annotations

import pytest
from borrowed_fixtures import borrow
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QToolButton
from test_lifecycle_requests import statuses
from test_window import names, select

from drivers import DomainState
from vmgui.models.domainrow import Col
from vmgui.models.settings import SHUTDOWN_TIMEOUT_KEY

_e2e = borrow("e2e")  # also puts tests/e2e on sys.path
env, guest_kernel, linux_guest = _e2e.env, _e2e.guest_kernel, _e2e.linux_guest
import e2e_helpers as h  # noqa: E402

pytestmark = [pytest.mark.qemu,
              pytest.mark.skipif(not (h.QEMU and h.QEMU_IMG), reason="qemu-system-x86_64 / qemu-img are not installed")]


def row_state(window, name: str) -> str:
    model = window.table.model()
    return model.index(names(window).index(name), Col.STATE).data()


def test_a_guest_that_ignores_shut_down_shows_shutting_down_then_force_off_is_offered(
        env, open_window, settings, qtbot):
    settings.setValue(SHUTDOWN_TIMEOUT_KEY, 2)
    conn = env.open()
    dom = conn.define_xml(env.xml("deaf"))
    dom.create()
    h.wait_heartbeat(env.serial("deaf"), 1)
    window = open_window(env.uri())
    said = statuses(window)
    select(window, "deaf")
    window.findChild(QAction, "actionShutdown").trigger()
    qtbot.waitUntil(lambda: "Asked deaf to shut down; waiting for its guest" in said, timeout=15000)
    assert row_state(window, "deaf").endswith(" — shutting down…")
    qtbot.waitUntil(lambda: window.details.values["State"].text() == row_state(window, "deaf"), timeout=5000)
    qtbot.waitUntil(lambda: window.findChild(QToolButton, "messageAction_force_off") is not None, timeout=15000)
    assert dom.state()[0] == DomainState.RUNNING
    assert row_state(window, "deaf").endswith(" — shutting down, no answer after 2 s")
    [msg] = window.session.messages.messages()
    assert msg.title == "deaf did not shut down" and "ignore the ACPI power button" in msg.text
    assert not any("done" in s for s in said), said

    window.findChild(QToolButton, "messageAction_force_off").click()  # asks like the toolbar's Force Off
    box = window.commands.last_dialog
    assert isinstance(box, QMessageBox) and box.objectName() == "confirm_force_off" and "“deaf”" in box.text()
    next(b for b in box.buttons() if b.text() == "Force off").click()
    qtbot.waitUntil(lambda: "deaf was forced off" in said, timeout=15000)
    assert dom.state()[0] == DomainState.SHUTOFF
    assert window.session.messages.messages() == []  # the offer went with the request
    qtbot.waitUntil(lambda: "shutting down" not in row_state(window, "deaf"), timeout=5000)


@pytest.mark.slow
def test_reboot_then_shut_down_of_a_linux_guest_end_when_the_guest_did_them(
        env, linux_guest, open_window, settings, qtbot):
    settings.setValue(SHUTDOWN_TIMEOUT_KEY, 120)
    conn = env.open()
    dom = conn.define_xml(env.linux_xml("lin"))
    dom.create()
    serial = env.guest("lin")
    serial.wait_for(b"VMGUI READY", timeout=60)
    window = open_window(env.uri())
    said = statuses(window)
    select(window, "lin")
    window.findChild(QAction, "actionReboot").trigger()
    qtbot.waitUntil(lambda: row_state(window, "lin").endswith(" — rebooting…"), timeout=15000)
    qtbot.waitUntil(lambda: "lin rebooted" in said, timeout=90000)
    assert b"VMGUI POWEROFF" in serial.text()  # the guest shut down; QEMU reset it: it boots again
    serial.wait_for(b"VMGUI BOOT", count=2, timeout=90)
    assert "rebooting" not in row_state(window, "lin") and dom.state()[0] == DomainState.RUNNING
    serial.wait_for(b"VMGUI READY", count=2, timeout=60)

    shutdown = window.findChild(QAction, "actionShutdown")
    qtbot.waitUntil(shutdown.isEnabled, timeout=15000)  # as a person clicks: once the window offers it
    shutdown.trigger()
    qtbot.waitUntil(lambda: "lin shut down" in said, timeout=90000)
    assert dom.state()[0] == DomainState.SHUTOFF
    assert window.session.messages.messages() == []
    assert not any("done" in s for s in said), said
