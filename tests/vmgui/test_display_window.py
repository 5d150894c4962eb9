"""The display window (Display, Ctrl+Shift+G) on the test driver: one per domain, its menus, and what it says
over the picture as the domain starts, pauses and resumes. Its picture of a real guest is
tests/e2e/test_gui_display_window_qemu.py's."""
from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from test_vnc import NS, _recording_viewer

from drivers.test import DEFAULT_NODE_XML as DEMO_NODE_XML
from vmgui.views.displaywin import DisplayWindow

SPICE_NODE = (f"<node><domain type='test' xmlns:test='{NS}'><name>sp</name><memory unit='MiB'>64</memory>"
              "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>"
              "<devices><graphics type='spice' port='5930'/></devices>"
              "<test:runstate>1</test:runstate></domain></node>")


def _select(window, qtbot, uri: str, name: str):
    key = (uri, window.session.bridge.connection(uri).lookup_by_name(name).uuid)
    qtbot.waitUntil(lambda: window.session.domains.get(key) is not None)
    window.table.clearSelection()
    assert window.table.select_key(key)
    window.refresh_selection_state()
    return key


def _open(window, qtbot, uri: str, name: str) -> DisplayWindow:
    key = _select(window, qtbot, uri, name)
    window.findChild(QAction, "actionGraphicalConsole").trigger()
    shown = window.commands.display_windows[key]
    qtbot.waitUntil(shown.isVisible)
    shown.activateWindow()  # offscreen: a new window is not made active by itself
    qtbot.waitUntil(shown.isActiveWindow)
    return shown


def _menu(win: DisplayWindow, title: str) -> list[str]:
    menu = next(a.menu() for a in win.menuBar().actions() if a.text() == title)
    return [a.text() for a in menu.actions() if not a.isSeparator()]


def test_display_opens_one_window_per_domain_and_brings_it_back(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    first = _open(window, qtbot, node_uri, "web01")
    assert first.windowTitle() == "web01 — Display"
    assert first.focusWidget() is first.pane.view, "typing goes to the guest, not to the Disconnect button"
    first.pane.connect_button.setFocus()
    assert _open(window, qtbot, node_uri, "web01") is first, "pressed again: the same window"
    assert first.focusWidget() is first.pane.view
    other = _open(window, qtbot, node_uri, "db01")
    assert other is not first and other.windowTitle() == "db01 — Display"
    first.close()
    qtbot.waitUntil(lambda: len(window.commands.display_windows) == 1)
    again = _open(window, qtbot, node_uri, "web01")
    assert again is not first and len(window.commands.display_windows) == 2


def test_the_window_s_menus_offer_views_keys_a_screenshot_and_the_external_viewer(open_window, node_uri, qtbot,
                                                                                   monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no viewer installed
    window = open_window(node_uri)
    win = _open(window, qtbot, node_uri, "web01")
    assert _menu(win, "&View") == ["Scale to Fit", "Actual Size (1:1)", "Full Screen", "Take Screenshot…"]
    assert _menu(win, "Send &Key") == (["Ctrl+Alt+Del", "Ctrl+Alt+Backspace"]
                                       + [f"Ctrl+Alt+F{i}" for i in range(1, 13)] + ["PrintScreen"])
    assert _menu(win, "&Domain") == ["Start", "Pause", "Resume", "Shut Down", "Reboot", "Force Off",
                                     "Open in External Viewer", "Take Screenshot…", "Close"]
    assert win.pane.full_screen_action.shortcuts() == [QKeySequence("F11"), QKeySequence("Ctrl+Alt+F")]
    viewer = win.external_viewer
    assert not viewer.isEnabled()
    assert viewer.toolTip() == ("Not possible: web01 cannot be shown: no VNC viewer is installed "
                                "(install virt-viewer or TigerVNC)")
    assert win.pane.fit_action.isChecked() and win.pane.fit.isChecked()
    win.pane.actual_action.trigger()
    assert not win.pane.fit.isChecked() and not win.pane.view.scale_to_fit


def test_f11_goes_full_screen_with_a_hint_and_esc_comes_back(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    win = _open(window, qtbot, node_uri, "web01")
    view = win.pane.view
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_F11)
    qtbot.waitUntil(win.isFullScreen)
    assert win.hint.isVisible() and win.hint.text() == "Full screen: press F11, Ctrl+Alt+F or Esc to leave."
    assert not win.menuBar().isVisible()
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not win.isFullScreen())
    assert win.menuBar().isVisible() and not win.pane.full_screen_action.isChecked()
    qtbot.keyClick(view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(win.isFullScreen)
    qtbot.keyClick(view, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: not win.isFullScreen())


def test_full_screen_from_the_details_tab_opens_the_window_full_screen(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    key = _select(window, qtbot, node_uri, "web01")
    window.details.display.full_screen_action.trigger()
    win = window.commands.display_windows[key]
    qtbot.waitUntil(win.isFullScreen)
    assert not window.details.display.full_screen_action.isChecked()


def test_a_shut_off_domain_offers_start_and_a_paused_one_resume(open_window, make_node, qtbot):
    uri = make_node(xml=DEMO_NODE_XML, rate=1000)  # jobs (a start) finish at once
    window = open_window(uri)
    key = _select(window, qtbot, uri, "win11")
    assert not window.findChild(QAction, "actionGraphicalConsole").isEnabled(), "Display is for running domains"
    win = window.commands.open_display(key)  # a window left open while its domain stopped
    notice = win.pane.notice
    assert notice.isVisible() and notice.text.text() == "win11 is not running."
    assert notice.button.text() == "Start" and notice.button.isVisible()
    notice.button.click()
    # running now; the test driver has no display stream, which it then says, offering the external viewer
    qtbot.waitUntil(lambda: "not supported" in notice.text.text(), timeout=30000)
    assert notice.button.text() == "Open in External Viewer"
    window.session.bridge.connection(uri).lookup_by_uuid(key[1]).suspend()
    qtbot.waitUntil(lambda: notice.text.text() == "win11 is paused.", timeout=10000)
    assert notice.button.text() == "Resume"
    notice.button.click()
    qtbot.waitUntil(lambda: "not supported" in notice.text.text(), timeout=10000)
    assert window.session.domains.get(key).rec.active


def test_the_domain_menu_starts_pauses_and_stops_its_domain_as_the_toolbar_does(open_window, make_node, qtbot):
    uri = make_node(xml=DEMO_NODE_XML, rate=1000)  # jobs (a start) finish at once
    window = open_window(uri)
    key = _select(window, qtbot, uri, "win11")
    win = window.commands.open_display(key)
    dom = window.session.bridge.connection(uri).lookup_by_uuid(key[1])

    def enabled() -> set[str]:
        return {a.text() for a in win.lifecycle.actions.values() if a.isEnabled()}
    assert enabled() == {"Start"}
    assert all(a.shortcut().isEmpty() for a in win.lifecycle.actions.values()), "the guest's keys stay the guest's"
    win.findChild(QAction, "displayActionStart").trigger()
    qtbot.waitUntil(lambda: dom.is_active() and "Pause" in enabled(), timeout=10000)
    assert "Start" not in enabled() and {"Shut Down", "Reboot", "Force Off"} <= enabled()
    win.findChild(QAction, "displayActionPause").trigger()
    qtbot.waitUntil(lambda: enabled() >= {"Resume"} and "Pause" not in enabled(), timeout=10000)
    win.findChild(QAction, "displayActionResume").trigger()
    qtbot.waitUntil(lambda: "Pause" in enabled(), timeout=10000)
    win.findChild(QAction, "displayActionForceOff").trigger()  # asked first, as from the toolbar
    qtbot.waitUntil(lambda: window.commands.last_dialog is not None and window.commands.last_dialog.isVisible())
    question = window.commands.last_dialog
    assert question.parent() is win, "asked over the window it was chosen in"
    assert dom.is_active(), "nothing happens before the answer"
    next(b for b in question.buttons() if b.text() == "Force off").click()
    qtbot.waitUntil(lambda: not dom.is_active() and enabled() == {"Start"}, timeout=10000)
    assert window.findChild(QAction, "actionStart") is window.domain_actions["start"], "the main window's own"


def test_a_spice_only_domain_says_so_and_its_button_opens_remote_viewer(open_window, make_node, qtbot, tmp_path,
                                                                         monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorded = _recording_viewer(bin_dir, "remote-viewer")
    monkeypatch.setenv("PATH", str(bin_dir))
    uri = make_node(xml=SPICE_NODE)
    window = open_window(uri)
    win = _open(window, qtbot, uri, "sp")
    notice = win.pane.notice
    qtbot.waitUntil(lambda: notice.text.text() == "This VM's display is SPICE: open it in an external viewer.",
                    timeout=10000)
    assert notice.button.text() == "Open in External Viewer" and notice.button.isVisible()
    assert not any(m.level == "error" for m in window.session.messages.messages()), "the window says it, no dialog"
    notice.button.click()
    qtbot.waitUntil(lambda: recorded.exists() and recorded.read_text().endswith("}"), timeout=10000)
    assert json.loads(recorded.read_text())["argv"][1:] == ["spice://127.0.0.1:5930"]
