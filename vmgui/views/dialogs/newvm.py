"""The New VM wizard: name and install source, then resources and disk, then the XML.

Every page checks its fields as you type with the rules of
:class:`vmgui.models.newvm.NewVMPlan` and keeps Next/Finish disabled with the
reasons written in red under the form; warnings (the host's memory or disk
space, what the detected system needs) show in a pale box and never block.
Nothing here calls a driver or looks at a file: the connections' facts arrive
as :class:`Target` data, the files' as answers to ``checker.wanted`` (see
:mod:`vmgui.views.pathcheck`), the ISO's system as the answer to
``medium_seen`` (:meth:`NewVMDialog.detect`, whose proposals the user may
change), and Finish hands a plan to ``finish_requested``: the wizard stays open
until :meth:`NewVMDialog.created`, or shows why it failed
(:meth:`NewVMDialog.failed`) with everything typed still there.
"""
from __future__ import annotations

import os
import uuid as uuidlib
from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from drivers.diskimage import FORMATS
from drivers.domxml import MAX_VCPUS
from drivers.isoinfo import IsoInfo
from drivers.osinfo import OsProfile

from ...i18n import N_, translate
from ...models.format import bytes_text
from ...models.newvm import (
    BOOT_LABELS,
    EMULATED_NIC,
    MAX_MEMORY_MIB,
    MIB,
    MIN_MEMORY_MIB,
    PAGE_FIELDS,
    Boot,
    Devices,
    Issue,
    NewVMPlan,
    Source,
    Target,
    default_memory_mib,
    default_vcpus,
    devices_label,
    parse_size,
    propose,
    size_text,
)
from ..names import error_label, name_widget
from ..pathcheck import PathChecker, show_sentences
from ..theme import error_style, warning_style

#: The translation context of the wizard's text (``self.tr`` in the wizard uses it too).
CONTEXT = "NewVMDialog"
#: each label's & marks its Alt key; Alt+N, Alt+B and Alt+F are the wizard's Next, Back and Finish
SOURCE_LABELS = {Source.ISO: N_("&Install from an ISO image (CD/DVD)"),
                 Source.IMPORT: N_("Im&port an existing disk image"),
                 Source.KERNEL: N_("Boot a &kernel directly (kernel, initrd, command line)")}
SOURCE_NAMES = {Source.ISO: "newVmSourceIso", Source.IMPORT: "newVmSourceImport", Source.KERNEL: "newVmSourceKernel"}


class _Page(QWizardPage):
    """A form with a red sentence per problem of its fields; complete when it has none."""

    def __init__(self, wizard: NewVMDialog, index: int | None, title: str) -> None:
        super().__init__(wizard)
        self._wizard = wizard
        self._index = index  # None: the summary page, which needs the whole plan to be right
        self.setTitle(title)
        self.box = QVBoxLayout(self)
        self.form = QFormLayout()
        self.box.addLayout(self.form)
        self.error = error_label(self)
        self.warning = QLabel("", self)
        self.warning.setObjectName(f"newVmWarnings{'Summary' if index is None else index}")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(warning_style())
        self.warning.setVisible(False)

    def finish_layout(self) -> None:
        self.box.addStretch(1)
        self.box.addWidget(self.warning)
        self.box.addWidget(self.error)

    def issues(self, all_issues: list[Issue]) -> list[Issue]:
        if self._index is None:
            return all_issues
        return [i for i in all_issues if i.field in PAGE_FIELDS[self._index]]

    def show_issues(self, all_issues: list[Issue], all_warnings: list[Issue]) -> None:
        show_sentences(self.error, [i.text for i in self.issues(all_issues)], CONTEXT)
        warnings = [translate(CONTEXT, i.text) for i in self.issues(all_warnings)]
        self.warning.setText("\n".join(warnings))
        self.warning.setVisible(bool(warnings))
        self.fit()
        self.completeChanged.emit()

    def fit(self) -> None:
        """Be as tall as the wrapped sentences need at the shown width: the wizard sizes pages by their
        unwrapped height, and a page shorter than its text lays the rows over one another."""
        if self.isVisible():
            self.setMinimumHeight(self.box.totalHeightForWidth(self.width()))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.fit()

    def isComplete(self) -> bool:
        return not self.issues(self._wizard.issues()) and not (self._index is None and self._wizard.creating())


class NewVMDialog(QWizard):
    """Three pages; :meth:`plan` is what Finish creates (through :mod:`vmgui.views.newvmflow`)."""

    #: IsoInfo: the chosen ISO's names are in; answer with :meth:`detect`
    medium_seen = Signal(object)
    #: NewVMPlan: Finish was pressed; answer with :meth:`created` or :meth:`failed`
    finish_requested = Signal(object)

    def __init__(self, targets: list[Target], taken: Callable[[str], frozenset[str]],
                 parent: QWidget | None = None, host_mib: int | None = None, cpus: int | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "newVmDialog")
        self.setWindowTitle(self.tr("New virtual machine"))
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setMinimumWidth(620)
        self._targets = {t.uri: t for t in targets}
        self._taken = taken
        self._uuid = str(uuidlib.uuid4())
        self._host_mib = host_mib
        self._issues: list[Issue] = []
        self._warnings: list[Issue] = []
        self._plan = NewVMPlan(Target("", ""))  # the plan shown: one read of the fields per edit
        self._unticked_for_host = False  # "Create a new disk" was unticked because a host cannot
        self._asked: tuple[str, IsoInfo] | None = None  # the ISO (path, names) last handed to medium_seen
        self._detected: tuple[str, IsoInfo, OsProfile] | None = None  # the system detect() named for it
        self._proposed_for: tuple[str, str] | None = None  # (ISO, system) whose proposals were applied
        self._nic_model = EMULATED_NIC
        self._creating = False
        self.checker = PathChecker(self, lambda: self._plan.local_paths(), self._facts_arrived)
        self.source_page = self._build_source_page([t.uri for t in targets])
        self.resources_page = self._build_resources_page(host_mib, cpus)
        self.summary_page = self._build_summary_page()
        for page in (self.source_page, self.resources_page, self.summary_page):
            self.addPage(page)
        self.conn.currentTextChanged.connect(self._connection_changed)
        self._source_changed()
        self._connection_changed()

    # -- pages ------------------------------------------------------------------
    def _line(self, name: str, placeholder: str = "", text: str = "") -> QLineEdit:
        edit = QLineEdit(text, self)
        name_widget(edit, name)
        edit.setPlaceholderText(placeholder)
        edit.textChanged.connect(self.refresh)
        return edit

    def _path_row(self, edit: QLineEdit, title: str, save: bool = False) -> QWidget:
        row = QWidget(self)
        edit.setAccessibleName(title)  # the form's label is the row's buddy, not the field's
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(edit, 1)
        row.setFocusProxy(edit)
        browse = QPushButton(self.tr("Browse…"), row)
        name_widget(browse, f"{edit.objectName()}Browse")
        browse.clicked.connect(lambda: self._browse(edit, title, save))
        layout.addWidget(browse)
        return row

    def _build_source_page(self, uris: list[str]) -> _Page:
        page = _Page(self, 0, self.tr("Name and operating system"))
        self.name = self._line("newVmName", self.tr("e.g. web02"))
        self.conn = QComboBox(page)
        name_widget(self.conn, "newVmConnection")
        self.conn.addItems(uris)
        page.form.addRow(self.tr("Na&me:"), self.name)
        page.form.addRow(self.tr("&Connection:"), self.conn)
        self.remote_note = QLabel("", page)
        self.remote_note.setObjectName("newVmRemoteNote")
        self.remote_note.setWordWrap(True)
        page.form.addRow(self.remote_note)
        self.sources = QButtonGroup(page)
        self.source_buttons: dict[Source, QRadioButton] = {}
        for source in Source:
            button = QRadioButton(translate(CONTEXT, SOURCE_LABELS[source]), page)
            name_widget(button, SOURCE_NAMES[source])
            self.sources.addButton(button)
            self.source_buttons[source] = button
            page.form.addRow(button)
        self.source_buttons[Source.ISO].setChecked(True)
        self.sources.buttonToggled.connect(lambda _b, on: self._source_changed() if on else None)
        self.iso = self._line("newVmIso", self.tr("/path/to/installer.iso"))
        self.import_path = self._line("newVmImport", self.tr("/path/to/disk.qcow2"))
        self.kernel = self._line("newVmKernel", self.tr("/path/to/vmlinuz"))
        self.initrd = self._line("newVmInitrd", self.tr("optional"))
        self.cmdline = self._line("newVmCmdline", self.tr("optional, e.g. console=ttyS0"))
        self.detected = QLabel("", page)
        self.detected.setObjectName("newVmDetected")
        self.detected.setWordWrap(True)
        self._source_rows = {
            Source.ISO: [self._add_row(page, self.tr("IS&O image:"),
                                       self._path_row(self.iso, self.tr("Choose an ISO image"))),
                         self._add_row(page, "", self.detected)],
            Source.IMPORT: [self._add_row(page, self.tr("&Disk image:"),
                                          self._path_row(self.import_path, self.tr("Choose a disk")))],
            Source.KERNEL: [self._add_row(page, self.tr("K&ernel:"),
                                          self._path_row(self.kernel, self.tr("Choose a kernel"))),
                            self._add_row(page, self.tr("Ini&trd:"),
                                          self._path_row(self.initrd, self.tr("Choose an initrd"))),
                            self._add_row(page, self.tr("Command &line:"), self.cmdline)],
        }
        page.finish_layout()
        return page

    @staticmethod
    def _add_row(page: _Page, label: str, field: QWidget) -> QWidget:
        page.form.addRow(label, field)
        buddy, proxy = page.form.labelForField(field), field.focusProxy()
        if isinstance(buddy, QLabel) and proxy is not None:
            buddy.setBuddy(proxy)  # a path row's Alt key lands in its field, not on the row
        return field

    def _build_resources_page(self, host_mib: int | None, cpus: int | None) -> _Page:
        page = _Page(self, 1, self.tr("Memory, processors and disk"))
        self.memory = QSpinBox(page)
        name_widget(self.memory, "newVmMemory")
        self.memory.setRange(MIN_MEMORY_MIB, MAX_MEMORY_MIB)
        self.memory.setSingleStep(256)
        self.memory.setSuffix(self.tr(" MiB"))
        self.memory.setValue(default_memory_mib(host_mib))
        self.memory.valueChanged.connect(self.refresh)
        self.vcpus = QSpinBox(page)
        name_widget(self.vcpus, "newVmVcpus")
        self.vcpus.setRange(1, MAX_VCPUS)
        self.vcpus.setValue(default_vcpus(cpus))
        self.vcpus.valueChanged.connect(self.refresh)
        page.form.addRow(self.tr("&Memory:"), self.memory)
        if host_mib:
            hint = QLabel(self.tr("This machine has {memory} of memory.").format(memory=bytes_text(host_mib * MIB)),
                          page)
            hint.setObjectName("newVmMemoryHint")
            page.form.addRow("", hint)
        page.form.addRow(self.tr("v&CPUs:"), self.vcpus)
        self.firmware = QComboBox(page)
        name_widget(self.firmware, "newVmFirmware")
        self.firmware.setAccessibleName(self.tr("Firmware"))
        self.firmware.currentIndexChanged.connect(self.refresh)
        page.form.addRow(self.tr("Fi&rmware:"), self.firmware)
        self.tpm = QCheckBox(self.tr("Emulated &TPM 2.0"), page)
        name_widget(self.tpm, "newVmTpm")
        self.tpm.toggled.connect(self.refresh)
        page.form.addRow(self.tpm)
        self.devices = QComboBox(page)
        name_widget(self.devices, "newVmDevices")
        self.devices.setAccessibleName(self.tr("Device models"))
        for devices in Devices:
            self.devices.addItem(translate(CONTEXT, devices_label(devices)), devices)
        self.devices.currentIndexChanged.connect(self.refresh)
        page.form.addRow(self.tr("D&evices:"), self.devices)
        self.new_disk = QCheckBox(self.tr("Create a ne&w disk"), page)
        name_widget(self.new_disk, "newVmNewDisk")
        self.new_disk.setChecked(True)
        self.new_disk.toggled.connect(self._disk_changed)
        self.no_disk_create = QLabel("", page)
        self.no_disk_create.setObjectName("newVmNoDiskCreate")
        self.no_disk_create.setWordWrap(True)
        self.disk_path = self._line("newVmDiskPath")
        self.disk_size = self._line("newVmDiskSize", self.tr("e.g. 20 GiB"), size_text(NewVMPlan.disk_size))
        self.disk_format = QComboBox(page)
        name_widget(self.disk_format, "newVmDiskFormat")
        self.disk_format.addItems(list(FORMATS))
        self.disk_format.currentTextChanged.connect(self.refresh)
        self.preallocate = QCheckBox(self.tr("&Allocate all of it now (slower to create, never runs out later)"), page)
        name_widget(self.preallocate, "newVmPreallocate")
        self.preallocate.toggled.connect(self.refresh)
        page.form.addRow(self.new_disk)
        page.form.addRow(self.no_disk_create)
        self._disk_rows = [self._add_row(page, self.tr("Disk f&ile:"),
                                         self._path_row(self.disk_path, self.tr("New disk file"), True)),
                           self._add_row(page, self.tr("&Size:"), self.disk_size),
                           self._add_row(page, self.tr("F&ormat:"), self.disk_format),
                           self._add_row(page, "", self.preallocate)]
        self.proposed = QLabel("", page)  # under the form: a wrapped label there gets its full height
        self.proposed.setObjectName("newVmProposed")
        self.proposed.setWordWrap(True)
        self.proposed.setVisible(False)
        page.box.addWidget(self.proposed)
        page.finish_layout()
        return page

    def _build_summary_page(self) -> _Page:
        page = _Page(self, None, self.tr("Summary"))
        self.summary = QLabel("", page)
        self.summary.setObjectName("newVmSummary")
        self.summary.setWordWrap(True)
        page.form.addRow(self.summary)
        self.xml = QPlainTextEdit(page)
        name_widget(self.xml, "newVmXml")
        self.xml.setReadOnly(True)
        self.xml.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.xml.setMinimumHeight(260)
        xml_label = QLabel(self.tr("Domain &XML to define:"), page)
        xml_label.setBuddy(self.xml)
        page.form.addRow(xml_label)
        page.form.addRow(self.xml)
        self.start = QCheckBox(self.tr("&Start it now"), page)
        name_widget(self.start, "newVmStart")
        self.start.setChecked(True)
        page.form.addRow(self.start)
        self.failure = QLabel("", page)
        self.failure.setObjectName("newVmFailure")
        self.failure.setWordWrap(True)
        page.form.addRow(self.failure)
        page.finish_layout()
        return page

    # -- state ------------------------------------------------------------------
    def target(self) -> Target | None:
        return self._targets.get(self.conn.currentText())

    def source(self) -> Source:
        return next((s for s, b in self.source_buttons.items() if b.isChecked()), Source.ISO)

    def plan(self) -> NewVMPlan:
        target = self.target() or Target("", "")
        size = parse_size(self.disk_size.text())
        return NewVMPlan(
            target, name=self.name.text().strip(), source=self.source(), iso=self.iso.text().strip(),
            import_path=self.import_path.text().strip(), kernel=self.kernel.text().strip(),
            initrd=self.initrd.text().strip(), cmdline=self.cmdline.text().strip(),
            new_disk=self.new_disk.isChecked(), disk_path=self.disk_path.text().strip(),
            disk_size=size if size is not None else -1, disk_format=self.disk_format.currentText(),
            preallocate=self.preallocate.isChecked(), memory_mib=self.memory.value(), vcpus=self.vcpus.value(),
            boot=self.firmware.currentData() or Boot.BIOS, tpm=self.tpm.isChecked(),
            devices=self.devices.currentData() or Devices.VIRTIO, nic_model=self._nic_model, os=self._system(),
            start=self.start.isChecked(), uuid=self._uuid,
            taken=self._taken(target.uri) if target.uri else frozenset(), facts=dict(self.checker.facts))

    def issues(self) -> list[Issue]:
        return self._issues

    def warnings(self) -> list[Issue]:
        return self._warnings

    def creating(self) -> bool:
        """Finish was pressed and the flow has not said how it ended."""
        return self._creating

    def refresh(self) -> None:
        """Re-check the plan now and look at its files again once the user pauses."""
        self._show(self.plan())
        self.checker.schedule()

    def _facts_arrived(self) -> None:
        """The shown plan with the new facts: the fields (and the connection's domain names) are not read again."""
        self._show(self._plan.with_(facts=dict(self.checker.facts)))

    def _show(self, plan: NewVMPlan) -> None:
        """Show each page's problems by the facts known now, and the XML that would be defined."""
        self._plan = plan
        self._issues = plan.issues()
        self._warnings = plan.warnings()
        for page in (self.source_page, self.resources_page, self.summary_page):
            page.show_issues(self._issues, self._warnings)
        self.disk_path.setPlaceholderText(plan.default_disk_path())
        self.summary.setText("\n".join(translate(CONTEXT, line) for line in plan.summary()) if not self._issues else "")
        self.xml.setPlainText(plan.xml() if not self._issues else "")
        system = self._system()
        self.detected.setText(self.tr("Detected: {system}").format(system=system.label) if system is not None else "")
        medium = self._medium()
        if medium is not None and medium != self._asked:
            self._asked = medium
            self.medium_seen.emit(medium[1])  # last: the answer may come at once and show a newer plan

    # -- the ISO's system -------------------------------------------------------
    def _medium(self) -> tuple[str, IsoInfo] | None:
        """The chosen ISO and the names it carries, once the worker read them (never on another host)."""
        iso = self.iso.text().strip()
        facts = self.checker.facts.get(iso)
        if self.source() is not Source.ISO or facts is None or facts.medium is None:
            return None
        return iso, facts.medium

    def _system(self) -> OsProfile | None:
        """The system detected on the ISO chosen now (None once another file is chosen)."""
        medium = self._medium()
        if self._detected is None or medium is None or medium != self._detected[:2]:
            return None
        return self._detected[2]

    def detect(self, medium: IsoInfo, profile: OsProfile | None) -> None:
        """osinfo-db's answer for ``medium``: name the system and, the first time, propose what it wants.

        An answer for an ISO no longer chosen is dropped; without a match (or osinfo-db) nothing changes.
        """
        current = self._medium()
        if current is None or current[1] != medium or profile is None:
            return
        self._detected = (current[0], medium, profile)
        if self._proposed_for != (current[0], profile.os_id):
            self._proposed_for = (current[0], profile.os_id)
            self._apply(propose(self.plan(), profile))
        self.refresh()

    def _apply(self, plan: NewVMPlan) -> None:
        """Set the fields to ``plan``'s proposals (each stays the user's to change) and say what was proposed."""
        self.memory.setValue(plan.memory_mib)
        self.disk_size.setText(size_text(plan.disk_size))
        self.firmware.setCurrentIndex(max(0, self.firmware.findData(plan.boot)))
        if self.tpm.isEnabled():
            self.tpm.setChecked(plan.tpm)
        self._nic_model = plan.nic_model
        emulated = self.devices.findData(Devices.EMULATED)
        self.devices.setItemText(emulated, translate(CONTEXT, devices_label(Devices.EMULATED, plan.nic_model)))
        self.devices.setCurrentIndex(max(0, self.devices.findData(plan.devices)))
        self.proposed.setText(self.tr("Proposed for {system}: {memory} MiB memory, {disk} disk, {firmware} firmware"
                                      "{tpm}, {devices} devices. Change any of them here.").format(
            system=plan.os.label if plan.os is not None else self.tr("this system"), memory=plan.memory_mib,
            disk=size_text(plan.disk_size), firmware=translate(CONTEXT, BOOT_LABELS[plan.boot]),
            tpm=self.tr(", TPM 2.0") if plan.tpm else "",
            devices="virtio" if plan.devices is Devices.VIRTIO
            else self.tr("SATA and {nic}").format(nic=plan.nic_model)))
        self.proposed.setVisible(True)

    # -- Finish -----------------------------------------------------------------
    def accept(self) -> None:
        """Finish: hand the plan to ``finish_requested`` and stay open until the flow says how it ended."""
        if self._creating or self._issues:
            return
        self._creating = True
        self.failure.setStyleSheet("")
        self.failure.setText(self.tr("Creating {name}…").format(name=self._plan.name))
        self.summary_page.completeChanged.emit()
        self.finish_requested.emit(self.plan())

    def created(self) -> None:
        """The VM was created: close as a finished wizard does."""
        self._creating = False
        super().accept()

    def failed(self, reason: str) -> None:
        """It was not created: say why (translated) on the last page, keep every field, and let Finish be pressed
        again."""
        self._creating = False
        self.failure.setStyleSheet(error_style())
        self.failure.setText(self.tr("{name} was not created: {reason}").format(name=self._plan.name, reason=reason))
        self.refresh()

    def _source_changed(self) -> None:
        source = self.source()
        for kind, rows in self._source_rows.items():
            for row in rows:
                self.source_page.form.setRowVisible(row, kind is source)
        self._disk_changed()

    def _connection_changed(self) -> None:
        target = self.target()
        can = target is None or target.can_create_disks
        if not can and self.new_disk.isChecked():
            self._unticked_for_host = True
            self.new_disk.setChecked(False)
        elif can and self._unticked_for_host:
            self._unticked_for_host = False
            self.new_disk.setChecked(True)  # the user never chose "no disk": back to the default
        self.new_disk.setEnabled(can)
        self.no_disk_create.setText("" if can else self.tr(
            "{uri} cannot create disk images here: import an existing disk, or boot from an ISO or kernel without "
            "a disk.").format(uri=target.uri))  # type: ignore[union-attr]
        self.resources_page.form.setRowVisible(self.no_disk_create, not can)
        remote = target is not None and target.remote
        self.remote_note.setText(self.tr("Paths are on that host: it checks them when the VM is defined and started, "
                                         "and the system on an ISO there is not detected from here.") if remote else "")
        self.source_page.form.setRowVisible(self.remote_note, remote)
        self._offer_firmware(target or Target("", ""))
        self._disk_changed()

    def _offer_firmware(self, target: Target) -> None:
        """The firmware and TPM the connection's host has: the choice stays where the host offers it."""
        chosen = self.firmware.currentData()
        self.firmware.blockSignals(True)
        self.firmware.clear()
        for boot in target.boots:
            self.firmware.addItem(translate(CONTEXT, BOOT_LABELS[boot]), boot)
        self.firmware.setCurrentIndex(max(0, self.firmware.findData(chosen)))
        self.firmware.blockSignals(False)
        if not target.tpm:
            self.tpm.setChecked(False)
        self.tpm.setEnabled(target.tpm)
        self.tpm.setToolTip("" if target.tpm else self.tr("This host has no TPM emulator (swtpm)."))

    def _disk_changed(self) -> None:
        importing = self.source() is Source.IMPORT
        self.resources_page.form.setRowVisible(self.new_disk, not importing)
        for row in self._disk_rows:
            self.resources_page.form.setRowVisible(row, not importing and self.new_disk.isChecked())
        self.refresh()

    def _browse(self, edit: QLineEdit, title: str, save: bool) -> None:
        """A non-modal file chooser that fills ``edit``."""
        start = edit.text().strip() or edit.placeholderText()
        chooser = QFileDialog(self, title, os.path.dirname(start) if os.path.isabs(start) else os.path.expanduser("~"))
        chooser.setObjectName("newVmFileChooser")
        if save:
            chooser.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
            chooser.setFileMode(QFileDialog.FileMode.AnyFile)
        else:
            chooser.setFileMode(QFileDialog.FileMode.ExistingFile)
        chooser.fileSelected.connect(edit.setText)
        chooser.finished.connect(lambda _r: chooser.deleteLater())
        chooser.open()
