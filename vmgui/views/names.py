"""Names for widgets: the objectName tests and tools find a widget by, and the accessible name a
screen reader says, which is what a person reads ("Memory", "Start"), never the objectName.

Qt already names most widgets from what they show: a button or check box by its text, a field
by the label whose buddy it is (QFormLayout sets that up), a window by its title. Only widgets
that show no words of their own (an icon button, a table, a graph) need one here."""
from __future__ import annotations

from PySide6.QtGui import QAction, QFont, QFontDatabase
from PySide6.QtWidgets import QLabel, QWidget

from .theme import error_style


def name_widget(widget: QWidget, name: str, spoken: str | None = None) -> None:
    """``name`` is the objectName; ``spoken``, when given, the accessible name."""
    widget.setObjectName(name)
    if spoken is not None:
        widget.setAccessibleName(spoken)


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
