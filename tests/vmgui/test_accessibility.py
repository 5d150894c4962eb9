"""Every control a screen reader reaches has a name a person would say: no empty names, no objectNames."""
from __future__ import annotations

import re

from PySide6.QtGui import QAccessible, QAction
from PySide6.QtWidgets import QApplication, QDialog, QWidget
from test_window import select

#: roles a person operates or reads; containers (panes, groupings, layouts) need no name of their own
NAMED_ROLES = {
    QAccessible.Role.PushButton, QAccessible.Role.CheckBox, QAccessible.Role.RadioButton,
    QAccessible.Role.ComboBox, QAccessible.Role.EditableText, QAccessible.Role.SpinBox,
    QAccessible.Role.Slider, QAccessible.Role.Table, QAccessible.Role.List, QAccessible.Role.Tree,
    QAccessible.Role.PageTab, QAccessible.Role.ProgressBar, QAccessible.Role.ButtonMenu,
    QAccessible.Role.ButtonDropDown, QAccessible.Role.Graphic, QAccessible.Role.Chart,
    QAccessible.Role.Dialog, QAccessible.Role.Window, QAccessible.Role.ToolBar,
}
#: an identifier: camelCase, snake_case or a single lower-case word with digits (``editMemory``, ``job_3``)
IDENTIFIER = re.compile(r"^[a-z]+([A-Z][a-z0-9]*)+$|^[a-z0-9]+(_[a-z0-9]+)+$")
#: a name a person says has a letter or digit in it: "✕" or "…" alone is read as a symbol's name
SAYS_A_WORD = re.compile(r"\w")


def spoken(root: QWidget) -> tuple[list[str], set[str]]:
    """What a screen reader would read badly under ``root`` ("objectName (role): name"), and
    every name it reads there."""
    problems = []
    names = set()
    stack = [QAccessible.queryAccessibleInterface(root)]
    seen = 0
    while stack:
        face = stack.pop()
        if face is None or not face.isValid():
            continue
        seen += 1
        state = face.state()
        widget = face.object() if isinstance(face.object(), QWidget) else None
        visible = not state.invisible and (widget is None or widget.isVisibleTo(root) or widget is root)
        role = face.role()
        name = face.text(QAccessible.Text.Name).strip()
        if visible and name:
            names.add(name)
        if visible and role in NAMED_ROLES and (not name or IDENTIFIER.match(name) or not SAYS_A_WORD.search(name)
                                                 or (widget is not None and name == widget.objectName())):
            what = widget.objectName() if widget is not None else type(face.object()).__name__
            problems.append(f"{what or type(face.object()).__name__} ({role.name}): {name!r}")
        stack.extend(face.child(i) for i in range(face.childCount()))
    assert seen > 4, "the accessibility tree was not walked"
    return problems, names


def unnamed(root: QWidget) -> list[str]:
    return spoken(root)[0]


def test_the_main_window_names_every_control_for_a_screen_reader(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "web01")
    window.refresh_selection_state()
    qtbot.waitUntil(lambda: window.details.isVisible())
    problems, names = spoken(window)
    assert {"Start", "Force Off", "Domains", "Search domains", "Running", "Jobs", "Overview"} <= names
    for tab in range(1, window.details.count()):  # Hardware, XML
        window.details.setCurrentIndex(tab)
        qtbot.wait(50)
        problems += unnamed(window)
    assert problems == [], "\n".join(problems)


def test_the_edit_form_names_every_field(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "web01")
    qtbot.waitUntil(lambda: window.details.edit_button.isEnabled())
    before = set(QApplication.topLevelWidgets())
    window.details.edit_button.click()
    qtbot.waitUntil(lambda: any(isinstance(w, QDialog) and w.isVisible() for w in QApplication.topLevelWidgets()
                                if w not in before), timeout=5000)
    dialog = next(w for w in QApplication.topLevelWidgets() if w not in before and isinstance(w, QDialog))
    problems, names = spoken(dialog)
    assert problems == [], "\n".join(problems)
    assert any(n.startswith("Memory") for n in names), names
    dialog.reject()


def open_dialog(window, qtbot, action: str) -> QDialog:
    before = set(QApplication.topLevelWidgets())
    trigger = window.findChild(QAction, action)
    assert trigger.isEnabled(), action
    trigger.trigger()

    def opened() -> QDialog:
        new = [w for w in QApplication.topLevelWidgets() if w not in before and isinstance(w, QDialog)
               and w.isVisible()]
        assert new
        return new[0]
    qtbot.waitUntil(lambda: bool(opened()), timeout=5000)
    return opened()


def test_the_dialogs_name_every_control_for_a_screen_reader(open_window, node_uri, make_node, qtbot):
    window = open_window(node_uri, make_node(2))
    problems = {}
    for name, action in (("web01", "actionSnapshot"), ("web01", "actionBackup"), ("web01", "actionDelete"),
                         ("web01", "actionMigrate"), ("web01", "actionSnapshots"), ("web01", "actionConsole"),
                         (None, "actionNewVM"), (None, "actionConnect")):
        if name:
            select(window, name)
            window.refresh_selection_state()
        dialog = open_dialog(window, qtbot, action)
        qtbot.wait(100)
        problems[action] = unnamed(dialog)
        dialog.reject()
    bad = {k: v for k, v in problems.items() if v}
    assert bad == {}, "\n".join(f"{k}: {p}" for k, v in bad.items() for p in v)
