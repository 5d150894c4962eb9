"""The Backups dialog of one domain: its catalogued backups, and Restore, Verify, Delete, Open Folder, Schedule.

Everything runs through :class:`vmgui.flows.backupcatalog.CatalogController`;
restoring onto the domain and deleting ask first (both discard data).
Verify and restore show their progress in the job panel.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from drivers import DriverError

from ...flows.backupcatalog import CatalogController
from ...flows.backupschedule import BackupScheduler
from ...models.backupcatalog import CatalogRow, restore_name_problem
from .. import confirm
from ..names import name_widget
from .backupschedule import ScheduleDialog
from .simple import _FormDialog, action_button


class RestoreNameDialog(_FormDialog):
    """The name of the new VM a backup is restored to."""

    def __init__(self, default: str, taken: set[str], parent: QWidget | None = None) -> None:
        super().__init__("Restore to a new VM", "restoreNameDialog", parent)
        self.taken = taken
        self.name = QLineEdit(default, self)
        name_widget(self.name, "restoreName", "New VM name")
        self.form.addRow("New VM name:", self.name)
        self.form.addRow(QLabel("The disks are copied to the host's image folder; the new VM gets a new "
                                "identity and new network addresses.", self))
        self.finish_layout()

    def problem(self) -> str | None:
        return restore_name_problem(self.name.text().strip(), self.taken)


class BackupsDialog(QDialog):
    """``backupsDialog``: the ``backupList`` and its buttons."""

    def __init__(self, flow: CatalogController, taken: set[str], parent: QWidget | None = None,
                 scheduler: BackupScheduler | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "backupsDialog")
        self.flow = flow
        self.taken = taken
        self.scheduler = scheduler
        flow.setParent(self)
        self.setWindowTitle(f"Backups of {flow.domain}")
        self.resize(820, 380)
        self.last_dialog: QWidget | None = None
        self.list = QTreeWidget(self)
        name_widget(self.list, "backupList", "Backups")
        self.list.setHeaderLabels(["Taken", "Kind", "Size", "Verified", "Folder"])
        self.list.setRootIsDecorated(False)
        self.list.setColumnWidth(0, 170)
        self.status = QLabel("Loading…", self)
        name_widget(self.status, "backupStatus")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        self.restore_new_button = action_button(buttons, "Restore to New VM…", "backupRestoreNew", self._ask_new)
        self.restore_onto_button = action_button(buttons, f"Restore onto {flow.domain}…", "backupRestoreOnto",
                                                self._ask_onto)
        self.verify_button = action_button(buttons, "Verify", "backupVerify", self._verify)
        self.delete_button = action_button(buttons, "Delete Backup…", "backupDelete", self._ask_delete)
        self.open_button = action_button(buttons, "Open Folder…", "backupOpenFolder", self._ask_folder)
        self.schedule_button = action_button(buttons, "Schedule…", "backupSchedule", self._ask_schedule)
        self.schedule_button.setVisible(scheduler is not None)
        self.schedule_status = QLabel("", self)
        name_widget(self.schedule_status, "backupScheduleStatus")
        self.schedule_status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.schedule_status)
        layout.addWidget(buttons)
        flow.rowsChanged.connect(self._fill)
        flow.problem.connect(self.status.setText)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self._update_buttons()
        self._show_schedule()
        flow.reload()

    def selected(self) -> CatalogRow | None:
        items = self.list.selectedItems()
        if not items:
            return None
        row: CatalogRow = items[0].data(0, Qt.ItemDataRole.UserRole)
        return row

    def _fill(self, rows: list[CatalogRow]) -> None:
        keep = self.selected()
        self.list.clear()
        for row in rows:
            item = QTreeWidgetItem(self.list, [row.time, row.kind, row.size, row.verified, row.folder])
            item.setData(0, Qt.ItemDataRole.UserRole, row)
            item.setToolTip(3, row.verified)
            item.setToolTip(1, f"Not restorable: {row.problem}" if row.problem else row.kind)
            if row.problem:
                item.setText(1, f"{row.kind} (not restorable)")
            if row.backup.domain_uuid != self.flow.key[1]:
                item.setToolTip(0, f"A backup of {row.backup.domain_name}")
            if keep is not None and keep.folder == row.folder:
                item.setSelected(True)
        folders = ", ".join(self.flow.folders + self.flow.opened) or "no folder yet"
        self.status.setText(f"{len(rows)} backup(s) in {folders}." if rows else
                            f"No finished backups of {self.flow.domain} in {folders}. Use Open Folder… to look "
                            "somewhere else.")
        self._update_buttons()

    def _update_buttons(self) -> None:
        row = self.selected()
        for button in (self.verify_button, self.delete_button):
            button.setEnabled(row is not None)
        restorable = row is not None and row.problem is None
        self.restore_new_button.setEnabled(restorable)
        self.restore_onto_button.setEnabled(restorable and row is not None
                                            and row.backup.domain_uuid == self.flow.key[1])
        why = f"Not restorable: {row.problem}" if row is not None and row.problem else ""
        for button in (self.restore_new_button, self.restore_onto_button):
            button.setToolTip(why)

    def _ask_new(self) -> None:
        row = self.selected()
        if row is None:
            return
        dialog = RestoreNameDialog(f"{row.backup.domain_name}-restored", self.taken, self)
        self.last_dialog = dialog
        dialog.accepted.connect(lambda: self.flow.restore_new(row, dialog.name.text().strip()))
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()

    def _ask_onto(self) -> None:
        row = self.selected()
        if row is None:
            return
        self.last_dialog = confirm.ask(
            self, "Restore backup",
            f"Replace the disks of {self.flow.domain} with the backup taken {row.time}? Everything written to "
            f"them since is lost. {self.flow.domain} must be shut off; its disks are replaced only once the "
            "copy is complete.",
            "confirm_restore_backup", "Restore", lambda: self.flow.restore_onto(row))

    def _verify(self) -> None:
        row = self.selected()
        if row is not None:
            self.flow.verify(row)
            self.status.setText(f"Verifying the backup taken {row.time}: see the job panel.")

    def _ask_delete(self) -> None:
        row = self.selected()
        if row is None:
            return
        self.last_dialog = confirm.ask(
            self, "Delete backup",
            f"Delete the backup of {row.backup.domain_name} taken {row.time} ({row.size})? Its files in "
            f"{row.folder} are removed.",
            "confirm_delete_backup", "Delete", lambda: self.flow.delete(row))

    def _show_schedule(self) -> None:
        if self.scheduler is None:
            return
        schedule = self.scheduler.store.get(*self.flow.key)
        self.schedule_status.setText(f"{self.flow.domain} is not backed up on a schedule." if schedule is None
                                     else f"Scheduled: {schedule.describe()}.")

    def _ask_schedule(self) -> None:
        scheduler = self.scheduler
        if scheduler is None:
            return
        folder = (self.flow.folders or [""])[0]
        dialog = ScheduleDialog(self.flow.domain, scheduler.store.get(*self.flow.key), folder, self)
        self.last_dialog = dialog

        def accepted() -> None:
            try:
                scheduler.set_schedule(self.flow.key, dialog.schedule())
            except (DriverError, OSError) as exc:
                self.status.setText(exc.message if isinstance(exc, DriverError) else
                                    f"The schedule could not be saved: {exc.strerror or exc}")
            self._show_schedule()
        dialog.accepted.connect(accepted)
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()

    def _ask_folder(self) -> None:
        dialog = QFileDialog(self, "Open a folder with backups")
        dialog.setObjectName("backupFolderChooser")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        self.last_dialog = dialog
        dialog.fileSelected.connect(self.flow.open_folder)
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()
