"""The serial console: text cleaning, scrollback cap, and the real window typing into a guest."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QLineEdit, QPlainTextEdit, QPushButton
from test_window import select

from vmgui.models.console import MAX_LINES, ConsoleModel, TextCleaner
from vmgui.views.console import ConsoleDialog


def test_cleaner_strips_ansi_and_normalises_line_ends():
    clean = TextCleaner()
    assert clean.feed(b"\x1b[2J\x1b[H\x1b[1;32mok\x1b[0m\r\n") == "ok\n"
    assert clean.feed(b"title\x1b]0;window title\x07 done\r\n") == "title done\n"


def test_cleaner_keeps_sequences_and_characters_cut_between_reads():
    clean = TextCleaner()
    assert clean.feed(b"a\x1b[3") == "a"
    assert clean.feed(b"1mb\xc3") == "b"
    assert clean.feed(b"\xa9\r\n") == "é\n"


def test_scrollback_is_capped_and_backspace_erases(qapp):
    model = ConsoleModel(None, lambda coro, _doing: coro.close(), "u", "id", "vm")  # type: ignore[arg-type]
    model._stream = object()  # type: ignore[assignment]  # as if open
    model._on_data(b"".join(b"line %d\r\n" % i for i in range(MAX_LINES + 50)))
    assert len(model.lines) == MAX_LINES and model.lines[-2] == f"line {MAX_LINES + 49}"
    model._on_data(b"abc\b \bd")
    assert model.lines[-1] == "abd"


def test_console_action_follows_state_and_feature(open_window, node_uri):
    window = open_window(node_uri)
    action = window.findChild(QAction, "actionConsole")
    select(window, "legacy-app")
    assert not action.isEnabled() and "is not running" in action.toolTip()
    select(window, "web01")
    assert action.isEnabled() and action.shortcut().toString() == "Ctrl+Shift+C"
    assert action in window.table._menu_actions  # the context menu has it too


def test_console_needs_the_feature_and_says_so():
    from drivers import DomainRecord, DomainState, Feature
    from vmgui.models.actions import Selected, compute
    rec = DomainRecord("vm", "u", 1, DomainState.RUNNING, 0, True, False, False, 0, 1024, 1024, 1, 0)
    state = compute([Selected("a", rec)], {"a": frozenset({Feature.DEFINE})})["console"]
    assert not state.enabled and "does not support serial consoles" in state.reason


def test_type_into_the_guest_then_see_it_hang_up(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "web01")
    window.findChild(QAction, "actionConsole").trigger()
    dialog = window.commands.last_dialog
    assert isinstance(dialog, ConsoleDialog) and dialog.objectName() == "consoleDialog"
    output = dialog.findChild(QPlainTextEdit, "consoleOutput")
    qtbot.waitUntil(lambda: "root@web01:~#" in output.toPlainText(), timeout=5000)  # the history
    assert "Connected" in dialog.findChild(QLabel, "consoleStatus").text()
    field = dialog.findChild(QLineEdit, "consoleInput")
    qtbot.keyClicks(field, "hostname")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "hostname\nweb01\nroot@web01:~#" in output.toPlainText(), timeout=5000)
    assert field.text() == ""

    window.session.bridge.connection(node_uri).lookup_by_name("web01").destroy()
    status = dialog.findChild(QLabel, "consoleStatus")
    qtbot.waitUntil(lambda: "closed" in status.text(), timeout=5000)
    assert "web01" in status.text() and "serial port closed" in status.text(), status.text()
    assert not field.isEnabled() and not dialog.model.open
    assert window.session.messages.messages() == []  # a hang-up is not an error

    window.session.bridge.connection(node_uri).lookup_by_name("web01").create()
    reconnect = dialog.findChild(QPushButton, "consoleReconnect")
    assert reconnect.isVisible()
    reconnect.click()
    qtbot.waitUntil(lambda: dialog.model.open and field.isEnabled(), timeout=5000)
    qtbot.waitUntil(lambda: output.toPlainText().count("ttyS0") == 2, timeout=5000)  # the new boot banner
    dialog.close()


def test_lines_typed_while_the_console_connects_reach_the_guest_in_order(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    uuid = window.session.bridge.connection(node_uri).lookup_by_name("web01").uuid
    dialog = window.commands.open_console((node_uri, uuid))
    assert not dialog.model.open  # still connecting: the field takes input all the same
    for line in ("hostname", "uname", "hostname"):
        dialog.input.setText(line)
        dialog.input.returnPressed.emit()
    output = dialog.findChild(QPlainTextEdit, "consoleOutput")
    qtbot.waitUntil(lambda: output.toPlainText().count("root@web01:~# ") == 4, timeout=5000)
    typed = [ln.split("# ", 1)[1] for ln in output.toPlainText().splitlines() if ln.startswith("root@web01:~# ")]
    assert typed[:3] == ["hostname", "uname", "hostname"]
    dialog.close()


def test_closing_while_opening_leaves_no_error(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    uuid = window.session.bridge.connection(node_uri).lookup_by_name("web01").uuid
    dialog = window.commands.open_console((node_uri, uuid))
    dialog.close()
    qtbot.wait(300)
    assert window.session.messages.messages() == [] and not window.session.bridge._streams


def test_closing_the_dialog_stops_the_reader(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    dialog = window.commands.open_console((node_uri, window.session.bridge.connection(node_uri)
                                           .lookup_by_name("test").uuid))
    qtbot.waitUntil(lambda: dialog.model.open, timeout=5000)
    stream = dialog.model._stream
    dialog.close()
    qtbot.waitUntil(lambda: not stream._thread.is_alive(), timeout=2000)
    assert stream not in window.session.bridge._streams


def test_a_stream_closed_before_it_started_still_closes_its_console():
    import threading

    from vmgui.streams import ConsoleStream

    class Fake:
        closed = threading.Event()

        def read(self, timeout=None):
            raise AssertionError("never read after close")

        def close(self) -> None:
            self.closed.set()
    fake = Fake()
    stream = ConsoleStream("u", fake, lambda fn: None)  # type: ignore[arg-type]
    stream.close()
    assert fake.closed.wait(2)
