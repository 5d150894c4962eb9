"""``editDialog``: the editable basics of one domain (name, title, memory, vCPUs, autostart, boot
order, disks, network), checked as you type with the rules of :mod:`vmgui.models.editing`.

The dialog only collects values: OK stays disabled with the reason shown in red
until they are valid, and :meth:`EditDialog.plan` says what applying them does.
The caller shows the diff and applies through the session.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from drivers.domxml import MAX_VCPUS, DomainXML

from ..flows.edit import CONTEXT
from ..i18n import translate
from ..models import editing
from ..models.editing import BOOT_DEVICES, NEXT_START, NIC_TYPES, EditContext, EditPlan, EditValues
from ..models.hardware import disk_text, firmware_text
from .names import error_label, name_widget

MAX_MEMORY_MIB = 16 * 1024 * 1024
T = TypeVar("T")


def _without(items: tuple[T, ...], i: int) -> tuple[T, ...]:
    """``items`` without its ``i``-th (a list row; -1, nothing selected, removes nothing)."""
    return items[:i] + items[i + 1:] if i >= 0 else items


def _button(text: str, name: str, parent: QWidget) -> QPushButton:
    button = QPushButton(text, parent)
    name_widget(button, name)
    return button


class EditDialog(QDialog):
    """The form over one domain's inactive definition ``xml``."""

    def __init__(self, xml: DomainXML, autostart: bool, ctx: EditContext, parent: QWidget | None = None,
                 can_autostart: bool = True) -> None:
        super().__init__(parent)
        name_widget(self, "editDialog")
        self.setWindowTitle(self.tr("Edit {name}").format(name=xml.name))
        self.setMinimumWidth(560)
        self.original = xml
        self.before = editing.values_of(xml, autostart)
        self.ctx = ctx
        self._disks = self.before.disks
        self._nics = self.before.nics
        form = QFormLayout(self)

        self.name = QLineEdit(xml.name, self)
        name_widget(self.name, "editName")
        if ctx.running or not ctx.can_rename:
            self.name.setEnabled(False)
            self.name.setToolTip(self.tr("Shut the domain off to rename it.") if ctx.running
                                 else self.tr("This connection cannot rename domains."))
        self.title_edit = QLineEdit(xml.title, self)
        name_widget(self.title_edit, "editTitle")
        self.memory = QSpinBox(self)
        name_widget(self.memory, "editMemory")
        self.memory.setRange(0, MAX_MEMORY_MIB)
        self.memory.setSingleStep(256)
        self.memory.setSuffix(self.tr(" MiB"))
        self.memory.setValue(self.before.memory_mib)
        self.vcpus = QSpinBox(self)
        name_widget(self.vcpus, "editVcpus")
        self.vcpus.setRange(0, 2 * MAX_VCPUS)  # beyond the maximum: the rule says why, no silent clamp
        self.vcpus.setValue(self.before.vcpus)
        self.autostart = QCheckBox(self.tr("Start with the &host"), self)
        name_widget(self.autostart, "editAutostart")
        self.autostart.setChecked(autostart)
        self.autostart.setEnabled(can_autostart)
        form.addRow(self.tr("&Name:"), self.name)
        form.addRow(self.tr("&Title:"), self.title_edit)
        form.addRow(self.tr("&Memory:"), self.memory)
        form.addRow(self.tr("&vCPUs:"), self.vcpus)
        form.addRow(self.tr("Autostart:"), self.autostart)
        self.firmware = QLabel(self.tr("{firmware} (chosen when the VM was created)").format(
            firmware=translate(CONTEXT, firmware_text(xml))), self)
        self.firmware.setObjectName("editFirmware")
        self.firmware.setAccessibleName(self.tr("Firmware"))
        form.addRow(self.tr("Firmware:"), self.firmware)
        form.addRow(self.tr("&Boot order:"), self._boot_box())
        form.addRow(self.tr("Dis&ks:"), self._disk_box())
        form.addRow(self.tr("Net&work:"), self._nic_box())

        self.notice = QLabel(self._notice_text(), self)
        self.notice.setObjectName("editNotice")
        self.notice.setWordWrap(True)
        form.addRow(self.notice)
        self.error = error_label(self)
        form.addRow(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(self.tr("&Apply…"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        for edit in (self.name, self.title_edit):
            edit.textChanged.connect(self.validate)
        for spin in (self.memory, self.vcpus):
            spin.valueChanged.connect(self.validate)
        self.autostart.toggled.connect(self.validate)
        self._changed()

    def _notice_text(self) -> str:
        parts = []
        if not self.ctx.persistent:
            parts.append(self.tr("The domain is transient: applying changes gives it a persistent definition."))
        if self.ctx.running:
            parts.append(self.tr("The domain is running: {then} Shut it off to rename it.").format(
                then=translate(CONTEXT, NEXT_START)))
        elif not self.ctx.can_rename:
            parts.append(self.tr("This connection cannot rename domains."))
        return " ".join(parts)

    # -- boot order ------------------------------------------------------------
    def _boot_box(self) -> QWidget:
        box = QWidget(self)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        self.boot = QListWidget(box)
        name_widget(self.boot, "editBoot", self.tr("Boot order"))
        self.boot.setMaximumHeight(72)
        order = list(self.before.boot) + [d for d in BOOT_DEVICES if d not in self.before.boot]
        for dev in order:
            item = QListWidgetItem(dev, self.boot)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if dev in self.before.boot else Qt.CheckState.Unchecked)
        self.boot.itemChanged.connect(lambda _i: self.validate())
        buttons = QVBoxLayout()
        for text, name, step in ((self.tr("U&p"), "editBootUp", -1), (self.tr("D&own"), "editBootDown", 1)):
            button = _button(text, name, box)
            button.clicked.connect(lambda _c=False, s=step: self.move_boot(s))
            buttons.addWidget(button)
        row.addWidget(self.boot, 1)
        row.addLayout(buttons)
        return box

    def move_boot(self, step: int) -> None:
        """Move the selected boot device up (-1) or down (1)."""
        i = self.boot.currentRow()
        j = i + step
        if i < 0 or not 0 <= j < self.boot.count():
            return
        item = self.boot.takeItem(i)
        self.boot.insertItem(j, item)
        self.boot.setCurrentRow(j)
        self.validate()

    def boot_order(self) -> tuple[str, ...]:
        items = (self.boot.item(i) for i in range(self.boot.count()))
        return tuple(it.text() for it in items if it.checkState() == Qt.CheckState.Checked)

    # -- the disk and NIC lists ----------------------------------------------------
    def _list_box(self, name: str, height: int, *rows: list[QWidget]) -> tuple[QWidget, QListWidget]:
        """A list with rows of controls under it; Tab goes from the list down through the rows (the controls
        exist before the list does, so without help Tab would reach them first)."""
        box = QWidget(self)
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        items = QListWidget(box)
        name_widget(items, name)
        items.setMaximumHeight(height)
        col.addWidget(items)
        for widgets in rows:
            row = QHBoxLayout()
            for widget in widgets:
                widget.setParent(box)
                row.addWidget(widget)
            col.addLayout(row)
        for first, second in itertools.pairwise([items, *(w for widgets in rows for w in widgets)]):
            QWidget.setTabOrder(first, second)
        return box, items

    def _buttons(self, *specs: tuple[str, str, Callable[[], None]]) -> list[QWidget]:
        buttons: list[QWidget] = []
        for text, name, slot in specs:
            button = _button(text, name, self)
            button.clicked.connect(slot)
            buttons.append(button)
        return buttons

    def _changed(self) -> None:
        """Show the current disks and NICs, then check everything again."""
        self.disk_list.clear()
        self.disk_list.addItems([self.tr("{target}: {disk}").format(target=disk.target,
                                                                    disk=translate(CONTEXT, disk_text(disk)))
                                 for disk in self._disks])
        self.nic_list.clear()
        self.nic_list.addItems([translate(CONTEXT, nic.text()) for nic in self._nics])
        self.validate()

    # -- disks -------------------------------------------------------------------
    def _disk_box(self) -> QWidget:
        self.disk_path = QLineEdit(self)
        name_widget(self.disk_path, "editDiskPath", self.tr("Disk image or medium path"))
        self.disk_path.setPlaceholderText(self.tr("/absolute/path/to/image.qcow2 or .iso"))
        box, self.disk_list = self._list_box("editDisks", 90, [self.disk_path], self._buttons(
            (self.tr("A&dd as disk"), "editDiskAdd", self.add_disk),
            (self.tr("Use as &CD-ROM medium"), "editCdromSet", self.set_cdrom),
            (self.tr("&Remove"), "editDiskRemove", self.remove_disk)))
        self.disk_list.setAccessibleName(self.tr("Disks"))
        return box

    def add_disk(self) -> None:
        path = self.disk_path.text().strip()
        if path:
            self._disks += (editing.disk_for_file(path, self._disks),)
            self._changed()

    def set_cdrom(self) -> None:
        """The path field becomes the medium of the selected CD-ROM (empty: eject)."""
        i = self.disk_list.currentRow()
        if i < 0 or self._disks[i].device != "cdrom":
            self.error.setText(self.tr("Select a CD-ROM in the list first."))
            return
        disks = list(self._disks)
        disks[i] = replace(disks[i], source=self.disk_path.text().strip() or None)
        self._disks = tuple(disks)
        self._changed()

    def remove_disk(self) -> None:
        self._disks = _without(self._disks, self.disk_list.currentRow())
        self._changed()

    # -- network -----------------------------------------------------------------
    def _nic_box(self) -> QWidget:
        self.nic_type = QComboBox(self)
        name_widget(self.nic_type, "editNicType", self.tr("Network interface type"))
        self.nic_type.addItems(NIC_TYPES)
        self.nic_source = QLineEdit(self)
        name_widget(self.nic_source, "editNicSource", self.tr("Network or bridge"))
        self.nic_source.setPlaceholderText(self.tr("network or bridge name (e.g. default, br0)"))
        box, self.nic_list = self._list_box("editNics", 72, [self.nic_type, self.nic_source, *self._buttons(
            (self.tr("Add"), "editNicAdd", self.add_nic), (self.tr("Remove"), "editNicRemove", self.remove_nic))])
        self.nic_list.setAccessibleName(self.tr("Network interfaces"))
        return box

    def add_nic(self) -> None:
        self._nics += (editing.new_nic(self.nic_type.currentText(), self.nic_source.text()),)
        self._changed()

    def remove_nic(self) -> None:
        self._nics = _without(self._nics, self.nic_list.currentRow())
        self._changed()

    # -- result ------------------------------------------------------------------
    def values(self) -> EditValues:
        return EditValues(self.name.text(), self.title_edit.text(), self.memory.value(), self.vcpus.value(),
                          self.autostart.isChecked(), self.boot_order(), self._disks, self._nics)

    def problem(self) -> str | None:
        return editing.check(self.original, self.values(), self.before, self.ctx)

    def validate(self) -> None:
        """OK is enabled only for values that can be applied; the reason otherwise, in red."""
        problem = self.problem()
        why = translate(CONTEXT, problem) if problem is not None else None
        self.error.setText(why or "")
        self.ok.setEnabled(why is None)
        self.ok.setToolTip(why or self.tr("Show the changes, then apply them"))

    def plan(self) -> EditPlan:
        return editing.plan(self.original, self.values(), self.before)
