"""The snapshot-name dialog, the base of the small form dialogs, and their action buttons.

Each validates its input in place (a red sentence, the OK button stays) rather
than letting a bad value reach the driver. All are opened with ``open()``:
never a nested, window-freezing ``exec()``.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from ...i18n import NP_, Text, translate
from ...models.validation import name_problem
from ..names import error_label, name_widget

#: The translation context of the form dialogs' own sentences (``self.tr`` in each dialog uses its class name).
CONTEXT = "FormDialog"


def action_button(box: QDialogButtonBox, text: str, name: str, slot: Callable[[], None]) -> QPushButton:
    """A button of a dialog's button row that acts on what is chosen (never the default: Enter does not press it)."""
    button = box.addButton(text, QDialogButtonBox.ButtonRole.ActionRole)
    button.setObjectName(name)
    button.setAutoDefault(False)
    button.clicked.connect(slot)
    return button


class _FormDialog(QDialog):
    def __init__(self, title: str, object_name: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        name_widget(self, object_name)
        self.setWindowTitle(title)
        self.form = QFormLayout(self)
        self.error = error_label(self)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self._check)
        self.buttons.rejected.connect(self.reject)

    def finish_layout(self) -> None:
        self.form.addRow(self.error)
        self.form.addRow(self.buttons)

    def problem(self) -> str | None:
        return None

    def _check(self) -> None:
        why = self.problem()
        if why:
            # a marked text is translated here; one a subclass translated itself (tr()) is shown as it is
            self.error.setText(translate(CONTEXT, why) if isinstance(why, Text) else why)
            return
        self.accept()


class SnapshotDialog(_FormDialog):
    def __init__(self, count: int, default: str, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Take snapshot"), "snapshotDialog", parent)
        self.name = QLineEdit(default, self)
        name_widget(self.name, "snapshotName")
        self.form.addRow(translate(CONTEXT, NP_("Snapshot name (%n domain):", "Snapshot name (%n domains):", count)),
                         self.name)
        self.finish_layout()

    def problem(self) -> str | None:
        return name_problem(self.name.text(), "snapshot")
