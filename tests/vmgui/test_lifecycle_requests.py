"""Shut Down and Reboot are done when the guest did them; Reset asks first; the wait comes from the settings."""
from __future__ import annotations

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox
from test_window import names, select, state_of

from drivers import DomainRecord, DomainState, EventType
from drivers.flags import ShutoffReason, StoppedDetail
from vmgui.models.domainrow import Col
from vmgui.models.pending import PendingRequests
from vmgui.models.settings import SHUTDOWN_TIMEOUT_KEY

KEY = ("test:///x", "u1")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def asked(action: str, name: str, timeout_s: float) -> tuple[Clock, PendingRequests, list[tuple]]:
    """A request just begun on a fake clock, and the list of what the model said about it."""
    clock = Clock()
    pending = PendingRequests(timeout_s=timeout_s, clock=clock)
    said: list[tuple] = []
    pending.finished.connect(lambda key, text: said.append(("finished", key, text)))
    pending.overdue.connect(lambda key, fallback, text: said.append(("overdue", key, fallback, text)))
    pending.begin(KEY, action, name)
    return clock, pending, said


def test_a_shutdown_is_pending_until_off_and_overdue_once_after_the_timeout(qapp):
    clock, pending, said = asked("shutdown", "web01", 60)
    assert pending.doing(KEY) == "shutting down…"
    clock.now += 59
    pending.check()
    assert said == []
    clock.now += 1
    pending.check()
    pending.check()
    assert said == [("overdue", KEY, "force_off", "web01 is still running 60 s after it was asked to shut down; "
                                                  "its guest may ignore the ACPI power button")]
    assert pending.doing(KEY) == "shutting down, no answer after 60 s"
    pending.on_event(KEY, EventType.REBOOT)  # not what a shutdown waits for
    pending.on_event(KEY, EventType.STOPPED, StoppedDetail.SHUTDOWN)
    assert said[-1] == ("finished", KEY, "web01 shut down") and pending.doing(KEY) == ""
    assert KEY not in pending


def test_a_reboot_ends_with_the_reboot_event_or_the_domain_going_off(qapp):
    clock, pending, said = asked("reboot", "db01", 5)
    assert pending.doing(KEY) == "rebooting…"
    pending.on_event(KEY, EventType.SHUTDOWN)  # the guest's half of a graceful reboot
    assert KEY in pending
    pending.on_event(KEY, EventType.REBOOT)
    assert said == [("finished", KEY, "db01 rebooted")]
    pending.begin(KEY, "reboot", "db01")
    clock.now += 5
    pending.check()
    assert said[-1][:3] == ("overdue", KEY, "reset")
    off = DomainRecord("db01", "u1", None, DomainState.SHUTOFF, ShutoffReason.DESTROYED,
                       True, False, False, 0, 1024, 1024, 1, 0)
    pending.on_records("test:///x", [off])  # a connection without events: the record says it
    assert said[-1] == ("finished", KEY, "db01 was forced off")
    pending.begin(KEY, "shutdown", "db01")
    pending.cancel(KEY)  # the request itself failed
    assert KEY not in pending and said[-1][2] == "db01 was forced off"


def statuses(window) -> list[str]:
    said: list[str] = []
    window.session.status.connect(said.append)
    return said


@pytest.mark.parametrize(("action", "sentence", "after"), [
    ("actionShutdown", "web01 shut down", DomainState.SHUTOFF),
    ("actionReboot", "web01 rebooted", DomainState.RUNNING)])
def test_shut_down_and_reboot_are_reported_when_they_happened_never_as_done_when_asked(
        open_window, node_uri, qtbot, action, sentence, after):
    window = open_window(node_uri)
    said = statuses(window)
    select(window, "web01")
    window.findChild(QAction, action).trigger()
    qtbot.waitUntil(lambda: sentence in said, timeout=5000)
    assert state_of(window, node_uri, "web01") == after
    assert not any("done" in s for s in said), said
    assert window.session.messages.messages() == []
    model = window.table.model()
    qtbot.waitUntil(lambda: "—" not in model.index(names(window).index("web01"), Col.STATE).data(), timeout=5000)


def test_reset_asks_first(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    events: list = []
    conn = window.session.bridge.connection(node_uri)
    conn.register_event_callback(lambda c, d, e: events.append(e.type))
    select(window, "web01")
    action = window.findChild(QAction, "actionReset")
    assert action.isEnabled() and action.text() == "Reset" and "without shutting down" in action.toolTip()
    action.trigger()
    box = window.commands.last_dialog
    assert isinstance(box, QMessageBox) and box.objectName() == "confirm_reset"
    assert "“web01”" in box.text() and "unsaved data in it is lost" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.wait(200)
    conn.host.bus.flush()
    assert EventType.REBOOT not in events
    action.trigger()
    next(b for b in window.commands.last_dialog.buttons() if b.text() == "Reset").click()
    qtbot.waitUntil(lambda: EventType.REBOOT in events, timeout=5000)
    assert state_of(window, node_uri, "web01") == DomainState.RUNNING
    select(window, "legacy-app")
    assert not action.isEnabled() and "is not running" in action.toolTip()


def test_the_wait_before_force_off_is_offered_comes_from_the_settings(open_window, node_uri, settings):
    window = open_window(node_uri)
    assert window.session.pending.timeout_s == 60
    assert float(settings.value(SHUTDOWN_TIMEOUT_KEY)) == 60  # written, so the file shows it can be changed
    settings.setValue(SHUTDOWN_TIMEOUT_KEY, "2.5")
    assert open_window(node_uri).session.pending.timeout_s == 2.5
    settings.setValue(SHUTDOWN_TIMEOUT_KEY, "soon")
    assert open_window(node_uri).session.pending.timeout_s == 60
