"""Tab walks every control of the main window and of each dialog in the order a person reads it.

Each test presses Tab (real key events to the focused widget) from the first
control until focus comes back to it: the walk must visit exactly the enabled,
visible controls that take Tab focus (none skipped), each once (none traps
focus), in the visual order written down here; Shift+Tab walks it backwards.
"""
from __future__ import annotations

from collections.abc import Sequence

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication, QDialogButtonBox, QLabel, QMenuBar, QToolBar, QWidget
from test_window import select

from vmgui.views.dialogs.connect import ConnectDialog
from vmgui.views.dialogs.delete import DeleteDialog
from vmgui.views.dialogs.migrate import MigrateDialog
from vmgui.views.editform import EditDialog


def _name(w: QWidget | None) -> str:
    if w is None:
        return "nothing"
    names = []
    while w is not None and len(names) < 3:
        names.append(w.objectName() or type(w).__name__)
        w = w.parentWidget()
    return "/".join(names)


def _focused(window: QWidget) -> QWidget:
    """The widget with focus; the owner when focus sits in a control's inner part (an editable combo's field)."""
    w = QApplication.focusWidget()
    assert w is not None and window.isAncestorOf(w) or w is window, f"focus left the window for {_name(w)}"
    return w


def walk(window: QWidget, start: QWidget, qtbot, key: Qt.Key = Qt.Key.Key_Tab, limit: int = 80) -> list[QWidget]:
    """Press ``key`` from ``start`` until focus is back at ``start``: the widgets visited, ``start`` first."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    start.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is start)
    seen = [start]
    for _ in range(limit):
        QTest.keyClick(_focused(window), key)
        w = _focused(window)
        if w is start:
            return seen
        assert w not in seen, "Tab is trapped: " + " -> ".join(_name(x) for x in [*seen, w])
        seen.append(w)
    raise AssertionError(f"Tab never came back to {_name(start)}: " + " -> ".join(_name(x) for x in seen))


def tab_stops(window: QWidget) -> set[QWidget]:
    """The controls Tab must reach: shown, enabled, taking Tab focus, not handing it to a proxy."""
    return {w for w in window.findChildren(QWidget)
            if w.isVisible() and w.isEnabled() and w.focusPolicy() & Qt.FocusPolicy.TabFocus
            and w.focusProxy() is None and w.window() is window}


def buttons_left_to_right(box: QDialogButtonBox) -> list[QWidget]:
    """A button box's buttons as shown (their order depends on the desktop's style)."""
    return sorted((b for b in box.buttons() if b.isVisible()), key=lambda b: b.mapTo(box, b.rect().topLeft()).x())


def assert_order(window: QWidget, expected: Sequence[QWidget], qtbot) -> None:
    """Tab visits exactly ``expected``, in that order, and Shift+Tab the reverse; no other control takes focus."""
    assert set(expected) == tab_stops(window), "controls out of the Tab walk: " + ", ".join(
        sorted(_name(w) for w in tab_stops(window) ^ set(expected)))
    forward = walk(window, expected[0], qtbot)
    assert [_name(w) for w in forward] == [_name(w) for w in expected]
    backward = walk(window, expected[0], qtbot, Qt.Key.Key_Backtab)
    assert backward == [expected[0], *reversed(expected[1:])]


def test_main_window_filters_search_table_then_details(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "test")  # Edit… is enabled
    bar, details = window.filter_bar, window.details
    bar.buttons[next(iter(bar.buttons))].setChecked(True)  # a filter: Clear filters takes part
    qtbot.waitUntil(bar.clear_button.isEnabled)
    chip = window.conn_status.chips[node_uri]
    expected = [bar.search, bar.conn_combo, bar.clear_button, *bar.buttons.values(), window.table,
                details.tabBar(), details.edit_button, details.overview, window.job_panel.clear_button,
                window.job_panel.view, chip.close_button]
    assert_order(window, expected, qtbot)


@pytest.mark.parametrize("page", ["hardware", "xml"])
def test_each_details_page_comes_after_the_tabs(open_window, node_uri, qtbot, page):
    window = open_window(node_uri)
    select(window, "test")
    details = window.details
    shown = getattr(details, page)
    details.setCurrentWidget(shown)
    inside = [shown.edit_button] if page == "xml" else []  # the XML page's Edit XML (the others show while editing)
    qtbot.waitUntil(lambda: all(w.isVisible() for w in [shown, *inside]))
    bar, chip = window.filter_bar, window.conn_status.chips[node_uri]
    expected = [bar.search, bar.conn_combo, *bar.buttons.values(), window.table, details.tabBar(),
                details.edit_button, shown, *inside, window.job_panel.clear_button, window.job_panel.view,
                chip.close_button]
    assert_order(window, expected, qtbot)


def test_table_keeps_arrows_and_gives_tab_away(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "test")
    walk_from_table = walk(window, window.table, qtbot)
    assert walk_from_table[1] is window.details.tabBar()  # one Tab: out of the table, not to the next cell
    window.table.setFocus()
    row = window.table.currentIndex().row()
    QTest.keyClick(window.table, Qt.Key.Key_Down)
    assert window.table.currentIndex().row() == row + 1


def test_connect_dialog(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    window.show_connect_dialog()
    dialog = window.commands.last_dialog
    assert isinstance(dialog, ConnectDialog)
    qtbot.waitUntil(dialog.isVisible)
    assert_order(dialog, [dialog.combo, *buttons_left_to_right(dialog.findChild(QDialogButtonBox))], qtbot)


def test_delete_dialog(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "test")  # running, with a disk file: the file tick, then Force off
    window.findChild(QAction, "actionDelete").trigger()
    qtbot.waitUntil(lambda: isinstance(window.commands.last_dialog, DeleteDialog) and
                    window.commands.last_dialog.isVisible(), timeout=10000)
    dialog = window.commands.last_dialog
    dialog.force.setChecked(True)  # Delete is enabled
    # a file the driver keeps (or whose use it could not tell in time, on a busy machine) has a disabled box
    ticks = [box for box in dialog.file_checks.values() if box.isEnabled()]
    expected = [*ticks, dialog.force, *buttons_left_to_right(dialog.buttons)]
    assert_order(dialog, expected, qtbot)


def test_migrate_dialog(open_window, node_uri, make_node, qtbot):
    dest = make_node(1)
    window = open_window(node_uri, dest)
    select(window, "web01")
    window.findChild(QAction, "actionMigrate").trigger()
    qtbot.waitUntil(lambda: isinstance(window.commands.last_dialog, MigrateDialog), timeout=10000)
    dialog = window.commands.last_dialog
    qtbot.waitUntil(lambda: dialog.checks() is not None and dialog.isVisible(), timeout=10000)
    expected = [dialog.dest, dialog.check_list, dialog.live, dialog.persist, dialog.undefine,
                *buttons_left_to_right(dialog.buttons)]
    assert_order(dialog, expected, qtbot)


def test_edit_dialog(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "win11")  # shut off: the name can change
    window.details.edit_button.click()
    qtbot.waitUntil(lambda: window.details.flow.dialog is not None and window.details.flow.dialog.isVisible())
    d = window.details.flow.dialog
    assert isinstance(d, EditDialog)
    d.name.setText("win11-renamed")  # a change: Apply… is enabled
    qtbot.waitUntil(d.ok.isEnabled)

    def button(name: str) -> QWidget:
        found = d.findChild(QWidget, name)
        assert found is not None
        return found
    expected = [d.name, d.title_edit, d.memory, d.vcpus, d.autostart, d.boot, button("editBootUp"),
                button("editBootDown"), d.disk_list, d.disk_path, button("editDiskAdd"), button("editCdromSet"),
                button("editDiskRemove"), d.nic_list, d.nic_type, d.nic_source, button("editNicAdd"),
                button("editNicRemove"), *buttons_left_to_right(d.buttons)]
    assert_order(d, expected, qtbot)


def mnemonic(text: str) -> str | None:
    """The letter after a single ``&`` (``&&`` is a literal ampersand), lower case; None without one."""
    i = text.replace("&&", "").find("&")
    return text.replace("&&", "")[i + 1].lower() if 0 <= i < len(text.replace("&&", "")) - 1 else None


def window_mnemonics(window: QWidget) -> list[tuple[str, str]]:
    """(letter, owner) for the menu bar's menus and every shown button and buddied label of ``window``."""
    found = []
    menu_bar = window.findChild(QMenuBar)
    if menu_bar is not None and menu_bar.window() is window:
        found += [(mnemonic(a.text()), a.text()) for a in menu_bar.actions()]
    found += [(mnemonic(b.text()), _name(b)) for b in window.findChildren(QAbstractButton)
              if b.isVisible() and b.window() is window and not isinstance(b.parentWidget(), QToolBar)]
    found += [(mnemonic(label.text()), _name(label)) for label in window.findChildren(QLabel)
              if label.isVisible() and label.buddy() is not None]
    return [(letter, owner) for letter, owner in found if letter is not None]


def assert_unique_mnemonics(window: QWidget) -> None:
    letters = window_mnemonics(window)
    doubled = {letter for letter, _o in letters if [x for x, _ in letters].count(letter) > 1}
    assert not doubled, f"Alt+{'/'.join(sorted(doubled))} is taken twice: {letters}"


def test_every_menu_item_has_a_mnemonic_or_a_shortcut_and_no_menu_repeats_a_letter(open_window, node_uri):
    window = open_window(node_uri)
    menus = [a.menu() for a in window.menuBar().actions()]
    while menus:
        menu = menus.pop()
        items = [a for a in menu.actions() if not a.isSeparator()]
        menus += [a.menu() for a in items if a.menu() is not None]
        bare = [a.text() for a in items if mnemonic(a.text()) is None and a.shortcut().isEmpty()]
        assert not bare, f"{menu.title()}: no mnemonic and no shortcut for {bare}"
        letters = [mnemonic(a.text()) for a in items if mnemonic(a.text())]
        assert len(letters) == len(set(letters)), f"{menu.title()} repeats a mnemonic: {letters}"
    assert_unique_mnemonics(window)
    assert {mnemonic(a.text()) for a in window.menuBar().actions()} == {"f", "d", "v", "h"}


def test_each_dialog_gives_its_mnemonics_once(open_window, node_uri, make_node, qtbot):
    window = open_window(node_uri, make_node(1))
    window.show_connect_dialog()
    assert_unique_mnemonics(window.commands.last_dialog)
    assert {"u", "c"} <= {letter for letter, _o in window_mnemonics(window.commands.last_dialog)}  # URI, Connect
    window.commands.last_dialog.reject()
    select(window, "win11")
    window.details.edit_button.click()
    qtbot.waitUntil(lambda: window.details.flow.dialog is not None and window.details.flow.dialog.isVisible())
    assert_unique_mnemonics(window.details.flow.dialog)
    window.details.flow.dialog.reject()
    select(window, "web01")
    window.findChild(QAction, "actionMigrate").trigger()
    qtbot.waitUntil(lambda: isinstance(window.commands.last_dialog, MigrateDialog), timeout=10000)
    assert_unique_mnemonics(window.commands.last_dialog)
    window.commands.last_dialog.reject()
    select(window, "test")
    window.findChild(QAction, "actionDelete").trigger()
    qtbot.waitUntil(lambda: isinstance(window.commands.last_dialog, DeleteDialog), timeout=10000)
    assert_unique_mnemonics(window.commands.last_dialog)
