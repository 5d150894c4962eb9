"""The Display tab and its keys, on the test driver (which has no display stream) and real Qt key events.

What it shows of a real guest is tests/e2e/test_gui_display_qemu.py's.
"""
from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import QLabel

from vmgui.models.display import DisplayModel
from vmgui.rfb.keys import evdev_to_xt
from vmgui.views.displaykeys import KeyCode, key_code

CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier


def key_event(key: Qt.Key, text: str = "", modifiers=Qt.KeyboardModifier.NoModifier) -> QKeyEvent:
    return QKeyEvent(QEvent.Type.KeyPress, key, modifiers, text)


@pytest.mark.parametrize(("key", "text", "want"), [
    (Qt.Key.Key_A, "a", KeyCode(0x61, 30)),
    (Qt.Key.Key_A, "A", KeyCode(0x41, 30, needs_shift=True)),
    (Qt.Key.Key_Dollar, "$", KeyCode(0x24, 5, needs_shift=True)),
    (Qt.Key.Key_Slash, "/", KeyCode(0x2F, 53)),
    (Qt.Key.Key_Space, " ", KeyCode(0x20, 57)),
    (Qt.Key.Key_Return, "\r", KeyCode(0xFF0D, 28)),
    (Qt.Key.Key_Up, "", KeyCode(0xFF52, 103)),
    (Qt.Key.Key_F12, "", KeyCode(0xFFC9, 88)),
    (Qt.Key.Key_Control, "", KeyCode(0xFFE3, 29)),
    (Qt.Key.Key_unknown, "é", KeyCode(0xE9, 0)),  # not on the US layout: by keysym only
    (Qt.Key.Key_unknown, "€", KeyCode(0x010020AC, 0)),  # a Unicode keysym
])
def test_keys_without_a_native_scancode_map_to_keysym_and_us_layout_position(qapp, key, text, want):
    assert key_code(key_event(key, text)) == want


def test_on_x11_the_native_scancode_gives_the_position_whatever_the_layout_typed(qapp):
    """On an AZERTY keyboard the key where QWERTY has A types q: it still goes as the A position."""
    event = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Q, Qt.KeyboardModifier.NoModifier, 30 + 8, 0x71, 0, "q")
    assert key_code(event, "xcb") == KeyCode(0x71, 30)
    assert key_code(event, "offscreen") == KeyCode(0x71, 16), "without a native code: the US position of q"
    up = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Up, Qt.KeyboardModifier.NoModifier, 103 + 8, 0xFF52, 0, "")
    assert key_code(up, "wayland") == KeyCode(0xFF52, 103)


def test_a_key_qt_cannot_name_and_that_has_no_text_is_not_sent(qapp):
    assert key_code(key_event(Qt.Key.Key_unknown)) is None


def test_evdev_codes_become_xt_scancodes_with_e0_keys_as_bit_7():
    assert evdev_to_xt(1) == 0x01 and evdev_to_xt(30) == 0x1E and evdev_to_xt(88) == 0x58  # Esc, A, F12
    assert evdev_to_xt(103) == 0xC8 and evdev_to_xt(97) == 0x9D and evdev_to_xt(111) == 0xD3  # Up, RCtrl, Del
    assert evdev_to_xt(240) == 0  # KEY_UNKNOWN: nothing to send by position


def _show(window, qtbot, uri: str, name: str):
    key = (uri, window.session.bridge.connection(uri).lookup_by_name(name).uuid)
    qtbot.waitUntil(lambda: window.session.domains.get(key) is not None)
    window.table.clearSelection()
    assert window.table.select_key(key)
    window.refresh_selection_state()
    details = window.details
    details.setCurrentWidget(details.display)
    return details.display


def test_a_driver_without_display_streams_says_so_in_the_tab(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    tab = _show(window, qtbot, node_uri, "web01")
    qtbot.waitUntil(lambda: "not supported" in tab.status.text(), timeout=10000)
    assert tab.status.text() == ("Opening the display of web01 failed: not supported: a display stream is not "
                                 "supported by this connection. An external VNC viewer can still open the display.")
    assert tab.connect_button.text() == "Connect" and tab.connect_button.isEnabled()
    assert not any(m.level == "error" for m in window.session.messages.messages()), "the tab says it, no dialog"


def test_a_shut_off_domain_has_no_screen_to_show(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    tab = _show(window, qtbot, node_uri, "win11")
    assert tab.status.text() == "win11 is not running: start it to see its screen here."
    assert not tab.connect_button.isEnabled()
    assert tab.model is not None and not tab.model.busy


def test_window_shortcuts_do_not_take_keys_typed_into_the_screen(open_window, node_uri, qtbot):
    """Ctrl+D, Del and the like are the guest's while its screen has focus (a probe shortcut stands in for them)."""
    window = open_window(node_uri)
    tab = _show(window, qtbot, node_uri, "web01")
    fired: list[str] = []
    action = QAction("Probe", window)
    action.setShortcut("Ctrl+Alt+F9")
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.triggered.connect(lambda: fired.append("probe"))
    window.addAction(action)
    qtbot.waitUntil(lambda: tab.model is not None and bool(tab.model.end_reason), timeout=10000)
    other = window.table
    other.setFocus()
    qtbot.keyClick(other, Qt.Key.Key_F9, CTRL_ALT)
    assert fired == ["probe"], "the probe shortcut works elsewhere in the window"
    tab.view.setFocus()
    qtbot.keyClick(tab.view, Qt.Key.Key_F9, CTRL_ALT)
    assert fired == ["probe"], "typed into the screen, the key is not a window shortcut"


def test_an_answer_for_a_display_closed_while_opening_is_dropped(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    uuid = window.session.bridge.connection(node_uri).lookup_by_name("web01").uuid
    model = DisplayModel(window.session.bridge, window.session.spawn, node_uri, uuid, "web01", window)
    said: list[str] = []
    model.status.connect(said.append)
    model.start()
    model.close()
    qtbot.wait(300)  # the bridge answers (NO_SUPPORT) after the close
    assert said == ["Connecting to the display of web01…"] and model.end_reason == "closed"
    model.start()
    qtbot.waitUntil(lambda: len(said) == 3, timeout=5000)
    assert said[2].startswith("Opening the display of web01 failed: not supported")
    assert not model.busy


def _menu_buttons(tab) -> dict[str, object]:
    return {button.text(): button for button in tab.menu_buttons}


def test_view_and_send_key_wait_for_a_running_domain_and_say_why(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    tab = _show(window, qtbot, node_uri, "win11")  # shut off
    for button in _menu_buttons(tab).values():
        assert not button.isEnabled()
        assert button.toolTip() == "Not possible: win11 is not running: start it to see its screen here."
    assert not tab.view_menu.menuAction().isEnabled() and not tab.send_key_menu.menuAction().isEnabled()
    window.table.clearSelection()
    window.refresh_selection_state()
    assert tab.key is None
    for button in _menu_buttons(tab).values():
        assert not button.isEnabled() and button.toolTip() == "Not possible: Select a domain to see its screen."
    tab = _show(window, qtbot, node_uri, "web01")  # running
    buttons = _menu_buttons(tab)
    assert all(button.isEnabled() for button in buttons.values())
    assert buttons["Send Key"].toolTip() == "Send a key combination the host would keep, such as Ctrl+Alt+Del"


def test_the_status_line_is_one_line_and_does_not_repeat_the_notice(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    window.details.resize(420, 500)  # a narrow details pane
    tab = _show(window, qtbot, node_uri, "win11")
    notice = tab.findChild(QLabel, "displayNoticeText")
    assert notice.isVisible() and notice.text() == "win11 is not running."
    assert not tab.status.isVisible()  # said once, over the picture
    tab.notice.hide()
    tab.status.show()
    long = "Connected to the display of a domain with a long name on a far host (1920×1080)"
    tab.status.setText(long)
    qtbot.waitUntil(lambda: tab.status.width() > 0)
    assert tab.status.height() < 2 * tab.status.fontMetrics().height()  # one line, however narrow
    assert tab.status.toolTip() == long and tab.status.accessibleName() == long  # all of it, on demand
