"""The backup dialog: pick disks and a target folder, checked as you type.

The folder and target files are looked at by a worker (answers to
``checker.wanted``, see :mod:`vmgui.views.pathcheck`), never here: a folder on
a hung network mount shows "Checking …", then "does not answer", and the
dialog keeps responding.
"""
from __future__ import annotations

import time
from collections.abc import Mapping

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from drivers.domxml import Disk

from ...i18n import translate
from ...models.backup import INCREMENTAL_TEXT, BackupKind, BackupPlan, default_checked
from ...models.pathprobe import is_checking
from ..names import error_label, name_widget
from ..pathcheck import PathChecker, show_sentences

#: The translation context of the dialog's text (``self.tr`` here uses it too).
CONTEXT = "BackupDialog"


class BackupDialog(QDialog):
    """One checkbox per disk of each domain; OK stays disabled (with the reason) until the plan is valid."""

    def __init__(self, domains: list[tuple[str, list[Disk]]], folder: str, parent: QWidget | None = None,
                 remote: Mapping[str, str] | None = None, kinds: Mapping[str, BackupKind] | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "backupDialog")
        self.setWindowTitle(self.tr("Back up"))
        self.setMinimumWidth(560)  # room for a full folder path
        self.stamp = time.strftime("%Y%m%d-%H%M%S")
        layout = QVBoxLayout(self)
        self.checks: dict[tuple[str, str], QCheckBox] = {}
        self.kinds = dict(kinds or {})
        #: domain name -> its "Incremental" box, where an incremental backup is possible
        self.incremental: dict[str, QCheckBox] = {}
        for name, disks in domains:
            layout.addWidget(QLabel(self.tr("Disks of {name}:").format(name=name), self))
            for disk in disks:
                label = self.tr("{target} ({device}) {source}").format(
                    target=disk.target, device=disk.device, source=disk.source or self.tr("no source"))
                if disk.readonly:
                    label = self.tr("{disk} [read-only]").format(disk=label)
                box = QCheckBox(label, self)
                name_widget(box, f"backupDisk_{name}_{disk.target}")
                box.setChecked(default_checked(disk))
                box.toggled.connect(self.validate)
                self.checks[(name, disk.target)] = box
                layout.addWidget(box)
            self._add_kind(layout, name)
        self._names = [name for name, _ in domains]
        self._remote = dict(remote or {})  # domain name -> the other host its folder is on
        self.checker = PathChecker(self, self._local_paths, self._recheck)
        row = QHBoxLayout()
        folder_label = QLabel(self.tr("Target &folder:"), self)
        row.addWidget(folder_label)
        self.folder = QLineEdit(folder, self)
        name_widget(self.folder, "backupFolder")
        folder_label.setBuddy(self.folder)
        self.folder.textChanged.connect(self.validate)
        self.browse = QPushButton(self.tr("Browse…"), self)
        name_widget(self.browse, "backupBrowse")
        self.browse.clicked.connect(self._browse)
        row.addWidget(self.folder, 1)
        row.addWidget(self.browse)
        layout.addLayout(row)
        if self._remote:
            where = ", ".join(self.tr("{name} on {host}").format(name=n, host=h) for n, h in self._remote.items())
            note = QLabel(self.tr("The folder is on the domain's host ({where}); that host checks it when the backup "
                                  "starts.").format(where=where), self)
            note.setObjectName("backupRemoteNote")
            note.setWordWrap(True)
            layout.addWidget(note)
        self.error = error_label(self)
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.validate()

    def _add_kind(self, layout: QVBoxLayout, name: str) -> None:
        """"Incremental" where the domain's last backup left a checkpoint, else a line saying why it is full."""
        kind = self.kinds.get(name)
        if kind is None:
            return
        if kind.since is not None:
            incremental = translate(CONTEXT, INCREMENTAL_TEXT)
            box = QCheckBox(incremental, self)
            name_widget(box, f"backupIncremental_{name}", self.tr("{incremental} of {name}").format(
                incremental=incremental, name=name))
            box.setChecked(True)
            self.incremental[name] = box
            layout.addWidget(box)
            return
        label = QLabel(translate(CONTEXT, kind.reason), self)
        name_widget(label, f"backupKind_{name}")
        label.setWordWrap(True)
        layout.addWidget(label)

    def plans(self) -> list[BackupPlan]:
        """One plan per domain that has at least one ticked disk."""
        folder = self.folder.text().strip()
        result = []
        for name in self._names:
            targets = tuple(t for (n, t), box in self.checks.items() if n == name and box.isChecked())
            kind = self.kinds.get(name)
            box = self.incremental.get(name)
            since = kind.since if kind is not None and box is not None and box.isChecked() else None
            if targets:
                result.append(BackupPlan(name, folder, self.stamp, targets, local=name not in self._remote,
                                         since=since, checkpoint=kind is not None and kind.checkpoints))
        return result

    def _local_paths(self) -> list[str]:
        return [path for plan in self.plans() for path in plan.local_paths()]

    def problem(self) -> str | None:
        plans = self.plans()
        if not plans:
            return self.tr("Tick at least one disk.")
        facts = self.checker.facts
        why = next((why for why in (p.problem(facts) for p in plans) if why), None)
        return why if why is None or is_checking(why) else translate(CONTEXT, why)

    def validate(self) -> None:
        """Re-check now by the facts known, and look at the files again once the user pauses."""
        self._recheck()
        self.checker.schedule()

    def _recheck(self) -> None:
        why = self.problem()
        show_sentences(self.error, [why] if why else [])
        self.ok.setEnabled(why is None)
        self.ok.setToolTip(why or "")

    def _accept(self) -> None:
        self.validate()
        if self.ok.isEnabled():
            self.accept()

    def _browse(self) -> None:
        chooser = QFileDialog(self, self.tr("Back up into folder"), self.folder.text())
        chooser.setObjectName("backupFolderChooser")
        chooser.setFileMode(QFileDialog.FileMode.Directory)
        chooser.setOption(QFileDialog.Option.ShowDirsOnly, True)
        chooser.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        chooser.fileSelected.connect(self.folder.setText)
        chooser.finished.connect(lambda _r: chooser.deleteLater())
        chooser.open()
