"""The job panel: a dock listing every job, with a live progress bar and a cancel button.

Widget names: a job's bar is ``jobProgress_<id>`` and its button ``cancelJob_<id>``.
Job ids are unique per connection only, so when two connections have a job
with the same id, the job of the connection opened first keeps the plain names
and the others get ``jobProgress_<id>_<n>`` / ``cancelJob_<id>_<n>``, where n
is their connection's number in opening order (1, 2, ...). Names are
reassigned whenever rows come or go, so the rule holds at all times.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .. import icons
from ..models.connections import ConnectionModel
from ..models.jobs import JobCol, JobKey, JobTableModel, cancel_refusal
from .names import name_widget

_WIDTHS = {JobCol.DOMAIN: 130, JobCol.OPERATION: 140, JobCol.PROGRESS: 150, JobCol.DONE: 170,
           JobCol.RATE: 100, JobCol.ELAPSED: 70, JobCol.ETA: 70, JobCol.STATE: 90, JobCol.DETAILS: 300,
           JobCol.CANCEL: 36}


_CHUNK = {"running": "#2f6fdb", "completed": "#2e9d4f", "failed": "#d23b3b", "cancelled": "#8a8f98"}


def widget_suffixes(keys: list[JobKey], ordinal: Callable[[str], int]) -> dict[JobKey, str]:
    """'' for the job that keeps the plain name, '_<n>' for the others sharing its id."""
    by_id: dict[int, list[JobKey]] = {}
    for key in keys:
        by_id.setdefault(key[1], []).append(key)
    result: dict[JobKey, str] = {}
    for same in by_id.values():
        same.sort(key=lambda k: ordinal(k[0]))
        result[same[0]] = ""
        for key in same[1:]:
            result[key] = f"_{ordinal(key[0])}"
    return result


class JobPanel(QDockWidget):
    """Dock ``jobPanel`` holding the ``jobView`` table."""

    def __init__(self, model: JobTableModel, connections: ConnectionModel,
                 cancel: Callable[[str, int], None], parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Jobs"), parent)
        name_widget(self, "jobPanel")
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)  # View ▸ Jobs brings it back
        self._model = model
        self._connections = connections
        self._cancel = cancel
        self._bars: dict[JobKey, QProgressBar] = {}
        self._buttons: dict[JobKey, QToolButton] = {}

        self.view = QTableView(self)
        name_widget(self.view, "jobView", self.tr("Jobs"))
        self.view.setModel(model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setAlternatingRowColors(True)
        self.view.setTabKeyNavigation(False)  # Tab leaves the list (arrows move between rows)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.view.verticalHeader().setDefaultSectionSize(26)
        header = self.view.horizontalHeader()
        header.setStretchLastSection(False)
        for col, width in _WIDTHS.items():
            self.view.setColumnWidth(col, width)
        header.setSectionResizeMode(JobCol.DETAILS, QHeaderView.ResizeMode.Stretch)

        self.summary = QLabel(self.tr("No jobs yet. Backups, saves and migrations show their progress here."), self)
        self.summary.setObjectName("jobSummary")
        self.clear_button = QToolButton(self)
        name_widget(self.clear_button, "clearJobs")
        self.clear_button.setText(self.tr("C&lear finished"))
        self.clear_button.setToolTip(self.tr("Remove completed, failed and cancelled jobs from the list"))
        self.clear_button.clicked.connect(lambda: model.clear_finished())

        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.clear_button)
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.view)
        self.setWidget(body)
        QWidget.setTabOrder(self.clear_button, self.view)  # as shown: the bar above the list

        model.rowsInserted.connect(self._inserted)
        model.rowsRemoved.connect(self._removed)
        model.dataChanged.connect(self._changed)
        model.modelReset.connect(self._removed)

    # -- per-job widgets ------------------------------------------------------------
    def bar(self, key: JobKey) -> QProgressBar | None:
        return self._bars.get(key)

    def cancel_button(self, key: JobKey) -> QToolButton | None:
        return self._buttons.get(key)

    def _inserted(self, _parent: QModelIndex, first: int, last: int) -> None:
        for i in range(first, last + 1):
            key = self._model.row_at(i).key
            bar = QProgressBar(self.view)
            bar.setTextVisible(True)
            bar.setMaximumHeight(20)
            button = QToolButton(self.view)
            button.setIcon(icons.icon("cancel"))
            button.setText(self.tr("Cancel"))
            button.setAutoRaise(True)
            button.clicked.connect(lambda _c=False, k=key: self._cancel(*k))
            self.view.setIndexWidget(self._model.index(i, JobCol.PROGRESS), bar)
            self.view.setIndexWidget(self._model.index(i, JobCol.CANCEL), button)
            self._bars[key] = bar
            self._buttons[key] = button
            self._refresh_row(i)
        self._rename()
        self.view.scrollToBottom()

    def _removed(self, *_args: object) -> None:
        alive = {row.key for row in self._model.rows()}
        for key in [k for k in self._bars if k not in alive]:
            for widget in (self._bars.pop(key), self._buttons.pop(key)):
                widget.setObjectName("")  # gone at once for findChild; deleted on the next loop turn
                widget.hide()
                widget.deleteLater()
        self._rename()

    def _changed(self, top: QModelIndex, bottom: QModelIndex, _roles: object = None) -> None:
        if top.column() > JobCol.STATE:
            return
        for i in range(top.row(), bottom.row() + 1):
            self._refresh_row(i)
        self._summarize()

    def _refresh_row(self, i: int) -> None:
        row = self._model.row_at(i)
        bar, button = self._bars.get(row.key), self._buttons.get(row.key)
        if bar is None or button is None:
            return
        percent = row.percent_value()
        if percent < 0 and not row.info.finished:
            bar.setRange(0, 0)  # busy indicator: the total is not known yet
        else:
            bar.setRange(0, 100)
            bar.setValue(max(0, percent))
        state = row.texts[JobCol.STATE]
        if bar.property("jobState") == state:
            return  # only the value moved; everything below changes with the state alone
        bar.setFormat("%p %" if not row.info.finished else f"{state} · %p %")
        bar.setProperty("jobState", state)
        bar.setToolTip(self.tr("{operation} of {domain}: {state}").format(
            operation=row.texts[JobCol.OPERATION], domain=row.info.domain, state=state))
        # a palette, not a style sheet: re-polishing styled bars cost tens of ms per change
        palette = bar.palette()
        palette.setColor(QPalette.ColorRole.Highlight, QColor(_CHUNK.get(state, _CHUNK["running"])))
        bar.setPalette(palette)
        refusal = cancel_refusal(row.info)
        button.setEnabled(refusal is None)
        button.setIcon(icons.icon("cancel") if refusal is None else QIcon())
        button.setText(self.tr("Cancel") if refusal is None else "")
        button.setToolTip(self.tr("Cancel the {operation} of {domain}").format(
            operation=row.texts[JobCol.OPERATION], domain=row.info.domain) if refusal is None
            else self.tr("Cannot cancel here: {why}").format(why=refusal))

    def _rename(self) -> None:
        def ordinal(uri: str) -> int:
            conn = self._connections.get(uri)
            return conn.ordinal if conn is not None else 1 << 30
        for key, suffix in widget_suffixes(list(self._bars), ordinal).items():
            name_widget(self._bars[key], f"jobProgress_{key[1]}{suffix}")
            name_widget(self._buttons[key], f"cancelJob_{key[1]}{suffix}")
        self._summarize()

    def _summarize(self) -> None:
        rows = self._model.rows()
        if not rows:
            self.summary.setText(self.tr("No jobs yet. Backups, saves and migrations show their progress here."))
            return
        running = sum(1 for r in rows if not r.info.finished)
        failed = sum(1 for r in rows if r.info.state.name == "FAILED")
        text = self.tr("{running} running, {finished} finished").format(running=running, finished=len(rows) - running)
        if failed:
            text = self.tr("{summary} ({failed} failed)").format(summary=text, failed=failed)
        self.summary.setText(text)
        self.clear_button.setEnabled(running < len(rows))
        self.setWindowTitle(self.tr("Jobs ({running} running)").format(running=running) if running else self.tr("Jobs"))


