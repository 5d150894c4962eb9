"""One domain as the table shows it: its texts, CPU usage, filter bits, sort keys.

Everything the view asks for is computed at most once per record here, so the model's
``data()`` is a tuple lookup and a re-filter is a pass over integers. The texts are made
when first asked for: a host's first listing merges hundreds of rows in one loop turn,
and only the few on screen are ever painted before the next record replaces them.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt

from drivers import DomainRecord, DomainState
from drivers.records import filter_bits

from ..i18n import translate
from ..textmark import N_
from .format import DASH, bytes_text
from .problems import with_attention
from .statewords import state_words

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


#: The column titles (marked for translation: the table model translates them for the header).
HEADERS = (N_("Name"), N_("State"), N_("vCPUs"), N_("Memory"), N_("CPU"), N_("Persistent"), N_("Autostart"),
           N_("Snapshots"), N_("Saved state"), N_("Connection"))
RIGHT_ALIGNED = frozenset({Col.VCPUS, Col.MEMORY, Col.CPU, Col.SNAPSHOTS})
_STATE_ORDER = {DomainState.RUNNING: 0, DomainState.BLOCKED: 1, DomainState.PAUSED: 2,
                DomainState.PMSUSPENDED: 3, DomainState.SHUTDOWN: 4, DomainState.CRASHED: 5,
                DomainState.SHUTOFF: 6, DomainState.NOSTATE: 7}

DISPLAY = Qt.ItemDataRole.DisplayRole.value
DECORATION = Qt.ItemDataRole.DecorationRole.value
TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
ALIGN = Qt.ItemDataRole.TextAlignmentRole.value
KEY_ROLE = Qt.ItemDataRole.UserRole.value + 1
ALIGN_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
#: The translation context of the cells' texts.
CONTEXT = "DomainTable"
YES, TRANSIENT, SAVED = N_("yes"), N_("transient"), N_("saved")


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
    """The state and its reason in English, marked for translation (the cell translates it)."""
    key = (int(state), int(reason))
    text = _STATE_TEXT.get(key)
    if text is None:
        text = _STATE_TEXT[key] = state_words(state, reason)
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
    pending: str = ""  # a request the guest has not carried out yet ("shutting down…")
    _texts: tuple[str, ...] | None = None  # made on first use, dropped when anything shown changes
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
        self._texts = None

    @property
    def texts(self) -> tuple[str, ...]:
        """The cells' texts, one per :class:`Col`."""
        texts = self._texts
        if texts is None:
            texts = self._texts = self._format()
        return texts

    def _format(self) -> tuple[str, ...]:
        """The cells in the installed translation (the English where none is)."""
        rec = self.rec
        state = with_attention(state_text(rec.state, rec.reason), rec)
        if self.busy:
            state = N_("{state} — {doing}…", state=state, doing=self.busy)
        elif self.pending:
            state = N_("{state} — {doing}", state=state, doing=self.pending)
        cpu = DASH if self.cpu is None else f"{self.cpu:.0f} %"
        unknown = rec.broken and not rec.vcpus  # no definition to read the figures from
        return (
            rec.name, translate(CONTEXT, state), DASH if unknown else _shared(rec.vcpus, str),
            DASH if unknown else translate(CONTEXT, _shared(rec.memory_kib * 1024, bytes_text)), cpu,
            translate(CONTEXT, YES if rec.persistent else TRANSIENT),
            translate(CONTEXT, YES) if rec.autostart else DASH,
            _shared(rec.snapshot_count, str) if rec.snapshot_count else DASH,
            translate(CONTEXT, SAVED) if rec.managed_save else DASH, self.label,
        )

    def set_busy(self, text: str) -> None:
        self.busy = text
        self._texts = None

    def set_pending(self, text: str) -> None:
        self.pending = text
        self._texts = None

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
