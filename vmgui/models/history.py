"""Recent CPU and memory figures of the few domains whose details were shown.

Points are taken from the rows the table already keeps, after each merge of
fresh records: the CPU figure is the table's own (:meth:`DomainRow.refresh`
computes it from two samples), so a graph and the CPU column never disagree,
and no formula is repeated here. Only tracked keys are looked at (at most
:data:`MAX_TRACKED`, least recently shown dropped first), so a re-sync of
10,000 domains costs a handful of dict lookups more, not a pass over the rows.
"""
from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from .domainrow import DomainRow, Key

#: points kept per domain: about two minutes at the details pane's one-second sampling
MAX_POINTS = 120
#: domains with a history; showing another one forgets the least recently shown
MAX_TRACKED = 16


@dataclass(frozen=True, slots=True)
class Point:
    """One sample: ``t`` is the row's sample time (monotonic s); ``cpu`` None for the first of a run."""

    t: float
    cpu: float | None
    memory_kib: int


def memory_in_use_kib(row: DomainRow) -> int:
    """What the guest really uses when the driver knows it (QEMU: RSS), else its current memory."""
    return row.rec.memory_used_kib or row.rec.memory_kib


class _Series:
    __slots__ = ("run", "points")

    def __init__(self, max_points: int) -> None:
        self.run: int | None = None  # the domain id the points belong to: a restart starts afresh
        self.points: deque[Point] = deque(maxlen=max_points)


class History(QObject):
    """Ring buffers of :class:`Point` per tracked domain key."""

    #: key: new points (or a reset) for that domain
    changed = Signal(object)

    def __init__(self, parent: QObject | None = None, max_tracked: int = MAX_TRACKED,
                 max_points: int = MAX_POINTS) -> None:
        super().__init__(parent)
        self._series: OrderedDict[Key, _Series] = OrderedDict()
        self._max_tracked = max_tracked
        self._max_points = max_points

    def track(self, key: Key) -> None:
        """Keep a history for ``key`` from now on (it was just shown)."""
        if key in self._series:
            self._series.move_to_end(key)
            return
        self._series[key] = _Series(self._max_points)
        while len(self._series) > self._max_tracked:
            self._series.popitem(last=False)

    def tracked(self) -> list[Key]:
        return list(self._series)

    def points(self, key: Key) -> list[Point]:
        series = self._series.get(key)
        return list(series.points) if series is not None else []

    def forget_connection(self, uri: str) -> None:
        for key in [k for k in self._series if k[0] == uri]:
            del self._series[key]

    def note(self, row: DomainRow) -> bool:
        """Add ``row``'s latest figures if it is tracked and sampled anew; True when a point was added."""
        series = self._series.get(row.key)
        if series is None:
            return False
        if row.rec.id is None or row.sample is None:
            if series.points:
                series.points.clear()
                series.run = None
                self.changed.emit(row.key)
            return False
        if series.run != row.rec.id:
            series.points.clear()
            series.run = row.rec.id
        t = row.sample[0]
        if series.points and series.points[-1].t == t:
            return False  # no new CPU sample since (records closer than the row's minimum interval)
        series.points.append(Point(t, row.cpu, memory_in_use_kib(row)))
        self.changed.emit(row.key)
        return True

    def collect(self, lookup: Callable[[Key], DomainRow | None], uri: str | None = None) -> None:
        """After a merge: note every tracked key of ``uri`` (all connections when None)."""
        keys: Iterable[Key] = [k for k in self._series if uri is None or k[0] == uri]
        for key in keys:
            row = lookup(key)
            if row is not None:
                self.note(row)
