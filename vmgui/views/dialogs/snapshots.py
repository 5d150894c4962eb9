"""The snapshot tree of one domain: parents and children, the current one marked.

Create asks for a name, a description and (for a running guest) live or offline; Revert and Delete act on the
selected snapshot (both after a confirmation: they discard state). Everything runs through
:class:`vmgui.models.snapshots.SnapshotTree`; failures land in the window's
message area and a short status line here.
"""
from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...i18n import N_, NP_, translate
from ...models.snapshots import SnapshotMode, SnapshotTree
from ...models.validation import name_problem
from ...snapshots import SnapshotInfo
from .. import confirm
from ..names import name_widget
from .simple import _FormDialog, action_button

#: The translation context of the dialogs' text (``self.tr`` here uses the class names).
CONTEXT = "SnapshotTreeDialog"
#: after the current snapshot's name in the tree
CURRENT = N_(" (current)")


class NewSnapshotDialog(_FormDialog):
    """Name, description and, for an active domain, live (keeps running) or offline (shut off afterwards)."""

    def __init__(self, domain: str, active: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("New snapshot of {domain}").format(domain=domain), "newSnapshotDialog", parent)
        self.name = QLineEdit(time.strftime("snap-%Y%m%d-%H%M%S"), self)
        name_widget(self.name, "newSnapshotName")
        self.description = QPlainTextEdit(self)
        name_widget(self.description, "newSnapshotDescription")
        self.description.setFixedHeight(72)
        self.form.addRow(self.tr("Name:"), self.name)
        self.form.addRow(self.tr("Description:"), self.description)
        self.live = QRadioButton(self.tr("Live: memory and disks; the guest runs on afterwards"), self)
        name_widget(self.live, "newSnapshotLive")
        self.offline = QRadioButton(self.tr("Offline: memory and disks, then the guest is shut off"), self)
        name_widget(self.offline, "newSnapshotOffline")
        self.live.setChecked(True)
        if active:
            self.form.addRow(self.tr("Mode:"), self.live)
            self.form.addRow("", self.offline)
        else:
            self.live.hide()
            self.offline.hide()
            self.form.addRow(self.tr("Mode:"), QLabel(self.tr("{domain} is shut off: the snapshot holds its disks.")
                                                      .format(domain=domain), self))
        self.finish_layout()

    def problem(self) -> str | None:
        return name_problem(self.name.text(), "snapshot")

    def mode(self) -> SnapshotMode:
        return SnapshotMode.OFFLINE if self.offline.isChecked() else SnapshotMode.LIVE


class SnapshotTreeDialog(QDialog):
    """``snapshotTreeDialog``: ``snapshotTree`` and ``snapshotCreate``/``Revert``/``Delete`` buttons."""

    def __init__(self, model: SnapshotTree, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "snapshotTreeDialog")
        self.model = model
        model.setParent(self)
        self.setWindowTitle(self.tr("Snapshots of {name}").format(name=model.name))
        self.resize(760, 400)
        self.last_dialog: QDialog | None = None
        self.tree = QTreeWidget(self)
        name_widget(self.tree, "snapshotTree", self.tr("Snapshots"))
        self.tree.setHeaderLabels([self.tr("Name"), self.tr("Taken"), self.tr("Guest was"), self.tr("Description")])
        self.tree.setColumnWidth(0, 230)
        self.tree.setColumnWidth(1, 130)
        self.loading = self.tr("Loading…")
        self.status = QLabel(self.loading, self)
        self.status.setObjectName("snapshotStatus")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        self.create_button = action_button(buttons, self.tr("Create…"), "snapshotCreate", self._ask_create)
        self.revert_button = action_button(buttons, self.tr("Revert"), "snapshotRevert", self._revert)
        self.delete_button = action_button(buttons, self.tr("Delete…"), "snapshotDelete", self._ask_delete)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        model.loaded.connect(self._fill)
        model.status.connect(lambda text: self.status.setText(translate(CONTEXT, text)))
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.finished.connect(lambda _r: model.close())
        self._update_buttons()
        model.reload()

    def selected(self) -> str | None:
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def _fill(self, snapshots: list[SnapshotInfo]) -> None:
        keep = self.selected()
        self.tree.clear()

        def add(parent: QTreeWidget | QTreeWidgetItem, snap: SnapshotInfo) -> None:
            item = QTreeWidgetItem(parent, [snap.name + (translate(CONTEXT, CURRENT) if snap.current else ""),
                                            snap.created_text, snap.state, snap.description])
            item.setData(0, Qt.ItemDataRole.UserRole, snap.name)
            if snap.current:
                font = QFont(item.font(0))
                font.setBold(True)
                item.setFont(0, font)
                item.setToolTip(0, self.tr("The current snapshot: new snapshots become its children"))
            if snap.name == keep:
                item.setSelected(True)
            for child in self.model.children_of(snap.name):
                add(item, child)
        for root in self.model.children_of(None):
            add(self.tree, root)
        self.tree.expandAll()
        if not snapshots:
            self.status.setText(self.tr("{name} has no snapshots yet.").format(name=self.model.name))
        elif self.status.text() == self.loading:
            self.status.setText(translate(CONTEXT, NP_("%n snapshot.", "%n snapshots.", len(snapshots))))
        self._update_buttons()

    def _update_buttons(self) -> None:
        chosen = self.selected() is not None
        self.revert_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    def _ask_create(self) -> None:
        dialog = NewSnapshotDialog(self.model.name, self.model.active(), self)
        self.last_dialog = dialog
        dialog.accepted.connect(lambda: self.model.create(dialog.name.text().strip(),
                                                          dialog.description.toPlainText(), dialog.mode()))
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()

    def _revert(self) -> None:
        name = self.selected()
        if name is None:
            return
        self.last_dialog = confirm.ask(
            self, self.tr("Revert to snapshot"),
            self.tr("Revert {domain} to the snapshot “{name}”? Its current state (what runs now and "
                    "everything written to its disks since) is discarded.").format(domain=self.model.name, name=name),
            "confirm_revert_snapshot", self.tr("Revert"), lambda: self.model.revert(name))

    def _ask_delete(self) -> None:
        name = self.selected()
        if name is None:
            return
        self.last_dialog = confirm.ask(
            self, self.tr("Delete snapshot"),
            self.tr("Delete the snapshot “{name}” of {domain}? Its children are kept and move up to its parent.")
            .format(name=name, domain=self.model.name),
            "confirm_delete_snapshot", self.tr("Delete"), lambda: self.model.delete(name))
