"""A pseudo-translation for tests, and a walk over everything a window shows a person.

:class:`BracketTranslator` answers every lookup with the source text wrapped in
``⟦…⟧`` (Qt fills in ``%n`` afterwards, as it does for a real translation), so a
string on screen without the markers never went through a translation function.
:func:`shown_texts` lists every string a person reads or hears in a window: the
text, title, tooltip, status tip, placeholder, accessible name and description
of each widget and action, the items of combo boxes, lists and tabs, and the
column titles of tables.
"""
from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTranslator
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QMenu,
    QPlainTextEdit,
    QSpinBox,
    QStatusBar,
    QTableView,
    QTabWidget,
    QTextEdit,
    QWidget,
)

OPEN, CLOSE = "\u27e6", "\u27e7"


class BracketTranslator(QTranslator):
    """Pseudo-translation: wraps every source text in markers."""

    def translate(self, context: str, source: str, disambiguation: str | None = None, n: int = -1) -> str:
        return f"{OPEN}{source}{CLOSE}"


@dataclass(frozen=True)
class Shown:
    """One string on screen: where (objectName path), which property, the text."""

    where: str
    what: str
    text: str


def translated(text: str) -> bool:
    """Went through a translation: the whole text (around its indentation) is one translated string."""
    text = text.strip()
    return text.startswith(OPEN) and text.endswith(CLOSE)


def fragments(rich: str) -> list[str]:
    """The texts between the tags of rich text (a table of translated headings and values), unescaped."""
    return [html.unescape(part) for part in re.split(r"<[^>]*>", rich) if part.strip()]


def is_data(text: str, data: Iterable[str]) -> bool:
    """A value the window shows, not words of its own: one of ``data`` (names, UUIDs, URIs, paths) or a figure
    with no letter in it (numbers, sizes without a unit, times, the dash for "unknown", symbols like ✕)."""
    text = text.strip()
    return text in set(data) or not any(c.isalpha() for c in text)


def _path(obj: QObject) -> str:
    names = []
    while obj is not None:
        names.append(obj.objectName() or type(obj).__name__)
        obj = obj.parent()
    return "/".join(reversed(names))


def _inside(obj: QObject, skipped: Callable[[QObject], bool]) -> bool:
    while obj is not None:
        if skipped(obj):
            return True
        obj = obj.parent()
    return False


def _action_texts(action: QAction) -> Iterator[tuple[str, str]]:
    yield "text", action.text()
    yield "toolTip", action.toolTip()
    yield "statusTip", action.statusTip()
    menu = action.menu()
    if isinstance(menu, QMenu):
        yield "menu title", menu.title()


def _widget_texts(w: QWidget) -> Iterator[tuple[str, str]]:
    yield "windowTitle", w.windowTitle() if w.isWindow() or w.windowTitle() else ""
    yield "toolTip", w.toolTip()
    yield "statusTip", w.statusTip()
    yield "accessibleName", w.accessibleName()
    yield "accessibleDescription", w.accessibleDescription()
    if isinstance(w, QLabel):
        yield "text", w.text()
    elif isinstance(w, QAbstractButton):
        yield "text", w.text()
    elif isinstance(w, QLineEdit):  # what is typed in it is the person's own data
        yield "placeholderText", w.placeholderText()
    elif isinstance(w, (QPlainTextEdit, QTextEdit)):  # the XML or diff shown is data
        yield "placeholderText", w.placeholderText()
    elif isinstance(w, QSpinBox):
        yield "prefix", w.prefix()
        yield "suffix", w.suffix()
    elif isinstance(w, QGroupBox):
        yield "title", w.title()
    elif isinstance(w, QMenu):
        yield "title", w.title()
    elif isinstance(w, QStatusBar):
        yield "message", w.currentMessage()
    if isinstance(w, QComboBox):
        for i in range(w.count()):
            yield f"item {i}", w.itemText(i)
    elif isinstance(w, QListWidget):
        for i in range(w.count()):
            yield f"item {i}", w.item(i).text()
            yield f"item {i} toolTip", w.item(i).toolTip()
    elif isinstance(w, QTabWidget):
        for i in range(w.count()):
            yield f"tab {i}", w.tabText(i)
            yield f"tab {i} toolTip", w.tabToolTip(i)
    elif isinstance(w, QTableView) and w.model() is not None:
        model = w.model()
        for section in range(model.columnCount()):
            yield f"column {section}", model.headerData(section, Qt.Orientation.Horizontal) or ""


def shown_texts(top: QWidget, skipped: Callable[[QObject], bool] = lambda _o: False) -> list[Shown]:
    """Every non-empty string ``top`` and its children show (hidden ones too: they show them later), but
    none of an object for which ``skipped`` is true or of its children."""
    found: list[Shown] = []
    actions: dict[int, QAction] = {}
    for w in [top, *top.findChildren(QWidget)]:
        if _inside(w, skipped):
            continue
        found += [Shown(_path(w), what, text) for what, text in _widget_texts(w) if text]
        for action in w.actions():
            actions.setdefault(id(action), action)
    for action in top.findChildren(QAction):
        actions.setdefault(id(action), action)
    for action in actions.values():
        if not _inside(action, skipped):
            found += [Shown(_path(action), what, text) for what, text in _action_texts(action) if text]
    return found


def untranslated(top: QWidget, data: Iterable[str], skipped: Callable[[QObject], bool] = lambda _o: False
                 ) -> list[str]:
    """``where what: text`` for each shown string that is neither translated nor data."""
    values = set(data)

    def passes(text: str) -> bool:
        if translated(text) or is_data(text, values):
            return True
        rich = re.search(r"<[a-zA-Z/][^>]*>", text) is not None
        return rich and all(passes(part) for part in fragments(text))
    return [f"{s.where} {s.what}: {s.text!r}" for s in shown_texts(top, skipped) if not passes(s.text)]
