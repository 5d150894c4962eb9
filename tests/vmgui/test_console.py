"""The serial console: the terminal screen, the keys it sends, and the real window typing into a guest."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QWheelEvent
from PySide6.QtWidgets import QApplication, QLabel, QPushButton
from test_window import select

from vmgui.models.console import MAX_LINES, ConsoleModel
from vmgui.models.terminal import TerminalScreen
from vmgui.views.console import ConsoleDialog
from vmgui.views.terminal import TerminalView
from vmgui.views.terminalkeys import key_bytes

K, M = Qt.Key, Qt.KeyboardModifier
NONE = M.NoModifier


def test_screen_keeps_sequences_and_characters_cut_between_reads():
    term = TerminalScreen(20, 4)
    term.feed(b"a\x1b[3")
    term.feed(b"1mb\xc3")
    term.feed(b"\xa9\r\n")
    assert term.display()[0].rstrip() == "abé"
    assert term.row(0)[1].fg == "red" and term.row(0)[0].fg == "default"


def test_screen_places_text_at_addressed_cells_and_keeps_attributes():
    term = TerminalScreen(40, 10)
    term.feed(b"\x1b[2J\x1b[5;10HHERE\x1b[1;7m!\x1b[0m\x1b[42mG\x1b[38;5;196mX")
    row = term.display()[4]
    assert row[9:13] == "HERE" and row[:9] == " " * 9
    bang, green, red = (term.row(4)[x] for x in (13, 14, 15))
    assert bang.bold and bang.reverse and green.bg == "green" and red.fg == "ff0000"
    assert term.cursor[:2] == (16, 4)


def test_screen_answers_a_cursor_position_query():
    replies: list[bytes] = []
    term = TerminalScreen(80, 24, reply=replies.append)
    term.feed(b"\x1b[3;7H\x1b[6n")
    assert replies == [b"\x1b[3;7R"]


def test_scrollback_holds_ten_thousand_lines_and_is_capped():
    term = TerminalScreen(80, 24)
    term.feed(b"".join(b"line %d\r\n" % i for i in range(MAX_LINES + 500)))
    assert term.history_lines == MAX_LINES
    text = term.text().splitlines()
    assert text[0] == "line 477" and text[-1] == f"line {MAX_LINES + 499}"
    assert [r[0].data for r in term.visible(MAX_LINES)][:1] == ["l"]  # the oldest page is reachable


def test_a_scrolling_region_keeps_its_lines_out_of_the_scrollback_and_erase_3_clears_it():
    term = TerminalScreen(20, 5)
    term.feed(b"a\r\nb\r\nc\r\nd\r\ne\r\nf")  # the whole screen scrolls: "a" goes into the scrollback
    assert term.history_lines == 1 and term.line_text(0) == "a"
    term.feed(b"\x1b[1;4r\x1b[4;1H\r\n\r\n")  # a region of rows 1-4 scrolls (as vi's text above its status line)
    assert term.history_lines == 1
    term.feed(b"\x1b[r\x1b[3J")
    assert term.history_lines == 0


def test_resizing_wraps_at_the_new_width():
    term = TerminalScreen(80, 24)
    term.resize(10, 5)
    term.feed(b"0123456789abc")
    assert term.display()[:2] == ["0123456789", "abc       "]


def test_fewer_rows_keep_every_line():
    term = TerminalScreen(20, 10)
    term.feed(b"".join(b"row %d\r\n" % i for i in range(6)))  # cursor on row 6, rows 7..9 blank
    term.resize(20, 8)  # the blank rows go
    assert term.history_lines == 0 and term.display()[0].rstrip() == "row 0" and term.cursor[1] == 6
    term.resize(20, 4)  # then the top rows scroll into the scrollback
    assert term.text().splitlines() == [f"row {i}" for i in range(6)] and term.cursor[1] == 3
    term.feed(b"next")
    assert term.display()[3].rstrip() == "next"


def test_keys_are_the_bytes_a_terminal_sends():
    assert key_bytes(K.Key_A, NONE, "a") == b"a"
    assert key_bytes(K.Key_Return, NONE, "\r") == b"\r"
    assert key_bytes(K.Key_Backspace, NONE, "\x08") == b"\x7f"
    assert key_bytes(K.Key_Tab, NONE, "\t") == b"\t"
    assert key_bytes(K.Key_Escape, NONE, "\x1b") == b"\x1b"
    assert key_bytes(K.Key_Up, NONE, "") == b"\x1b[A"
    assert key_bytes(K.Key_Up, NONE, "", app_cursor=True) == b"\x1bOA"
    assert key_bytes(K.Key_Left, NONE, "", app_cursor=True) == b"\x1bOD"
    assert key_bytes(K.Key_Home, NONE, "") == b"\x1b[H" and key_bytes(K.Key_End, NONE, "") == b"\x1b[F"
    assert key_bytes(K.Key_PageUp, NONE, "") == b"\x1b[5~" and key_bytes(K.Key_Delete, NONE, "") == b"\x1b[3~"
    assert key_bytes(K.Key_Insert, NONE, "") == b"\x1b[2~"
    assert key_bytes(K.Key_F1, NONE, "") == b"\x1bOP" and key_bytes(K.Key_F12, NONE, "") == b"\x1b[24~"
    assert key_bytes(K.Key_C, M.ControlModifier, "\x03") == b"\x03"
    assert key_bytes(K.Key_D, M.ControlModifier, "") == b"\x04"
    assert key_bytes(K.Key_X, M.AltModifier, "x") == b"\x1bx"
    assert key_bytes(K.Key_Shift, M.ShiftModifier, "") is None


class Typed:
    """A console model whose keys are collected instead of sent (the widget tests need no guest)."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.model = ConsoleModel(None, lambda coro, _doing: coro.close(), "u", "id", "vm")  # type: ignore[arg-type]
        self.model.send = self.sent.append  # type: ignore[method-assign]


def make_view(qtbot):
    typed = Typed()
    view = TerminalView(typed.model)
    qtbot.addWidget(view)
    view.resize(640, 400)
    view.show()
    qtbot.waitExposed(view)
    view.activateWindow()
    view.setFocus()
    qtbot.waitUntil(view.hasFocus, timeout=5000)
    return typed, view


def test_the_terminal_keeps_keys_the_window_would_take(qtbot):
    typed, view = make_view(qtbot)
    fired = []
    for seq in ("Ctrl+C", "Ctrl+D", "Escape"):
        action = QAction(seq, view.window())
        action.setShortcut(QKeySequence(seq))
        action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        action.triggered.connect(lambda _c=False, s=seq: fired.append(s))
        view.addAction(action)
    qtbot.keyClick(view, K.Key_C, M.ControlModifier)
    qtbot.keyClick(view, K.Key_D, M.ControlModifier)
    qtbot.keyClick(view, K.Key_Escape)
    qtbot.keyClick(view, K.Key_Tab)
    qtbot.keyClicks(view, "ls")
    qtbot.keyClick(view, K.Key_Up)
    assert fired == [] and view.hasFocus()
    assert b"".join(typed.sent) == b"\x03\x04\x1b\tls\x1b[A"
    view.model.terminal.feed(b"\x1b[?1h")  # the program asks for application cursor keys
    qtbot.keyClick(view, K.Key_Up)
    assert typed.sent[-1] == b"\x1bOA"


def test_select_copy_and_paste(qtbot):
    typed, view = make_view(qtbot)
    view.model.terminal.feed(b"hello world\r\nsecond line")
    view.model.flush()
    y = view.cell_h // 2
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(view.cell_w * 6 + 1, y))
    qtbot.mouseMove(view, QPoint(view.cell_w * 10 + 1, y))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(view.cell_w * 10 + 1, y))
    assert view.selected_text() == "world"
    QGuiApplication.clipboard().clear()
    qtbot.keyClick(view, K.Key_C, M.ControlModifier | M.ShiftModifier)
    assert QGuiApplication.clipboard().text() == "world" and typed.sent == []
    QGuiApplication.clipboard().setText("echo a\necho b")
    qtbot.keyClick(view, K.Key_V, M.ControlModifier | M.ShiftModifier)
    assert typed.sent == [b"echo a\recho b"]
    view.model.terminal.feed(b"\x1b[?2004h")  # bracketed paste asked for
    qtbot.mouseClick(view, Qt.MouseButton.MiddleButton, pos=QPoint(5, y))
    assert typed.sent[-1] in (b"\x1b[200~echo a\recho b\x1b[201~", b"\x1b[200~world\x1b[201~")


def test_wheel_and_shift_page_up_scroll_back(qtbot):
    _typed, view = make_view(qtbot)
    view.model.terminal.feed(b"".join(b"%d\r\n" % i for i in range(300)))
    view.model.flush()
    rows = view.model.terminal.rows
    wheel = QWheelEvent(QPointF(10, 10), QPointF(view.mapToGlobal(QPoint(10, 10))), QPoint(), QPoint(0, 120),
                        Qt.MouseButton.NoButton, NONE, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, wheel)
    assert view.scrolled == 3
    qtbot.keyClick(view, K.Key_PageUp, M.ShiftModifier)
    assert view.scrolled == 3 + rows - 1
    top = view.model.terminal.visible(view.scrolled)[0]
    assert top[0].data + top[1].data + top[2].data == str(300 - rows - view.scrolled + 1).ljust(3)[:3]
    qtbot.keyClick(view, K.Key_A)  # typing follows the output again
    assert view.scrolled == 0


def test_output_bursts_are_painted_once_a_frame(qtbot):
    _typed, view = make_view(qtbot)
    qtbot.wait(50)
    before = view.repaints
    view.model._stream = object()  # type: ignore[assignment]  # as if open
    for i in range(2000):
        view.model._on_data(b"y %d\r\n" % i)
    qtbot.waitUntil(lambda: "y 1999" in view.model.text(), timeout=5000)
    qtbot.wait(60)
    assert 1 <= view.repaints - before <= 30


def test_console_action_follows_state_and_feature(open_window, node_uri):
    window = open_window(node_uri)
    action = window.findChild(QAction, "actionConsole")
    select(window, "legacy-app")
    assert not action.isEnabled() and "is not running" in action.toolTip()
    select(window, "web01")
    assert action.isEnabled() and action.shortcut().toString() == "Ctrl+Shift+C"
    assert action in window.table._menu_actions  # the context menu has it too


def test_console_shortcut_works_from_the_search_field_on_the_match(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    window.activateWindow()
    search = window.filter_bar.search
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(search.hasFocus)
    qtbot.keyClicks(search, "web01")
    qtbot.waitUntil(lambda: window.session.domains.rowCount() == 1)
    qtbot.keyClick(search, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dialog = window.commands.last_dialog
    assert isinstance(dialog, ConsoleDialog) and "web01" in dialog.windowTitle()
    assert search.text() == "web01"  # the key went to the action, not into the field


def test_console_needs_the_feature_and_says_so():
    from drivers import DomainRecord, DomainState, Feature
    from vmgui.models.actions import Selected, compute
    rec = DomainRecord("vm", "u", 1, DomainState.RUNNING, 0, True, False, False, 0, 1024, 1024, 1, 0)
    state = compute([Selected("a", rec)], {"a": frozenset({Feature.DEFINE})})["console"]
    assert not state.enabled and "does not support serial consoles" in state.reason


def test_type_into_the_guest_see_it_stop_and_reconnect_by_itself(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "web01")
    window.findChild(QAction, "actionConsole").trigger()
    dialog = window.commands.last_dialog
    assert isinstance(dialog, ConsoleDialog) and dialog.objectName() == "consoleDialog"
    term = dialog.findChild(TerminalView, "consoleTerminal")
    assert term.accessibleName() == "Console"
    qtbot.waitUntil(term.hasFocus, timeout=5000)
    qtbot.waitUntil(lambda: "root@web01:~#" in dialog.model.text(), timeout=5000)  # the history
    assert "Connected" in dialog.findChild(QLabel, "consoleStatus").text()
    qtbot.keyClicks(term, "hostnamx")
    qtbot.keyClick(term, K.Key_Backspace)
    qtbot.keyClicks(term, "e")
    qtbot.keyClick(term, K.Key_Return)
    qtbot.waitUntil(lambda: "hostname\nweb01\nroot@web01:~#" in dialog.model.text(), timeout=5000)

    window.session.bridge.connection(node_uri).lookup_by_name("web01").destroy()
    status = dialog.findChild(QLabel, "consoleStatus")
    qtbot.waitUntil(lambda: "VM stopped" in status.text(), timeout=5000)
    assert status.text() == ("VM stopped: the guest's serial port closed (domain stopped). "
                             "It opens again by itself when web01 runs again.")  # the reason said once
    assert not dialog.model.open
    assert window.session.messages.messages() == []  # a hang-up is not an error
    assert status.styleSheet() == ""  # plain text, not the red bold of a failure
    assert not dialog.findChild(QPushButton, "consoleReconnect").isVisible()  # it reopens by itself
    assert "hostname\nweb01" in dialog.model.text()  # the screen stays readable

    window.session.bridge.connection(node_uri).lookup_by_name("web01").create()
    qtbot.waitUntil(lambda: dialog.model.open, timeout=5000)  # by itself, no click
    qtbot.waitUntil(lambda: dialog.model.text().count("ttyS0") == 2, timeout=5000)  # the new boot banner
    assert "Connected" in status.text() and not dialog.findChild(QPushButton, "consoleReconnect").isVisible()
    qtbot.keyClicks(term, "uname")
    qtbot.keyClick(term, K.Key_Return)
    qtbot.waitUntil(lambda: "simulated by vmgui" in dialog.model.text(), timeout=5000)
    qtbot.keyClick(term, K.Key_Escape)  # the guest's key: the window stays open
    qtbot.keyClick(term, K.Key_Tab)
    assert dialog.isVisible() and term.hasFocus()
    dialog.close()


def test_a_console_that_failed_to_open_says_so_in_red_and_offers_reconnect(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    dom = window.session.bridge.connection(node_uri).lookup_by_name("web01")
    dom.destroy()
    dialog = window.commands.open_console((node_uri, dom.uuid))
    status = dialog.findChild(QLabel, "consoleStatus")
    reconnect = dialog.findChild(QPushButton, "consoleReconnect")
    qtbot.waitUntil(reconnect.isVisible, timeout=5000)
    assert not dialog.model.open and status.text() == dialog.model.end_reason
    assert "VM stopped" not in status.text() and "font-weight: 600" in status.styleSheet()
    dom.create()
    reconnect.click()
    qtbot.waitUntil(lambda: dialog.model.open, timeout=5000)
    assert "Connected" in status.text() and status.styleSheet() == "" and not reconnect.isVisible()
    dialog.close()


def test_paused_keeps_the_screen_and_says_typing_waits(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    dom = window.session.bridge.connection(node_uri).lookup_by_name("web01")
    dialog = window.commands.open_console((node_uri, dom.uuid))
    qtbot.waitUntil(lambda: dialog.model.open and "root@web01:~#" in dialog.model.text(), timeout=5000)
    status = dialog.findChild(QLabel, "consoleStatus")
    dom.suspend()
    qtbot.waitUntil(lambda: "paused" in status.text(), timeout=5000)
    assert "root@web01:~#" in dialog.model.text() and dialog.model.open
    qtbot.keyClicks(dialog.terminal, "x")
    assert "vm" not in status.text() and "web01 is paused: what you type reaches the guest" in status.text()
    dom.resume()
    qtbot.waitUntil(lambda: "Connected" in status.text(), timeout=5000)
    dialog.close()


def test_keys_typed_while_the_console_connects_reach_the_guest_in_order(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    uuid = window.session.bridge.connection(node_uri).lookup_by_name("web01").uuid
    dialog = window.commands.open_console((node_uri, uuid))
    assert not dialog.model.open  # still connecting: the terminal takes keys all the same
    for line in ("hostname", "uname", "hostname"):
        qtbot.keyClicks(dialog.terminal, line)
        qtbot.keyClick(dialog.terminal, K.Key_Return)
    qtbot.waitUntil(lambda: dialog.model.text().count("root@web01:~#") == 4, timeout=5000)
    typed = [ln.split("# ", 1)[1] for ln in dialog.model.text().splitlines() if ln.startswith("root@web01:~# ")]
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
