"""The domain table: every domain of every open connection, filtered and sorted in place.

The model's rows *are* the visible domains (no QSortFilterProxyModel: a Python
``filterAcceptsRow`` costs ~65 ms per re-filter at 10,000 rows). All rows are
kept sorted once; a filter change is one pass over their cached ListFlags bits
with the core's own :func:`drivers.listfilter.compile_filter` predicate,
followed by one ``layoutChanged``. Display strings are precomputed per row, so
``data()`` is a role check and a tuple lookup.
"""
from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from drivers import DomainRecord

from .. import icons
from ..i18n import N_, translate
from .domainrow import (
    ALIGN,
    ALIGN_RIGHT,
    DECORATION,
    DISPLAY,
    HEADERS,
    KEY_ROLE,
    RIGHT_ALIGNED,
    SORT_KEYS,
    TOOLTIP,
    Accepts,
    Col,
    DomainRow,
    Key,
)
from .format import bytes_text
from .problems import problem_text

# The row types are part of the table's interface: views import them from here.
__all__ = ["Col", "DomainRow", "DomainTableModel", "Key"]

#: The invisible root: a flat model's rows all hang off it.
_ROOT = QModelIndex()


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
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._visible)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
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
            return icons.state_icon(row.rec.state, bool(row.busy), row.rec.broken)
        if role == ALIGN:
            return ALIGN_RIGHT if index.column() in RIGHT_ALIGNED else None
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
            return translate("DomainTable", N_("{used} in use of {maximum} maximum",
                                               used=bytes_text(rec.memory_kib * 1024),
                                               maximum=bytes_text(rec.max_memory_kib * 1024)))
        if col == Col.CONNECTION:
            return row.uri
        if col == Col.STATE:  # all of it: "running (booted) — shutting down…" is cut in a column of usual width
            return translate("DomainTable", problem_text(rec)) if rec.problem else row.texts[Col.STATE]
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = DISPLAY) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == DISPLAY and 0 <= section < len(HEADERS):
            return translate("DomainTable", HEADERS[section])
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

    def name_of(self, key: Key) -> str:
        """The domain's name; its uuid when the row is gone (for status lines and dialog titles)."""
        row = self._rows.get(key)
        return row.rec.name if row is not None else key[1]

    def names(self, uri: str) -> set[str]:
        """Names of every domain of ``uri``, filtered out or not (a new name must differ from all)."""
        return {row.rec.name for key, row in self._rows.items() if key[0] == uri}

    def rows_of(self, uris: Collection[str]) -> list[DomainRow]:
        """Every row of those connections, shown or filtered out."""
        return [row for key, row in self._rows.items() if key[0] in uris]

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
        changed: list[DomainRow] = []
        structural = self._merge(uri, records, complete, removed, time.monotonic() if now is None else now, changed)
        self._show(structural, changed)

    def apply_many(self, batch: dict[str, list[DomainRecord]], now: float | None = None) -> None:
        """Merge the records of several connections with one sort and one layout change (hosts
        that answer together at start must not re-sort the whole table once each)."""
        now = time.monotonic() if now is None else now
        changed: list[DomainRow] = []
        structural = False
        for uri, records in batch.items():
            structural = self._merge(uri, records, False, (), now, changed) or structural
        self._show(structural, changed)

    def _show(self, structural: bool, changed: list[DomainRow]) -> None:
        """One layout change after a structural merge, else one dataChanged over the changed rows."""
        if structural:
            self._relayout()
        else:
            self._rows_changed(changed)

    def _merge(self, uri: str, records: Iterable[DomainRecord], complete: bool, removed: Iterable[str],
               now: float, changed: list[DomainRow]) -> bool:
        """Merge into the rows; True when the layout must be redone, else ``changed`` gets the rows."""
        structural = False
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
        return structural

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

    def set_pending(self, key: Key, text: str) -> None:
        row = self._rows.get(key)
        if row is not None and row.pending != text:
            row.set_pending(text)
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
