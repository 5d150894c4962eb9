"""The snapshot-name dialog, and the base of the small form dialogs.

Each validates its input in place (a red sentence, the OK button stays) rather
than letting a bad value reach the driver. All are opened with ``open()``:
never a nested, window-freezing ``exec()``.
"""
from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QWidget,
)

from ...models.validation import name_problem
from ..names import error_label, name_widget


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
            self.error.setText(why)
            return
        self.accept()


class SnapshotDialog(_FormDialog):
    def __init__(self, count: int, default: str, parent: QWidget | None = None) -> None:
        super().__init__("Take snapshot", "snapshotDialog", parent)
        self.name = QLineEdit(default, self)
        name_widget(self.name, "snapshotName")
        self.form.addRow(f"Snapshot name ({count} domain{'s' if count != 1 else ''}):", self.name)
        self.finish_layout()

    def problem(self) -> str | None:
        return name_problem(self.name.text(), "snapshot")
