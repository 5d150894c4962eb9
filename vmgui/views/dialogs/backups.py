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
from ...i18n import NP_, translate
from ...models.backupcatalog import CatalogRow, restore_name_problem
from .. import confirm
from ..names import name_widget
from .backupschedule import ScheduleDialog
from .simple import _FormDialog, action_button

#: The translation context of the Backups dialog's text (``self.tr`` there uses it too).
CONTEXT = "BackupsDialog"


class RestoreNameDialog(_FormDialog):
    """The name of the new VM a backup is restored to."""

    def __init__(self, default: str, taken: set[str], parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Restore to a new VM"), "restoreNameDialog", parent)
        self.taken = taken
        self.name = QLineEdit(default, self)
        name_widget(self.name, "restoreName", self.tr("New VM name"))
        self.form.addRow(self.tr("New VM name:"), self.name)
        self.form.addRow(QLabel(self.tr("The disks are copied to the host's image folder; the new VM gets a new "
                                        "identity and new network addresses."), self))
        self.finish_layout()

    def problem(self) -> str | None:
        return restore_name_problem(self.name.text().strip(), self.taken)  # marked text: shown translated


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
        self.setWindowTitle(self.tr("Backups of {domain}").format(domain=flow.domain))
        self.resize(820, 380)
        self.last_dialog: QWidget | None = None
        self.list = QTreeWidget(self)
        name_widget(self.list, "backupList", self.tr("Backups"))
        self.list.setHeaderLabels([self.tr("Taken"), self.tr("Kind"), self.tr("Size"), self.tr("Verified"),
                                   self.tr("Folder")])
        self.list.setRootIsDecorated(False)
        self.list.setColumnWidth(0, 170)
        self.status = QLabel(self.tr("Loading…"), self)
        name_widget(self.status, "backupStatus")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        self.restore_new_button = action_button(buttons, self.tr("Restore to New VM…"), "backupRestoreNew",
                                                self._ask_new)
        onto = self.tr("Restore onto {domain}…").format(domain=flow.domain)
        self.restore_onto_button = action_button(buttons, onto, "backupRestoreOnto", self._ask_onto)
        self.verify_button = action_button(buttons, self.tr("Verify"), "backupVerify", self._verify)
        self.delete_button = action_button(buttons, self.tr("Delete Backup…"), "backupDelete", self._ask_delete)
        self.open_button = action_button(buttons, self.tr("Open Folder…"), "backupOpenFolder", self._ask_folder)
        self.schedule_button = action_button(buttons, self.tr("Schedule…"), "backupSchedule", self._ask_schedule)
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
            kind, verified = translate(CONTEXT, row.kind), translate(CONTEXT, row.verified)
            item = QTreeWidgetItem(self.list, [row.time, kind, row.size, verified, row.folder])
            item.setData(0, Qt.ItemDataRole.UserRole, row)
            item.setToolTip(3, verified)
            item.setToolTip(1, self.tr("Not restorable: {why}").format(why=row.problem) if row.problem else kind)
            if row.problem:
                item.setText(1, self.tr("{kind} (not restorable)").format(kind=kind))
            if row.backup.domain_uuid != self.flow.key[1]:
                item.setToolTip(0, self.tr("A backup of {domain}").format(domain=row.backup.domain_name))
            if keep is not None and keep.folder == row.folder:
                item.setSelected(True)
        folders = ", ".join(self.flow.folders + self.flow.opened) or self.tr("no folder yet")
        self.status.setText(translate(CONTEXT, NP_("%n backup in {folders}.", "%n backups in {folders}.", len(rows),
                                                   folders=folders)) if rows else
                            self.tr("No finished backups of {domain} in {folders}. Use Open Folder… to look "
                                    "somewhere else.").format(domain=self.flow.domain, folders=folders))
        self._update_buttons()

    def _update_buttons(self) -> None:
        row = self.selected()
        for button in (self.verify_button, self.delete_button):
            button.setEnabled(row is not None)
        restorable = row is not None and row.problem is None
        self.restore_new_button.setEnabled(restorable)
        self.restore_onto_button.setEnabled(restorable and row is not None
                                            and row.backup.domain_uuid == self.flow.key[1])
        why = self.tr("Not restorable: {why}").format(why=row.problem) if row is not None and row.problem else ""
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
            self, self.tr("Restore backup"),
            self.tr("Replace the disks of {domain} with the backup taken {time}? Everything written to "
                    "them since is lost. {domain} must be shut off; its disks are replaced only once the "
                    "copy is complete.").format(domain=self.flow.domain, time=row.time),
            "confirm_restore_backup", self.tr("Restore"), lambda: self.flow.restore_onto(row))

    def _verify(self) -> None:
        row = self.selected()
        if row is not None:
            self.flow.verify(row)
            self.status.setText(self.tr("Verifying the backup taken {time}: see the job panel.").format(time=row.time))

    def _ask_delete(self) -> None:
        row = self.selected()
        if row is None:
            return
        self.last_dialog = confirm.ask(
            self, self.tr("Delete backup"),
            self.tr("Delete the backup of {domain} taken {time} ({size})? Its files in {folder} are removed.").format(
                domain=row.backup.domain_name, time=row.time, size=row.size, folder=row.folder),
            "confirm_delete_backup", self.tr("Delete"), lambda: self.flow.delete(row))

    def _show_schedule(self) -> None:
        if self.scheduler is None:
            return
        schedule = self.scheduler.store.get(*self.flow.key)
        self.schedule_status.setText(
            self.tr("{domain} is not backed up on a schedule.").format(domain=self.flow.domain) if schedule is None
            else self.tr("Scheduled: {schedule}.").format(schedule=translate(CONTEXT, schedule.describe())))

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
                                    self.tr("The schedule could not be saved: {why}").format(why=exc.strerror or exc))
            self._show_schedule()
        dialog.accepted.connect(accepted)
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()

    def _ask_folder(self) -> None:
        dialog = QFileDialog(self, self.tr("Open a folder with backups"))
        dialog.setObjectName("backupFolderChooser")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        self.last_dialog = dialog
        dialog.fileSelected.connect(self.flow.open_folder)
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()
