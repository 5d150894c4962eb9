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

from ...models.snapshots import SnapshotMode, SnapshotTree
from ...models.validation import name_problem
from ...snapshots import SnapshotInfo
from .. import confirm
from ..names import name_widget
from .simple import _FormDialog, action_button

CURRENT = " (current)"


class NewSnapshotDialog(_FormDialog):
    """Name, description and, for an active domain, live (keeps running) or offline (shut off afterwards)."""

    def __init__(self, domain: str, active: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(f"New snapshot of {domain}", "newSnapshotDialog", parent)
        self.name = QLineEdit(time.strftime("snap-%Y%m%d-%H%M%S"), self)
        name_widget(self.name, "newSnapshotName")
        self.description = QPlainTextEdit(self)
        name_widget(self.description, "newSnapshotDescription")
        self.description.setFixedHeight(72)
        self.form.addRow("Name:", self.name)
        self.form.addRow("Description:", self.description)
        self.live = QRadioButton("Live: memory and disks; the guest runs on afterwards", self)
        name_widget(self.live, "newSnapshotLive")
        self.offline = QRadioButton("Offline: memory and disks, then the guest is shut off", self)
        name_widget(self.offline, "newSnapshotOffline")
        self.live.setChecked(True)
        if active:
            self.form.addRow("Mode:", self.live)
            self.form.addRow("", self.offline)
        else:
            self.live.hide()
            self.offline.hide()
            self.form.addRow("Mode:", QLabel(f"{domain} is shut off: the snapshot holds its disks.", self))
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
        self.setWindowTitle(f"Snapshots of {model.name}")
        self.resize(760, 400)
        self.last_dialog: QDialog | None = None
        self.tree = QTreeWidget(self)
        name_widget(self.tree, "snapshotTree", "Snapshots")
        self.tree.setHeaderLabels(["Name", "Taken", "Guest was", "Description"])
        self.tree.setColumnWidth(0, 230)
        self.tree.setColumnWidth(1, 130)
        self.status = QLabel("Loading…", self)
        self.status.setObjectName("snapshotStatus")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        self.create_button = action_button(buttons, "Create…", "snapshotCreate", self._ask_create)
        self.revert_button = action_button(buttons, "Revert", "snapshotRevert", self._revert)
        self.delete_button = action_button(buttons, "Delete…", "snapshotDelete", self._ask_delete)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        model.loaded.connect(self._fill)
        model.status.connect(self.status.setText)
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
            item = QTreeWidgetItem(parent, [snap.name + (CURRENT if snap.current else ""), snap.created_text,
                                            snap.state, snap.description])
            item.setData(0, Qt.ItemDataRole.UserRole, snap.name)
            if snap.current:
                font = QFont(item.font(0))
                font.setBold(True)
                item.setFont(0, font)
                item.setToolTip(0, "The current snapshot: new snapshots become its children")
            if snap.name == keep:
                item.setSelected(True)
            for child in self.model.children_of(snap.name):
                add(item, child)
        for root in self.model.children_of(None):
            add(self.tree, root)
        self.tree.expandAll()
        if not snapshots:
            self.status.setText(f"{self.model.name} has no snapshots yet.")
        elif self.status.text() == "Loading…":
            self.status.setText(f"{len(snapshots)} snapshot(s).")
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
            self, "Revert to snapshot",
            f"Revert {self.model.name} to the snapshot “{name}”? Its current state (what runs now and "
            "everything written to its disks since) is discarded.",
            "confirm_revert_snapshot", "Revert", lambda: self.model.revert(name))

    def _ask_delete(self) -> None:
        name = self.selected()
        if name is None:
            return
        self.last_dialog = confirm.ask(
            self, "Delete snapshot",
            f"Delete the snapshot “{name}” of {self.model.name}? Its children are kept and move up to its parent.",
            "confirm_delete_snapshot", "Delete", lambda: self.model.delete(name))
