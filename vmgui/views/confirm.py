"""The one way the window asks before something that discards state: a warning box, Cancel by default."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget


def ask(parent: QWidget, title: str, text: str, object_name: str, verb: str,
        then: Callable[[], None]) -> QMessageBox:
    """Open (window-modal, never a nested loop) a box whose ``verb`` button runs ``then``; Cancel does nothing."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Cancel, parent)
    box.setObjectName(object_name)
    yes = box.addButton(verb, QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.buttonClicked.connect(lambda button: then() if button is yes else None)
    box.finished.connect(lambda _r: box.deleteLater())
    box.open()
    return box
