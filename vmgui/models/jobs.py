"""Every job of every connection, running and finished, for the job panel.

Rows are keyed by (connection uri, job id) because job ids are unique only per
connection. Finished rows keep their final figures until the user clears them.
"""
from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from drivers import JobInfo, JobOperation, JobState
from drivers.jobs import UNCANCELLABLE

from ..i18n import N_, Text, translate
from .format import DASH, bytes_text, duration_text, rate_text
from .jobstats import JobStats
from .statewords import operation_words

JobKey = tuple[str, int]


#: The invisible root: a flat model's rows all hang off it.
_ROOT = QModelIndex()


class JobCol(enum.IntEnum):
    DOMAIN = 0
    OPERATION = 1
    PROGRESS = 2
    DONE = 3
    RATE = 4
    ELAPSED = 5
    ETA = 6
    STATE = 7
    DETAILS = 8
    CANCEL = 9


#: The job table's column titles, translated when the header shows them.
JOB_HEADERS = (N_("Domain"), N_("Operation"), N_("Progress"), N_("Transferred"), N_("Rate"), N_("Elapsed"),
               N_("ETA"), N_("State"), N_("Details"), "")
DISPLAY = Qt.ItemDataRole.DisplayRole.value
TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
PERCENT_ROLE = Qt.ItemDataRole.UserRole.value + 1  # int 0-100, or -1 while the total is unknown
KEY_ROLE = Qt.ItemDataRole.UserRole.value + 2
#: The translation context of the cells' texts (the job panel's).
CONTEXT = "JobPanel"
_STATE_TEXT = {JobState.RUNNING: N_("running"), JobState.COMPLETED: N_("completed"), JobState.FAILED: N_("failed"),
               JobState.CANCELLED: N_("cancelled")}


#: The convergence figures a migration job reports, in the order shown, and how each reads.
_DETAIL_TEXT: tuple[tuple[str, Callable[[float], str]], ...] = (
    ("iteration", lambda v: N_("pass {number}", number=f"{v:.0f}")),
    ("remaining_bytes", lambda v: N_("{size} left", size=bytes_text(v))),
    ("dirty_rate", lambda v: N_("dirtying {rate}", rate=rate_text(v))),
    ("expected_downtime_ms", lambda v: N_("downtime ≈ {ms} ms", ms=f"{v:.0f}")),
    ("paused_copy", lambda v: N_("copied paused (a live copy would lose guest writes here)")),
)
_KNOWN_DETAILS = frozenset(key for key, _ in _DETAIL_TEXT)


def details_text(info: JobInfo) -> str:
    """The job's note (a backup made full: why; whether it froze the guest's file systems), migration
    figures, or the error of a failed or cancelled job; the window's own words in the installed translation,
    the driver's (its note and error, figures it names) as it says them."""
    if info.error and info.finished:
        return info.error
    parts = [info.note] if info.note else []
    parts += [translate(CONTEXT, text(value)) for key, text in _DETAIL_TEXT if (value := info.detail(key)) is not None]
    parts += [f"{k.replace('_', ' ')} {v:g}" for k, v in info.details if k not in _KNOWN_DETAILS]
    return " · ".join(parts)


def transferred_text(info: JobInfo) -> str:
    """Bytes moved (of the total), or a dash: a job counted in steps, or one that told nothing yet."""
    if not info.in_bytes or (info.total is None and not info.processed):
        return DASH
    done = bytes_text(info.processed)
    return done if info.total is None else N_("{done} / {total}", done=done, total=bytes_text(info.total))


def cancel_refusal(info: JobInfo) -> str | None:
    """Why this job cannot be cancelled from here, or None when its cancel button may work.

    The drivers refuse to abort an incoming migration (only its source can stop
    it cleanly) and snapshot reverts/deletes (they cannot stop half-way), so
    those rows offer no active button, just this sentence.
    """
    if info.finished:
        return N_("the {operation} already ended", operation=operation_words(info.operation))
    if info.operation is JobOperation.MIGRATION_IN:
        return N_("an incoming migration is cancelled on its source: cancel the outgoing migration of {domain} "
                  "there", domain=info.domain)
    if info.operation in UNCANCELLABLE:
        return N_("a {operation} cannot stop half-way; it ends on its own", operation=operation_words(info.operation))
    return None


def domain_text(info: JobInfo, owner: str) -> str:
    """The Domain cell: a disk creation job names its disk file, so it shows the domain the disk is for
    when that is known, and says it is a disk otherwise."""
    if info.operation is not JobOperation.DISK_CREATE:
        return info.domain
    return owner or N_("disk {name}", name=info.domain)


def _said(text: str) -> str:
    """A cell's text in the installed translation where the window marked it; data (a name) as it is."""
    return translate(CONTEXT, text) if isinstance(text, Text) else text


class JobRow:
    __slots__ = ("key", "owner", "stats", "texts")

    def __init__(self, key: JobKey, info: JobInfo, now: float, owner: str = "") -> None:
        self.key = key
        self.owner = owner  # the domain a disk creation job makes its disk for ("" when not told)
        self.stats = JobStats(info, now)
        self.texts: list[str] = []
        self.format(now)

    @property
    def info(self) -> JobInfo:
        return self.stats.info

    def format(self, now: float) -> None:
        """The cells in the installed translation (the English where none is)."""
        info, stats = self.info, self.stats
        percent = stats.percent()
        self.texts = [
            _said(domain_text(info, self.owner)), translate(CONTEXT, operation_words(info.operation)),
            DASH if percent is None else f"{percent:.0f} %", _said(transferred_text(info)),
            _said(rate_text(stats.rate())), duration_text(stats.elapsed(now)),
            duration_text(stats.eta(now)) if not info.finished else DASH,
            translate(CONTEXT, _STATE_TEXT.get(info.state) or info.state.name.lower()), details_text(info), "",
        ]

    def percent_value(self) -> int:
        percent = self.stats.percent()
        if percent is None:
            return 100 if self.info.state is JobState.COMPLETED else -1
        return int(percent)


class JobTableModel(QAbstractTableModel):
    """Append-only while jobs run; :meth:`clear_finished` removes the ended ones."""

    #: (uri, JobInfo) when a job this model saw running has ended
    jobFinished = Signal(str, object)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[JobRow] = []
        self._pos: dict[JobKey, int] = {}
        self._running_on: dict[tuple[str, str], JobKey] = {}  # (uri, domain uuid or name) -> job
        self._owners: dict[JobKey, str] = {}  # disk creation jobs told their domain before their first event

    # -- Qt interface ------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(JOB_HEADERS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = DISPLAY) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == DISPLAY:
            return row.texts[index.column()]
        if role == PERCENT_ROLE:
            return row.percent_value()
        if role == KEY_ROLE:
            return row.key
        if role == TOOLTIP:
            if index.column() == JobCol.DETAILS:
                return row.texts[JobCol.DETAILS] or None
            if index.column() == JobCol.DOMAIN:
                if row.info.operation is JobOperation.DISK_CREATE and row.owner:
                    return translate(CONTEXT, N_("disk {name} for {domain}, job {job} on {uri}", name=row.info.domain,
                                                 domain=row.owner, job=row.key[1], uri=row.key[0]))
                return translate(CONTEXT, N_("job {job} on {uri}", job=row.key[1], uri=row.key[0]))
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = DISPLAY) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == DISPLAY and 0 <= section < len(JOB_HEADERS):
            return translate(CONTEXT, JOB_HEADERS[section]) if JOB_HEADERS[section] else ""
        return None

    # -- queries -----------------------------------------------------------------
    def row_at(self, i: int) -> JobRow:
        return self._rows[i]

    def find(self, key: JobKey) -> int | None:
        return self._pos.get(key)

    def rows(self) -> list[JobRow]:
        return list(self._rows)

    def running_job(self, uri: str, uuid: str, name: str = "") -> JobInfo | None:
        """The running job of a domain, if any (for action enablement)."""
        key = self._running_on.get((uri, uuid)) or self._running_on.get((uri, name))
        pos = self._pos.get(key) if key else None
        return self._rows[pos].info if pos is not None else None

    # -- updates -----------------------------------------------------------------
    def set_owner(self, uri: str, job_id: int, domain: str) -> None:
        """Name the domain a disk creation job makes its disk for (the job itself knows only the file)."""
        key = (uri, job_id)
        pos = self._pos.get(key)
        if pos is None:
            self._owners[key] = domain  # its first event has not come yet
            return
        row = self._rows[pos]
        row.owner = domain
        row.format(time.monotonic())
        self.dataChanged.emit(self.index(pos, JobCol.DOMAIN), self.index(pos, JobCol.DOMAIN))

    def update(self, uri: str, infos: Iterable[JobInfo], now: float | None = None) -> None:
        """Merge job snapshots; the newest snapshot of each job wins."""
        now = time.monotonic() if now is None else now
        latest: dict[int, JobInfo] = {}
        for info in infos:
            latest[info.id] = info
        new: list[JobRow] = []
        changed: list[int] = []
        for job_id, info in latest.items():
            key = (uri, job_id)
            pos = self._pos.get(key)
            if pos is None:
                new.append(JobRow(key, info, now, self._owners.pop(key, "")))
                self._track(uri, info, key)
                continue
            row = self._rows[pos]
            was_running = not row.info.finished
            if row.info.finished and not info.finished:
                continue  # a late progress event after the final one
            row.stats.update(info, now)
            row.format(now)
            self._track(uri, info, key)
            changed.append(pos)
            if was_running and info.finished:
                self.jobFinished.emit(uri, info)
        if changed:
            self.dataChanged.emit(self.index(min(changed), 0), self.index(max(changed), len(JOB_HEADERS) - 1))
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for row in new:
                self._pos[row.key] = len(self._rows)
                self._rows.append(row)
            self.endInsertRows()

    def _track(self, uri: str, info: JobInfo, key: JobKey) -> None:
        domain = (uri, info.domain_uuid or info.domain)
        if info.finished:
            if self._running_on.get(domain) == key:
                del self._running_on[domain]
        else:
            self._running_on[domain] = key

    def tick(self, now: float | None = None) -> None:
        """Advance elapsed and ETA of running jobs between events."""
        now = time.monotonic() if now is None else now
        running = [i for i, row in enumerate(self._rows) if not row.info.finished]
        for i in running:
            self._rows[i].format(now)
        if running:
            self.dataChanged.emit(self.index(min(running), JobCol.ELAPSED),
                                  self.index(max(running), JobCol.ETA))

    def clear_finished(self, uri: str | None = None) -> int:
        """Remove ended jobs (of ``uri``, or of all connections); returns how many."""
        doomed = [i for i, row in enumerate(self._rows)
                  if row.info.finished and (uri is None or row.key[0] == uri)]
        self._remove(doomed)
        return len(doomed)

    def remove_connection(self, uri: str) -> None:
        self._remove([i for i, row in enumerate(self._rows) if row.key[0] == uri])
        self._running_on = {k: v for k, v in self._running_on.items() if k[0] != uri}
        self._owners = {k: v for k, v in self._owners.items() if k[0] != uri}

    def _remove(self, positions: list[int]) -> None:
        for i in reversed(positions):  # one signal pair per row keeps views simple and correct
            self.beginRemoveRows(QModelIndex(), i, i)
            del self._rows[i]
            self.endRemoveRows()
        if positions:
            self._pos = {row.key: i for i, row in enumerate(self._rows)}
