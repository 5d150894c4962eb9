"""The details pane: overview (with uptime, CPU and memory graphs, what the guest agent reports and
a screen thumbnail),
hardware summary, XML (viewable, editable with a diff before applying) and the display.

The overview comes from the row already in the table (no driver call). While
it shows a running domain, that one domain is re-read about once a second
through the session (off the UI thread), which feeds its graphs; the sampling
stops when the pane shows another tab, another domain, or nothing. The other
tabs read the XML through the session when shown; late answers for a domain
no longer selected are dropped.
"""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QWidget,
)

from drivers import DomainRecord, Feature, JobInfo
from drivers.jobs import operation_text

from ..i18n import N_, translate
from ..models.domains import Col, DomainRow, Key
from ..models.format import DASH, bytes_text, duration_text
from ..models.problems import problem_text
from ..models.session import Session
from .display import DisplayTab
from .editflow import EditFlow
from .graphs import Graph
from .guestview import GuestAgentView
from .hardware import HardwareView
from .names import error_label, name_widget
from .screen import ScreenThumbnail
from .xmltab import XmlPane

#: The overview's fields (the keys of ``DetailsPane.values``; their labels are translated).
FIELDS = (N_("Name"), N_("Title"), N_("UUID"), N_("State"), N_("Uptime"), N_("Connection"), N_("vCPUs"),
          N_("Memory"), N_("CPU usage"), N_("Persistent"), N_("Autostart"), N_("Snapshots"), N_("Saved state"),
          N_("Job"))
CONTEXT = "DetailsPane"
#: how often the shown running domain is re-read for its graphs
SAMPLE_S = 1.0


def uptime_text(rec: DomainRecord, now: float) -> str:
    """The guest's running time since it booted: ``3 d 4:05:06``, ``12:34``, ``0:05 (paused)``
    (frozen while paused) — or a dash while stopped or when the driver does not say."""
    seconds = rec.uptime_s(now)
    if seconds is None:
        return DASH
    days, rest = divmod(seconds, 86400)
    text = translate(CONTEXT, N_("{days} d {time}", days=int(days), time=duration_text(rest))) if days \
        else duration_text(rest)
    return translate(CONTEXT, N_("{uptime} (paused)", uptime=text)) if rec.paused_since is not None else text


class DetailsPane(QTabWidget):
    """Tabs: Overview, Hardware, XML and Display, over the selected domain."""

    def __init__(self, session: Session, parent: QWidget | None = None, sample_s: float = SAMPLE_S) -> None:
        super().__init__(parent)
        name_widget(self, "detailsPane")
        self._session = session
        self._key: Key | None = None
        self._row: DomainRow | None = None
        self.flow = EditFlow(session, self, self._applied)

        scroller = QScrollArea(self)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QScrollArea.Shape.NoFrame)
        overview = QWidget(scroller)
        scroller.setWidget(overview)
        self.overview = scroller
        form = QFormLayout(overview)
        self.placeholder = QLabel(self.tr("Select a domain to see its details."), overview)
        self.placeholder.setObjectName("detailsPlaceholder")
        form.addRow(self.placeholder)
        #: what is wrong with the domain's files and the way out; shown only when something is
        self.problem = error_label(overview, "detailProblem")
        self.problem.setAccessibleName(self.tr("Problem"))
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem.setVisible(False)
        form.addRow(self.problem)
        self.cpu_graph = Graph("cpuGraph", self.tr("CPU"), lambda v: f"{v:.0f} %", "#1570ef", overview)
        self.memory_graph = Graph("memoryGraph", self.tr("Memory"), bytes_text, "#7a5af8", overview)
        self.values: dict[str, QLabel] = {}
        for field in FIELDS:
            label = QLabel(DASH, overview)
            if field in ("UUID", "Connection"):  # long unbreakable words: clipped, never widening the pane
                label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            else:
                label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setObjectName(f"detail_{field.lower().replace(' ', '_')}")
            self.values[field] = label
            form.addRow(translate(CONTEXT, N_("{field}:", field=field)), label)
            if field == "Uptime":  # live figures next to the state, static facts below
                graphs = QHBoxLayout()
                graphs.addWidget(self.cpu_graph)
                graphs.addWidget(self.memory_graph)
                form.addRow(graphs)
        self.edit_button = QPushButton(self.tr("&Edit…"), self)
        name_widget(self.edit_button, "editDomain")
        self.edit_button.clicked.connect(self.edit)
        self.setCornerWidget(self.edit_button, Qt.Corner.TopRightCorner)
        #: what the guest agent reports (host name, OS, addresses, file systems), or that there is none
        self.guest = GuestAgentView(session, overview)
        form.addRow(self.tr("Guest agent:"), self.guest)
        self.thumbnail = ScreenThumbnail(session.screenshot, lambda uri: session.supports(uri, Feature.SCREENSHOT),
                                         session.spawn, overview)
        self.thumbnail.setVisible(False)
        form.addRow(self.thumbnail)  # last: the fields stay in view on a short pane

        self.hardware = HardwareView(session, self)
        self.xml = XmlPane(session, self.flow, self)
        self.addTab(scroller, self.tr("Overview"))
        self.addTab(self.hardware, self.tr("Hardware"))
        self.addTab(self.xml, self.tr("XML"))
        self.display = DisplayTab(session, self)
        self.addTab(self.display, self.tr("Display"))
        self.currentChanged.connect(lambda _i: self._tab_shown())
        self._sampler = QTimer(self)
        self._sampler.setInterval(int(sample_s * 1000))
        self._sampler.timeout.connect(self._tick)
        session.history.changed.connect(self._history_changed)
        self._set_edit_enabled()

    # -- the selection ---------------------------------------------------------------
    def show_row(self, row: DomainRow | None, job: JobInfo | None = None) -> None:
        """Fill the overview from ``row`` (None: nothing or several selected)."""
        key = row.key if row else None
        changed = key != self._key
        self._key, self._row = key, row
        self.placeholder.setVisible(row is None)
        self.thumbnail.show_row(row)
        self.guest.show_row(row)
        self.display.show_row(row)
        if changed:
            self.hardware.show_key(key)
            self.xml.show_key(key)
            if key is not None:
                self._session.history.track(key)
        self._set_edit_enabled()
        self.problem.setText(translate(CONTEXT, problem_text(row.rec)) if row is not None else "")
        self.problem.setVisible(bool(self.problem.text()))
        if row is None:
            for label in self.values.values():
                label.setText(DASH)
            self._draw_graphs()
            self._sampler.stop()
            return
        rec = row.rec
        values = {
            "Name": rec.name, "Title": rec.title or DASH, "UUID": rec.uuid,
            "State": row.texts[Col.STATE],  # as in the table: with what is going on ("shutting down…")
            "Uptime": uptime_text(rec, time.time()),
            "Connection": row.uri, "vCPUs": row.texts[Col.VCPUS],
            "Memory": DASH if row.texts[Col.MEMORY] == DASH else
            self.tr("{used} of {maximum}").format(used=bytes_text(rec.memory_kib * 1024),
                                                  maximum=bytes_text(rec.max_memory_kib * 1024)),
            "CPU usage": row.texts[4], "Persistent": self.tr("yes") if rec.persistent else self.tr("no (transient)"),
            "Autostart": self.tr("yes") if rec.autostart else self.tr("no"), "Snapshots": str(rec.snapshot_count),
            "Saved state": self.tr("yes (Start restores it)") if rec.managed_save else self.tr("no"),
            "Job": self.tr("{operation} (job {job}) running").format(operation=operation_text(job.operation),
                                                                     job=job.id) if job else self.tr("none"),
        }
        for field, text in values.items():
            self.values[field].setText(text)
        for field in ("UUID", "Connection"):
            self.values[field].setToolTip(values[field])
        if changed:
            self._draw_graphs()
            self._tab_shown()
        self._update_sampler()

    def _set_edit_enabled(self) -> None:
        row = self._row
        broken = row is not None and row.rec.broken
        ok = row is not None and not broken and self._session.supports(row.uri, Feature.DEFINE)
        self.edit_button.setEnabled(ok)
        self.edit_button.setToolTip(
            self.tr("Change name, memory, vCPUs, boot order, disks and network") if ok
            else self.tr("Select one domain to edit it") if row is None
            else self.tr("Its definition cannot be read: correct it in the XML tab (Edit XML)") if broken
            else self.tr("{uri} cannot change definitions").format(uri=row.uri))

    def edit(self) -> None:
        if self._key is not None:
            self.flow.edit(self._key)

    def _applied(self, key: Key) -> None:
        """A new definition: the hardware and XML tabs read it again."""
        if key == self._key:
            self.hardware.reload()
            self.xml.reload()
            self._tab_shown()

    # -- tabs and sampling ---------------------------------------------------------------
    def _tab_shown(self) -> None:
        if self.currentWidget() is self.xml:
            self.xml.maybe_fetch()
        elif self.currentWidget() is self.hardware:
            self.hardware.maybe_fetch()
        elif self.currentWidget() is self.overview:
            self.guest.refresh()  # hidden while another tab showed: read again now
        self.display.set_shown(self.currentWidget() is self.display)
        self._update_sampler()

    def sampling(self) -> bool:
        """Whether the shown domain is being re-read for its graphs."""
        return self._sampler.isActive()

    def _wants_samples(self) -> bool:
        """A running domain shown with its graphs in view."""
        return self._row is not None and self._row.rec.active and self.currentWidget() is self.overview

    def _update_sampler(self) -> None:
        if not self._wants_samples():
            self._sampler.stop()
        elif not self._sampler.isActive():
            self._sampler.start()

    def _tick(self) -> None:
        row = self._row
        if row is None or not self._wants_samples():
            self._sampler.stop()
            return
        if not self.isVisible():
            return  # a minimized or hidden window: no re-reads, resumed when shown again
        self._session.sample(row.key)
        self.values["Uptime"].setText(uptime_text(row.rec, time.time()))

    # -- graphs ------------------------------------------------------------------------
    def _history_changed(self, key: Key) -> None:
        if key == self._key:
            self._draw_graphs()

    def _draw_graphs(self) -> None:
        row = self._row
        if row is None:
            self.cpu_graph.set_values([], note=DASH)
            self.memory_graph.set_values([], note=DASH)
            return
        points = self._session.history.points(row.key)
        note = "" if row.rec.id is not None else self.tr("not running")
        if not note and len(points) < 2:
            note = self.tr("collecting…") if not points or points[-1].cpu is None else ""
        self.cpu_graph.set_values([p.cpu for p in points], 100.0, note)
        self.memory_graph.set_values([p.memory_kib * 1024 for p in points], row.rec.max_memory_kib * 1024,
                                     "" if points and row.rec.id is not None else note)
