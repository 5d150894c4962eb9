"""``quitNotice``: said once at Quit when VMs keep running without vmgui."""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from ...i18n import translate
from ..names import name_widget

#: The translation context of the notice's text (``self.tr`` here uses it too).
CONTEXT = "QuitNotice"


class QuitNotice(QDialog):
    """Quit (``quitAnyway``) accepts, Cancel rejects; ``again`` is "Don't show this again"."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "quitNotice")
        self.setWindowTitle(self.tr("Quit vmgui?"))
        layout = QVBoxLayout(self)
        message = QLabel(self.tr("{notice}\nOpen vmgui again to see and manage them.").format(
            notice=translate(CONTEXT, text)), self)
        message.setObjectName("quitNoticeText")
        message.setWordWrap(True)
        layout.addWidget(message)
        self.again = QCheckBox(self.tr("Don't show this again"), self)
        name_widget(self.again, "quitNoticeNever")
        layout.addWidget(self.again)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.quit = buttons.addButton(self.tr("Quit"), QDialogButtonBox.ButtonRole.AcceptRole)
        name_widget(self.quit, "quitAnyway")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
