"""The details pane: an overview of the selected domain (with a screen thumbnail) and its XML.

The overview comes from the row already in the table (no driver call); the XML
is fetched through the session when the XML tab is visible, and a late answer
for a domain no longer selected is dropped.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout, QLabel, QPlainTextEdit, QScrollArea, QTabWidget, QVBoxLayout, QWidget,
)

from drivers import JobInfo
from drivers.base import Screenshot
from drivers.flags import describe_state
from drivers.jobs import operation_text

from ..models.domains import DomainRow, Key
from ..models.format import bytes_text
from ..models.messages import explain
from .names import name_widget
from .screen import ScreenThumbnail

FIELDS = ("Name", "Title", "UUID", "State", "Connection", "vCPUs", "Memory", "CPU usage", "Persistent",
          "Autostart", "Snapshots", "Saved state", "Job")


class DetailsPane(QTabWidget):
    """Tabs: Overview and XML."""

    def __init__(self, fetch_xml: Callable[[Key], Awaitable[str]],
                 spawn: Callable[[Coroutine[Any, Any, None], str], object], parent: QWidget | None = None,
                 *, fetch_screen: Callable[[Key], Awaitable[Screenshot]] | None = None,
                 screen_supported: Callable[[str], bool] = lambda _uri: False) -> None:
        super().__init__(parent)
        name_widget(self, "detailsPane")
        self._fetch_xml = fetch_xml
        self._spawn = spawn
        self._key: Key | None = None
        self._xml_for: Key | None = None

        scroller = QScrollArea(self)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QScrollArea.Shape.NoFrame)
        overview = QWidget(scroller)
        scroller.setWidget(overview)
        form = QFormLayout(overview)
        self.values: dict[str, QLabel] = {}
        for field in FIELDS:
            label = QLabel("—", overview)
            label.setWordWrap(field not in ("UUID", "Connection"))
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setObjectName(f"detail_{field.lower().replace(' ', '_')}")
            self.values[field] = label
            form.addRow(f"{field}:", label)
        self.placeholder = QLabel("Select a domain to see its details.", overview)
        self.placeholder.setObjectName("detailsPlaceholder")
        wrapper = QVBoxLayout()
        wrapper.addWidget(self.placeholder)
        form.insertRow(0, wrapper)
        self.thumbnail: ScreenThumbnail | None = None
        if fetch_screen is not None:
            self.thumbnail = ScreenThumbnail(fetch_screen, screen_supported, spawn, overview)
            self.thumbnail.setVisible(False)
            form.addRow(self.thumbnail)  # last: the fields stay in view on a short pane

        self.xml = QPlainTextEdit(self)
        name_widget(self.xml, "domainXml")
        self.xml.setReadOnly(True)
        self.xml.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.xml.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont) or QFont("monospace"))
        self.addTab(scroller, "Overview")
        self.addTab(self.xml, "XML")
        self.currentChanged.connect(lambda _i: self._maybe_fetch())

    def show_row(self, row: DomainRow | None, job: JobInfo | None = None) -> None:
        """Fill the overview from ``row`` (None: nothing or several selected)."""
        changed = (row.key if row else None) != self._key
        self._key = row.key if row else None
        self.placeholder.setVisible(row is None)
        if self.thumbnail is not None:
            self.thumbnail.show_row(row)
        if row is None:
            for label in self.values.values():
                label.setText("—")
            self.xml.setPlainText("")
            self._xml_for = None
            return
        rec = row.rec
        values = {
            "Name": rec.name, "Title": rec.title or "—", "UUID": rec.uuid,
            "State": describe_state(rec.state, rec.reason) + (f" — {row.busy}…" if row.busy else ""),
            "Connection": row.uri, "vCPUs": str(rec.vcpus),
            "Memory": f"{bytes_text(rec.memory_kib * 1024)} of {bytes_text(rec.max_memory_kib * 1024)}",
            "CPU usage": row.texts[4], "Persistent": "yes" if rec.persistent else "no (transient)",
            "Autostart": "yes" if rec.autostart else "no", "Snapshots": str(rec.snapshot_count),
            "Saved state": "yes (Start restores it)" if rec.managed_save else "no",
            "Job": f"{operation_text(job.operation)} (job {job.id}) running" if job else "none",
        }
        for field, text in values.items():
            self.values[field].setText(text)
        if changed:
            self._xml_for = None
            self.xml.setPlainText("")
            self._maybe_fetch()

    def _maybe_fetch(self) -> None:
        if self.currentWidget() is self.xml and self._key is not None and self._xml_for != self._key:
            self._xml_for = self._key
            self.xml.setPlainText("Loading…")
            self._spawn(self._load(self._key), "Reading the domain XML")

    async def _load(self, key: Key) -> None:
        try:
            text = await self._fetch_xml(key)
        except Exception as exc:  # noqa: BLE001 - shown in place, not as a dialog
            title, message, hint = explain(exc, "Reading the XML")
            text = f"<!-- {title}: {message} {hint} -->"
        if self._key == key:
            self.xml.setPlainText(text)
