"""The Hardware tab (``hardwareSummary``): disks, NICs, graphics and serial ports of the selected domain,
then one row per CD-ROM drive with Change… (a file chooser) and Eject.

The XML is read through the session when the tab is shown (never on the UI
thread), parsed with the core's hardened :class:`DomainXML`, and turned into
rows by :func:`vmgui.models.hardware.summary`. A late answer for a domain no
longer selected is dropped. A CD change goes through
:class:`vmgui.flows.media.MediaController`; the tab reads the definition
again once it went through.
"""
from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QGridLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from drivers.domxml import DomainXML

from ..flows.media import MediaController
from ..i18n import N_, translate
from ..models.domains import Key
from ..models.hardware import summary
from ..models.media import CDDrive, cd_drives
from ..models.messages import explain
from ..models.session import Session
from .names import name_widget

CONTEXT = "HardwareView"
CD_IMAGES = "CD images (*.iso *.img);;All files (*)"


class HardwareView(QScrollArea):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        page = QWidget(self)
        column = QVBoxLayout(page)
        self.label = QLabel("", page)
        name_widget(self.label, "hardwareSummary")
        self.label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setMargin(6)
        column.addWidget(self.label)
        self.media = QWidget(page)
        name_widget(self.media, "removableMedia", self.tr("Removable media"))
        self._media_rows = QGridLayout(self.media)
        column.addWidget(self.media)
        column.addStretch(1)
        self.setWidget(page)
        self._session = session
        self.controller = MediaController(session, self)
        self.controller.changed.connect(self._changed)
        self.key: Key | None = None
        self._loaded_for: Key | None = None
        self.drives: list[CDDrive] = []

    def show_key(self, key: Key | None) -> None:
        if key != self.key:
            self.key, self._loaded_for = key, None
            self.label.setText("" if key is None else self.tr("Loading…"))
            self._show_drives([])

    def reload(self) -> None:
        """Read again at the next :meth:`maybe_fetch` (the definition changed)."""
        self._loaded_for = None

    def maybe_fetch(self) -> None:
        if self.key is not None and self._loaded_for != self.key:
            self._loaded_for = self.key
            self._session.spawn(self._load(self.key), self.tr("Reading the hardware of the domain"))

    async def _load(self, key: Key) -> None:
        drives: list[CDDrive] = []
        try:
            xml = DomainXML.parse(await self._session.domain_xml(key))
            rows, drives = summary(xml), cd_drives(xml)
            text = "<table cellspacing='3'>" + "".join(
                f"<tr><td><b>{escape(translate(CONTEXT, head))}</b></td>"
                f"<td>{escape(translate(CONTEXT, value))}</td></tr>" for head, value in rows) + "</table>"
        except Exception as exc:  # noqa: BLE001 - shown in place, not as a dialog
            text = escape(" ".join(translate(CONTEXT, part) for part in explain(exc, N_("Reading the hardware"))))
        if key == self.key:
            self.label.setText(text)
            self._show_drives(drives)

    # -- removable media -------------------------------------------------------------
    def _show_drives(self, drives: list[CDDrive]) -> None:
        while self._media_rows.count():
            item = self._media_rows.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.drives = drives
        refusal = self.controller.refusal(self.key) if self.key is not None and drives else None
        for i, drive in enumerate(drives):
            medium = drive.source or translate(CONTEXT, drive.text)
            label = QLabel(self.tr("CD {target}: {medium}").format(target=drive.target, medium=medium), self.media)
            name_widget(label, f"cdMedium_{drive.target}")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            change = QPushButton(self.tr("Change…"), self.media)
            name_widget(change, f"changeCd_{drive.target}",
                        self.tr("Change the CD in drive {target}").format(target=drive.target))
            change.clicked.connect(lambda _c=False, d=drive: self.choose_image(d))
            eject = QPushButton(self.tr("Eject"), self.media)
            name_widget(eject, f"ejectCd_{drive.target}",
                        self.tr("Eject the CD from drive {target}").format(target=drive.target))
            eject.clicked.connect(lambda _c=False, d=drive: self.eject(d))
            change.setEnabled(refusal is None)
            eject.setEnabled(refusal is None and drive.source is not None)
            why_not = translate(CONTEXT, refusal) if refusal else None
            change.setToolTip(why_not or self.tr("Choose the image file for drive {target}").format(
                target=drive.target))
            eject.setToolTip(why_not or (self.tr("Take the CD out of drive {target}; the drive stays")
                                         if drive.source else self.tr("Drive {target} is empty")).format(
                                             target=drive.target))
            self._media_rows.addWidget(label, i, 0)
            self._media_rows.addWidget(change, i, 1)
            self._media_rows.addWidget(eject, i, 2)
        self._media_rows.setColumnStretch(0, 1)
        self.media.setVisible(bool(drives))

    def choose_image(self, drive: CDDrive) -> QFileDialog:
        """Open the file chooser for ``drive``; the chosen image goes in when the chooser is accepted."""
        key = self.key
        chooser = QFileDialog(self, self.tr("Choose the CD for drive {target}").format(target=drive.target),
                              self.controller.start_folder(drive), self.tr(CD_IMAGES))
        chooser.setObjectName("cdImageChooser")
        chooser.setFileMode(QFileDialog.FileMode.ExistingFile)
        chooser.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        if key is not None:
            chooser.fileSelected.connect(lambda path: self.controller.change(key, drive, path))
        chooser.finished.connect(lambda _r: chooser.deleteLater())
        chooser.open()
        return chooser

    def eject(self, drive: CDDrive) -> None:
        if self.key is not None:
            self.controller.change(self.key, drive, None)

    def _changed(self, key: Key) -> None:
        if key == self.key:
            self.reload()
            self.maybe_fetch()
