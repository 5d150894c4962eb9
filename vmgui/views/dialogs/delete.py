"""The delete dialog: disks to remove too, and explicit ticks for what libvirt refuses."""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from drivers import UndefineFlags

from ...i18n import NP_, translate
from ...models.deletion import DeleteEntry
from ..names import error_label, name_widget
from ..theme import error_style

#: The translation context of the dialog's text (``self.tr`` here uses it too).
CONTEXT = "DeleteDialog"


class DeleteDialog(QDialog):
    """Per domain: warnings and one unticked "also delete this disk file" box per file disk; a disk the
    driver refuses to delete (in use by another VM) gets a disabled box and the driver's reason."""

    def __init__(self, entries: list[DeleteEntry], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "deleteDialog")
        self.setWindowTitle(self.tr("Delete"))
        self.entries = entries
        layout = QVBoxLayout(self)
        self.file_checks: dict[tuple[str, str], QCheckBox] = {}  # (domain, path) -> box
        self.refusals: dict[tuple[str, str], QLabel] = {}  # (domain, path) -> why the driver keeps it
        warnings: list[str] = []  # translated
        for entry in entries:
            layout.addWidget(QLabel(self.tr("Delete the definition of {name}.").format(name=entry.name), self))
            for disk in entry.files():
                box = QCheckBox(self.tr("Also delete this disk file: {path} ({target})").format(
                    path=disk.source, target=disk.target), self)
                name_widget(box, f"deleteFile_{entry.name}_{disk.target}")
                self.file_checks[(entry.name, disk.source or "")] = box
                layout.addWidget(box)
                refusal = entry.refusal(disk)
                if refusal:
                    why = translate(CONTEXT, refusal)  # the driver refuses: the file is not offered for deletion
                    box.setEnabled(False)
                    box.setToolTip(why)
                    box.setAccessibleDescription(why)
                    note = QLabel(self.tr("Kept: {why}").format(why=why), self)
                    note.setObjectName(f"deleteRefused_{entry.name}_{disk.target}")
                    note.setWordWrap(True)
                    note.setStyleSheet(error_style())
                    self.refusals[(entry.name, disk.source or "")] = note
                    layout.addWidget(note)
            warnings += [translate(CONTEXT, w) for w in entry.warnings()]
        self.warning = QLabel("\n".join(self.tr("⚠ {warning}").format(warning=w) for w in warnings), self)
        self.warning.setObjectName("deleteWarnings")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(error_style())
        self.warning.setVisible(bool(warnings))
        layout.addWidget(self.warning)
        self.metadata = QCheckBox(self.tr("Also remove snapshot &metadata and saved states"), self)
        name_widget(self.metadata, "deleteMetadata")
        self.metadata.setVisible(any(e.needs_metadata_flags() for e in entries))
        layout.addWidget(self.metadata)
        self.force = QCheckBox(self.tr("&Force off running domains"), self)
        name_widget(self.force, "deleteForce")
        self.force.setVisible(any(e.running for e in entries))
        self.force.toggled.connect(self.validate)
        layout.addWidget(self.force)
        self.error = error_label(self)
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.ok = self.buttons.addButton(self.tr("&Delete"), QDialogButtonBox.ButtonRole.DestructiveRole)
        self.ok.clicked.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.validate()

    def validate(self) -> None:
        """Running domains are only deleted after the explicit "Force off" tick."""
        running = [e.name for e in self.entries if e.running]
        why = translate(CONTEXT, NP_("{names} is running: tick “Force off running domains” or stop it first.",
                                     "{names} are running: tick “Force off running domains” or stop them first.",
                                     len(running), names=", ".join(running))) \
            if running and not self.force.isChecked() else ""
        self.error.setText(why)
        self.ok.setEnabled(not why)
        self.ok.setToolTip(why)

    def flags(self) -> int:
        """Undefine flags: only what the user explicitly allowed."""
        if self.metadata.isChecked():
            return int(UndefineFlags.SNAPSHOTS_METADATA | UndefineFlags.MANAGED_SAVE | UndefineFlags.NVRAM)
        return 0

    def files(self, name: str) -> list[str]:
        return [path for (n, path), box in self.file_checks.items()
                if n == name and box.isChecked() and box.isEnabled()]
