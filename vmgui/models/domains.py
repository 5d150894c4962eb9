"""The domain table: every domain of every open connection, filtered and sorted in place.

The model's rows *are* the visible domains (no QSortFilterProxyModel: a Python
``filterAcceptsRow`` costs ~65 ms per re-filter at 10,000 rows). All rows are
kept sorted once; a filter change is one pass over their cached ListFlags bits
with the core's own :func:`drivers.listfilter.compile_filter` predicate,
followed by one ``layoutChanged``. Display strings are precomputed per row, so
``data()`` is a role check and a tuple lookup.
"""
from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from drivers import DomainRecord, DomainState
from drivers.flags import describe_state
from drivers.records import filter_bits

from .. import icons
from .format import bytes_text

Key = tuple[str, str]  # (connection uri, domain uuid)
Accepts = Callable[[int], bool]


class Col(enum.IntEnum):
    NAME = 0
    STATE = 1
    VCPUS = 2
    MEMORY = 3
    CPU = 4
    PERSISTENT = 5
    AUTOSTART = 6
    SNAPSHOTS = 7
    MANAGED_SAVE = 8
    CONNECTION = 9


HEADERS = ("Name", "State", "vCPUs", "Memory", "CPU", "Persistent", "Autostart", "Snapshots",
           "Saved state", "Connection")
_RIGHT = frozenset({Col.VCPUS, Col.MEMORY, Col.CPU, Col.SNAPSHOTS})
_STATE_ORDER = {DomainState.RUNNING: 0, DomainState.BLOCKED: 1, DomainState.PAUSED: 2,
                DomainState.PMSUSPENDED: 3, DomainState.SHUTDOWN: 4, DomainState.CRASHED: 5,
                DomainState.SHUTOFF: 6, DomainState.NOSTATE: 7}

DISPLAY = Qt.ItemDataRole.DisplayRole.value
DECORATION = Qt.ItemDataRole.DecorationRole.value
TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
ALIGN = Qt.ItemDataRole.TextAlignmentRole.value
KEY_ROLE = Qt.ItemDataRole.UserRole.value + 1
_ALIGN_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


_BITS: dict[tuple[bool, bool, int, bool, bool, bool], int] = {}
_STATE_TEXT: dict[tuple[int, int], str] = {}


def record_bits(rec: DomainRecord) -> int:
    """``rec.bits`` (the core's :func:`drivers.records.filter_bits`), memoized: 128 combinations exist."""
    key = (rec.id is not None, rec.persistent, int(rec.state), rec.managed_save, rec.autostart,
           rec.snapshot_count > 0)
    bits = _BITS.get(key)
    if bits is None:
        bits = _BITS[key] = filter_bits(*key)
    return bits


def state_text(state: int, reason: int) -> str:
    key = (int(state), int(reason))
    text = _STATE_TEXT.get(key)
    if text is None:
        text = _STATE_TEXT[key] = describe_state(state, reason)
    return text


_SHARED: dict[tuple[Any, int], str] = {}


def _shared(value: int, fmt: Callable[[int], str]) -> str:
    """One string object per distinct figure: 10,000 rows mostly repeat a few values."""
    key = (fmt, value)
    text = _SHARED.get(key)
    if text is None:
        if len(_SHARED) > 50_000:
            _SHARED.clear()
        text = _SHARED[key] = fmt(value)
    return text


@dataclass(slots=True, eq=False)
class DomainRow:
    """One domain with everything the view needs precomputed."""

    key: Key
    rec: DomainRecord
    label: str  # the connection as shown in the table
    cpu: float | None = None
    sample: tuple[float, int] | None = None  # (monotonic s, cpu_time_ns) of the last record
    busy: str = ""
    texts: tuple[str, ...] = ()
    lname: str = ""
    _bits: int = 0

    @property
    def uri(self) -> str:
        return self.key[0]

    @property
    def bits(self) -> int:
        return self._bits

    def refresh(self, rec: DomainRecord, now: float) -> None:
        """Take a new record: recompute CPU usage and texts."""
        if rec.id is not None and self.sample is not None and self.rec.id == rec.id:
            dt = now - self.sample[0]
            if dt >= 0.5:
                used = (rec.cpu_time_ns - self.sample[1]) / (dt * 1e9 * max(1, rec.vcpus))
                self.cpu = max(0.0, min(100.0, 100.0 * used))
                self.sample = (now, rec.cpu_time_ns)
        elif rec.id is not None:
            self.sample = (now, rec.cpu_time_ns)
        if rec.id is None:
            self.cpu, self.sample = None, None
        self.rec = rec
        self._bits = record_bits(rec)
        self.lname = rec.name.lower()
        self._format()

    def _format(self) -> None:
        rec = self.rec
        state = state_text(rec.state, rec.reason)
        if self.busy:
            state = f"{state} — {self.busy}…"
        cpu = "—" if self.cpu is None else f"{self.cpu:.0f} %"
        self.texts = (
            rec.name, state, _shared(rec.vcpus, str), _shared(rec.memory_kib * 1024, bytes_text), cpu,
            "yes" if rec.persistent else "transient", "yes" if rec.autostart else "—",
            _shared(rec.snapshot_count, str) if rec.snapshot_count else "—",
            "saved" if rec.managed_save else "—", self.label,
        )

    def set_busy(self, text: str) -> None:
        self.busy = text
        self._format()

    def matches(self, search: str) -> bool:
        rec = self.rec
        return search in self.lname or search in rec.uuid or (bool(rec.title) and search in rec.title.lower())


#: Primary sort key per column (ties are broken by name, then connection).
SORT_KEYS: dict[Col, Callable[[DomainRow], Any]] = {
    Col.NAME: lambda r: r.lname,
    Col.STATE: lambda r: _STATE_ORDER.get(r.rec.state, 9),
    Col.VCPUS: lambda r: r.rec.vcpus,
    Col.MEMORY: lambda r: r.rec.memory_kib,
    Col.CPU: lambda r: -1.0 if r.cpu is None else r.cpu,
    Col.PERSISTENT: lambda r: r.rec.persistent,
    Col.AUTOSTART: lambda r: r.rec.autostart,
    Col.SNAPSHOTS: lambda r: r.rec.snapshot_count,
    Col.MANAGED_SAVE: lambda r: r.rec.managed_save,
    Col.CONNECTION: lambda r: r.label,
}


class DomainTableModel(QAbstractTableModel):
    """Rows = visible domains. Find a row by (uri, uuid) in O(1) with :meth:`find`."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: dict[Key, DomainRow] = {}
        self._sorted: list[DomainRow] | None = []
        self._visible: list[DomainRow] = []
        self._pos: dict[Key, int] | None = {}  # visible row by key; None = rebuild on demand
        self._accepts: Accepts = lambda bits: True
        self._verdicts: dict[int, bool] = {}  # bits value -> self._accepts(bits), filled lazily
        self._search = ""
        self._only_uri: str | None = None
        self._sort_col = Col.NAME
        self._sort_desc = False
        self._labels: dict[str, str] = {}

    # -- Qt model interface ----------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._visible)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = DISPLAY) -> Any:
        # Called ~7 times per painted cell (one per role): cheapest checks first, and roles
        # we do not provide (font, colours, check state) return before touching the index.
        if role == DISPLAY:
            if not index.isValid():
                return None
            return self._visible[index.row()].texts[index.column()]
        if role == DECORATION:
            if index.column() != 0 or not index.isValid():
                return None
            row = self._visible[index.row()]
            return icons.state_icon(row.rec.state, bool(row.busy))
        if role == ALIGN:
            return _ALIGN_RIGHT if index.column() in _RIGHT else None
        if role == TOOLTIP or role == KEY_ROLE:
            if not index.isValid():
                return None
            row = self._visible[index.row()]
            return row.key if role == KEY_ROLE else self._tooltip(row, index.column())
        return None

    def _tooltip(self, row: DomainRow, col: int) -> str | None:
        rec = row.rec
        if col == Col.NAME:
            return f"{rec.title}\n{rec.uuid}" if rec.title else rec.uuid
        if col == Col.MEMORY:
            return f"{bytes_text(rec.memory_kib * 1024)} in use of {bytes_text(rec.max_memory_kib * 1024)} maximum"
        if col == Col.CONNECTION:
            return row.uri
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = DISPLAY) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == DISPLAY and 0 <= section < len(HEADERS):
            return HEADERS[section]
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(HEADERS):
            return
        self._sort_col = Col(column)
        self._sort_desc = order == Qt.SortOrder.DescendingOrder
        self._sorted = None
        self._relayout()

    # -- queries ---------------------------------------------------------------
    def row_at(self, i: int) -> DomainRow:
        return self._visible[i]

    def find(self, key: Key) -> int | None:
        """Visible row of ``key``, or None when it is filtered out or unknown."""
        return self._positions().get(key)

    def get(self, key: Key) -> DomainRow | None:
        return self._rows.get(key)

    def visible_keys(self) -> list[Key]:
        return [r.key for r in self._visible]

    def total(self, uri: str | None = None) -> int:
        if uri is None:
            return len(self._rows)
        return sum(1 for k in self._rows if k[0] == uri)

    # -- filtering -------------------------------------------------------------
    def _positions(self) -> dict[Key, int]:
        if self._pos is None:
            self._pos = {r.key: i for i, r in enumerate(self._visible)}
        return self._pos

    def _accepted(self, bits: int) -> bool:
        """The core predicate, asked once per distinct bits value (at most 128 exist)."""
        verdict = self._verdicts.get(bits)
        if verdict is None:
            verdict = self._verdicts[bits] = bool(self._accepts(bits))
        return verdict

    def set_filter(self, accepts: Accepts, search: str = "", only_uri: str | None = None) -> None:
        self._accepts = accepts
        self._verdicts = {}
        self._search = search.strip().lower()
        self._only_uri = only_uri
        self._relayout()

    def set_label(self, uri: str, label: str) -> None:
        self._labels[uri] = label

    # -- updates ---------------------------------------------------------------
    def apply(self, uri: str, records: Iterable[DomainRecord], complete: bool = False,
              removed: Iterable[str] = (), now: float | None = None) -> None:
        """Merge records of ``uri``; ``complete`` means they are all of its domains."""
        now = time.monotonic() if now is None else now
        structural = False
        changed: list[DomainRow] = []
        seen: set[Key] = set()
        sort_key = SORT_KEYS[self._sort_col]
        accepts = self._accepted
        label = self._labels.get(uri, uri)
        for rec in records:
            key = (uri, rec.uuid)
            seen.add(key)
            row = self._rows.get(key)
            if row is None:
                row = DomainRow(key, rec, label)
                row.refresh(rec, now)
                self._rows[key] = row
                structural = True
                self._sorted = None
                continue
            if row.rec == rec:
                continue
            old_bits, old_sort = row.bits, sort_key(row)
            row.refresh(rec, now)
            if sort_key(row) != old_sort:
                self._sorted = None
                structural = True
            elif accepts(old_bits) != accepts(row._bits):
                structural = True
            else:
                changed.append(row)
        gone = [k for k in self._rows if k[0] == uri and k not in seen] if complete else \
            [(uri, u) for u in removed if (uri, u) in self._rows]
        for key in gone:
            del self._rows[key]
        if gone:
            self._sorted = None
            structural = True
        if structural:
            self._relayout()
        else:
            self._rows_changed(changed)

    def retain(self, uri: str, uuids: set[str]) -> None:
        """Drop the rows of ``uri`` whose uuid is not in ``uuids`` (end of a chunked re-sync)."""
        gone = [k[1] for k in self._rows if k[0] == uri and k[1] not in uuids]
        if gone:
            self.apply(uri, (), removed=gone)

    def remove_connection(self, uri: str) -> None:
        self.apply(uri, (), complete=True)

    def set_busy(self, key: Key, text: str) -> None:
        row = self._rows.get(key)
        if row is not None and row.busy != text:
            row.set_busy(text)
            self._rows_changed([row])

    def _rows_changed(self, rows: list[DomainRow]) -> None:
        pos = self._positions()
        positions = [p for p in (pos.get(r.key) for r in rows) if p is not None]
        if positions:
            self.dataChanged.emit(self.index(min(positions), 0),
                                  self.index(max(positions), len(HEADERS) - 1))

    def _relayout(self) -> None:
        if self._sorted is None:
            key = SORT_KEYS[self._sort_col]
            self._sorted = sorted(self._rows.values(), key=lambda r: (key(r), r.lname, r.uri),
                                  reverse=self._sort_desc)
        search, only = self._search, self._only_uri
        rows = self._sorted
        if only is not None:
            rows = [r for r in rows if r.key[0] == only]
        if search:
            rows = [r for r in rows if r.matches(search)]
        allowed = {bits for bits in {r._bits for r in rows} if self._accepted(bits)}
        visible = [r for r in rows if r._bits in allowed]
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        moved = [(self._visible[p.row()].key, p.column()) for p in persistent]
        self._visible = visible
        self._pos = None
        positions = self._positions() if moved else {}
        new = []
        for row_key, column in moved:
            pos = positions.get(row_key)
            new.append(self.index(pos, column) if pos is not None else QModelIndex())
        self.changePersistentIndexList(persistent, new)
        self.layoutChanged.emit()
