"""The Hardware tab (``hardwareSummary``): disks, NICs, graphics and serial ports of the selected domain.

The XML is read through the session when the tab is shown (never on the UI
thread), parsed with the core's hardened :class:`DomainXML`, and turned into
rows by :func:`vmgui.models.hardware.summary`. A late answer for a domain no
longer selected is dropped.
"""
from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QWidget

from drivers.domxml import DomainXML

from ..i18n import translate
from ..models.domains import Key
from ..models.hardware import summary
from ..models.messages import explain
from ..models.session import Session
from .names import name_widget

CONTEXT = "HardwareView"


class HardwareView(QScrollArea):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.label = QLabel("", self)
        name_widget(self.label, "hardwareSummary")
        self.label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setMargin(6)
        self.setWidget(self.label)
        self._session = session
        self.key: Key | None = None
        self._loaded_for: Key | None = None

    def show_key(self, key: Key | None) -> None:
        if key != self.key:
            self.key, self._loaded_for = key, None
            self.label.setText("" if key is None else self.tr("Loading…"))

    def reload(self) -> None:
        """Read again at the next :meth:`maybe_fetch` (the definition changed)."""
        self._loaded_for = None

    def maybe_fetch(self) -> None:
        if self.key is not None and self._loaded_for != self.key:
            self._loaded_for = self.key
            self._session.spawn(self._load(self.key), self.tr("Reading the hardware of the domain"))

    async def _load(self, key: Key) -> None:
        try:
            rows = summary(DomainXML.parse(await self._session.domain_xml(key)))
            text = "<table cellspacing='3'>" + "".join(
                f"<tr><td><b>{escape(translate(CONTEXT, head))}</b></td>"
                f"<td>{escape(translate(CONTEXT, value))}</td></tr>" for head, value in rows) + "</table>"
        except Exception as exc:  # noqa: BLE001 - shown in place, not as a dialog
            text = escape(" ".join(explain(exc, "Reading the hardware")))
        if key == self.key:
            self.label.setText(text)
