"""The small dialogs: new VM (the quick form), snapshot name; and the base of the form dialogs.

Each validates its input in place (a red sentence, the OK button stays) rather
than letting a bad value reach the driver. All are opened with ``open()``:
never a nested, window-freezing ``exec()``.
"""
from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QSpinBox, QWidget,
)

from ...models.validation import name_problem
from ..names import ERROR_STYLE, name_widget


class _FormDialog(QDialog):
    def __init__(self, title: str, object_name: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        name_widget(self, object_name)
        self.setWindowTitle(title)
        self.form = QFormLayout(self)
        self.error = QLabel("", self)
        self.error.setObjectName("dialogError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
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


class NewVMDialog(_FormDialog):
    def __init__(self, uris: list[str], parent: QWidget | None = None) -> None:
        super().__init__("New virtual machine", "newVmDialog", parent)
        self.name = QLineEdit(self)
        name_widget(self.name, "newVmName")
        self.name.setPlaceholderText("e.g. web02")
        self.memory = QSpinBox(self)
        name_widget(self.memory, "newVmMemory")
        self.memory.setRange(16, 4 * 1024 * 1024)
        self.memory.setSingleStep(256)
        self.memory.setValue(1024)
        self.memory.setSuffix(" MiB")
        self.vcpus = QSpinBox(self)
        name_widget(self.vcpus, "newVmVcpus")
        self.vcpus.setRange(1, 4096)
        self.vcpus.setValue(1)
        self.conn = QComboBox(self)
        name_widget(self.conn, "newVmConnection")
        self.conn.addItems(uris)
        self.form.addRow("Name:", self.name)
        self.form.addRow("Memory:", self.memory)
        self.form.addRow("vCPUs:", self.vcpus)
        self.form.addRow("Connection:", self.conn)
        self.form.addRow(QLabel("Disks, network and install media come with the full wizard (later).", self))
        self.finish_layout()

    def problem(self) -> str | None:
        return name_problem(self.name.text(), "domain")


class SnapshotDialog(_FormDialog):
    def __init__(self, count: int, default: str, parent: QWidget | None = None) -> None:
        super().__init__("Take snapshot", "snapshotDialog", parent)
        self.name = QLineEdit(default, self)
        name_widget(self.name, "snapshotName")
        self.form.addRow(f"Snapshot name ({count} domain{'s' if count != 1 else ''}):", self.name)
        self.finish_layout()

    def problem(self) -> str | None:
        return name_problem(self.name.text(), "snapshot")
