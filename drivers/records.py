"""Immutable value objects that cross the driver boundary.

They are plain data: safe to hand to another thread (the GUI's worker pool)
and cheap to build in bulk (a listing of 10,000 domains builds 10,000 records).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

from .flags import DomainState, EventType, JobOperation, JobState, JobType, JobUnit, ListFlags, NostateReason
from .guestclock import uptime_s

_ACTIVE, _INACTIVE = int(ListFlags.ACTIVE), int(ListFlags.INACTIVE)
_PERSISTENT, _TRANSIENT = int(ListFlags.PERSISTENT), int(ListFlags.TRANSIENT)
_STATE_BITS = {int(DomainState.RUNNING): int(ListFlags.RUNNING), int(DomainState.PAUSED): int(ListFlags.PAUSED),
               int(DomainState.SHUTOFF): int(ListFlags.SHUTOFF)}
_OTHER = int(ListFlags.OTHER)
_MANAGEDSAVE, _NO_MANAGEDSAVE = int(ListFlags.MANAGEDSAVE), int(ListFlags.NO_MANAGEDSAVE)
_AUTOSTART, _NO_AUTOSTART = int(ListFlags.AUTOSTART), int(ListFlags.NO_AUTOSTART)
_HAS_SNAPSHOT, _NO_SNAPSHOT = int(ListFlags.HAS_SNAPSHOT), int(ListFlags.NO_SNAPSHOT)


def filter_bits(active: bool, persistent: bool, state: int, managed_save: bool,
                autostart: bool, has_snapshot: bool) -> int:
    """The ListFlags bits a domain satisfies: exactly one bit of every group.

    Filtering then only needs bit tests (see :mod:`drivers.listfilter`), which is
    what lets the GUI and every driver share one implementation of the rules.
    Plain ints, not enum operations: this runs for every domain on every change.
    """
    return ((_ACTIVE if active else _INACTIVE)
            | (_PERSISTENT if persistent else _TRANSIENT)
            | _STATE_BITS.get(state, _OTHER)
            | (_MANAGEDSAVE if managed_save else _NO_MANAGEDSAVE)
            | (_AUTOSTART if autostart else _NO_AUTOSTART)
            | (_HAS_SNAPSHOT if has_snapshot else _NO_SNAPSHOT))


class DomainRecord(NamedTuple):
    """One domain's facts at one instant, as returned by ``get_all_domain_stats``."""

    name: str
    uuid: str
    id: int | None
    state: DomainState
    reason: int
    persistent: bool
    autostart: bool
    managed_save: bool
    snapshot_count: int
    memory_kib: int
    max_memory_kib: int
    vcpus: int
    cpu_time_ns: int
    title: str = ""
    #: epoch seconds the guest last booted (a guest reboot restarts it); None while inactive or not known
    started_at: float | None = None
    #: host memory the guest really uses (QEMU: the process's RSS); None when not known
    memory_used_kib: int | None = None
    #: what is wrong with the domain's files, in a sentence ("domain.xml is truncated: …");
    #: empty when nothing is. A running domain can have one (its definition on disk is
    #: unreadable) and still be managed; see :attr:`broken` for the state that cannot.
    problem: str = ""
    #: seconds the guest was paused since it booted, the pause going on now excepted
    paused_s: float = 0.0
    #: epoch seconds the pause going on now began; None while the guest runs
    paused_since: float | None = None

    @property
    def active(self) -> bool:
        return self.id is not None

    def uptime_s(self, now: float | None = None) -> float | None:
        """The guest's running time since it booted at ``now`` (epoch seconds), frozen while
        paused; None while inactive or when the driver does not know when the guest booted."""
        if self.id is None or self.started_at is None:
            return None
        return uptime_s(self.started_at, self.paused_s, self.paused_since, time.time() if now is None else now)

    @property
    def broken(self) -> bool:
        """The driver cannot manage this domain until :attr:`problem` is dealt with.

        Its state is NOSTATE (reason BROKEN), which the filters count as OTHER. The
        ways out: force off a process that still runs (``id`` is set), define a
        corrected XML with its uuid, or undefine it.
        """
        return self.state == DomainState.NOSTATE and self.reason == NostateReason.BROKEN

    @property
    def bits(self) -> int:
        """ListFlags bits this record satisfies (one per group)."""
        return filter_bits(self.id is not None, self.persistent, self.state,
                           self.managed_save, self.autostart, self.snapshot_count > 0)


class DomainInfo(NamedTuple):
    state: DomainState
    max_memory_kib: int
    memory_kib: int
    vcpus: int
    cpu_time_ns: int


@dataclass(frozen=True, slots=True)
class JobInfo:
    """A snapshot of one job's progress; ``None`` means 'not known (yet)', never a guess.

    ``processed`` and ``total`` count ``unit``: bytes, or steps for an operation QEMU runs
    as a whole (its ``rate`` is then None). A finished job's ``rate`` is its average.
    """

    id: int
    domain: str
    operation: JobOperation
    type: JobType
    state: JobState
    started: float
    elapsed: float
    remaining: float | None
    processed: int
    total: int | None
    rate: float | None
    percent: float | None
    error: str | None = None
    #: Extra figures a driver can give (migration: 'remaining_bytes',
    #: 'dirty_rate', 'expected_downtime_ms', 'iteration', ...).
    details: tuple[tuple[str, float], ...] = ()
    domain_uuid: str = ""
    unit: JobUnit = JobUnit.BYTES
    #: sentences about how the job runs that are no figure, joined by "; ": a backup made full (why),
    #: whether it froze the guest's file systems for its point in time (None: nothing to say)
    note: str | None = None

    @property
    def in_bytes(self) -> bool:
        return self.unit is JobUnit.BYTES

    @property
    def finished(self) -> bool:
        return self.state is not JobState.RUNNING

    def detail(self, key: str, default: float | None = None) -> float | None:
        for k, v in self.details:
            if k == key:
                return v
        return default


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """What happened to a domain; ``job`` is set for JOB events."""

    type: EventType
    detail: int = 0
    timestamp: float = 0.0
    job: JobInfo | None = None
    domain_name: str = ""
    domain_uuid: str = ""
    message: str = ""

    @staticmethod
    def now(type: EventType, detail: int = 0, *, job: JobInfo | None = None,
            name: str = "", uuid: str = "", message: str = "") -> DomainEvent:
        return DomainEvent(type, int(detail), time.time(), job, name, uuid, message)
