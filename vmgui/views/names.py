"""objectName and accessible name together: the names tests and tools find widgets by
are what tests and assistive technology both look widgets up by."""
from __future__ import annotations

from PySide6.QtGui import QAction, QFont, QFontDatabase
from PySide6.QtWidgets import QLabel, QWidget

from .theme import error_style


def name_widget(widget: QWidget, name: str) -> None:
    widget.setObjectName(name)
    widget.setAccessibleName(name)


def name_action(action: QAction, name: str) -> None:
    action.setObjectName(name)


def error_label(parent: QWidget, name: str = "dialogError") -> QLabel:
    """The red, wrapping sentence a dialog shows under its fields for bad input (empty until there is some)."""
    label = QLabel("", parent)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setStyleSheet(error_style())
    return label


def fixed_font() -> QFont:
    """The desktop's monospace font: XML, diffs and the serial console line up in columns."""
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
