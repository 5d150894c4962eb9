"""``quitNotice``: said once at Quit when VMs keep running without vmgui."""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from ..names import name_widget


class QuitNotice(QDialog):
    """Quit (``quitAnyway``) accepts, Cancel rejects; ``again`` is "Don't show this again"."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "quitNotice")
        self.setWindowTitle("Quit vmgui?")
        layout = QVBoxLayout(self)
        message = QLabel(f"{text}\nOpen vmgui again to see and manage them.", self)
        message.setObjectName("quitNoticeText")
        message.setWordWrap(True)
        layout.addWidget(message)
        self.again = QCheckBox("Don't show this again", self)
        name_widget(self.again, "quitNoticeNever")
        layout.addWidget(self.again)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.quit = buttons.addButton("Quit", QDialogButtonBox.ButtonRole.AcceptRole)
        name_widget(self.quit, "quitAnyway")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
