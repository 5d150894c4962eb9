"""Backup schedules as plain data: when a VM's next backup is due, and where schedules are kept.

A schedule runs daily or weekly (on one weekday) at a local wall-clock time.
Times are seconds since the epoch; the calendar work happens in local time
(``tz``; None: the machine's own zone, DST rules included), so a 02:30 backup
stays at 02:30 across a DST change: on the spring day without 02:30 it runs at
the same instant an hour later on the wall clock, and on the autumn day that
has 02:30 twice it runs once, at the first. A backup is due when the first run
time after the last run (or after the schedule was set) has passed: after the
app was closed for a week it is due once, not once per missed day. No Qt here,
and the clock is an argument, so all of it is testable without waiting.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from drivers.backupretention import Retention
from drivers.errors import DriverError, ErrorCode
from drivers.fsutil import write_atomically

from ..textmark import N_, NP_, Text

PERIODS = ("daily", "weekly")
WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"), N_("Sunday"))
#: What the Schedule dialog says of a retention rule the driver core refuses: a count or a day limit below 1.
_KEEP_PROBLEM = {"count": N_("Keep at least the newest backup (a count of 1 or more)."),
                 "days": N_("Keep backups of at least the last day (1 day or more).")}
#: file name of the schedules, beside vmgui's settings file
FILE = "backup-schedules.json"


@dataclass(frozen=True)
class Schedule:
    """When and where one VM is backed up, and which of its backups are kept afterwards."""

    period: str = "daily"
    hour: int = 2
    minute: int = 0
    weekday: int = 0  # Monday = 0, for a weekly schedule
    folder: str = ""
    keep_last: int | None = None
    keep_days: int | None = None
    #: when the last scheduled backup started (None: never); the next is due after this
    last_run: float | None = None
    #: when the schedule was set: the first run is due after this
    since: float = 0.0

    @property
    def retention(self) -> Retention:
        return Retention(self.keep_last, self.keep_days)

    def problem(self) -> str | None:
        """Why the schedule cannot be used, as a sentence a person can act on, or None."""
        if self.period not in PERIODS:
            return N_("Choose daily or weekly, not {period}.", period=self.period)
        if not (0 <= self.hour < 24 and 0 <= self.minute < 60):
            return N_("{time} is not a time of day.", time=f"{self.hour:02d}:{self.minute:02d}")
        if not 0 <= self.weekday < 7:
            return N_("Choose a day of the week.")
        if not self.folder.strip() or not os.path.isabs(self.folder):
            return N_("Choose the folder the backups go into (an absolute path).")
        if self.retention.problem() is None:
            return None
        # the driver core decides what is wrong; the dialog says it in words to translate
        return _KEEP_PROBLEM["count" if Retention(keep_last=self.keep_last).problem() else "days"]

    def describe(self) -> str:
        when = f"{self.hour:02d}:{self.minute:02d}"
        day = N_("Every day") if self.period == "daily" else N_("Every {weekday}", weekday=WEEKDAYS[self.weekday])
        what = _kept(self.retention)
        rule = N_("keep {what}", what=what) if what is not None else N_("keep every backup")
        return N_("{day} at {time} into {folder}; {rule}", day=day, time=when, folder=self.folder, rule=rule)


def _kept(rule: Retention) -> Text | None:
    """What ``rule`` keeps ("the newest 3 and those of the last 7 days") in words to translate, None when it
    keeps every backup (``Retention.describe()`` is the driver core's English, for logs and the command line)."""
    newest = None if rule.keep_last is None else NP_("the newest %n", "the newest %n", rule.keep_last)
    recent = None if rule.keep_days is None else NP_("those of the last %n day", "those of the last %n days",
                                                     rule.keep_days)
    if newest is not None and recent is not None:
        return N_("{newest} and {recent}", newest=newest, recent=recent)
    return newest or recent


def next_run(schedule: Schedule, after: float, tz: tzinfo | None = None) -> float:
    """The first time strictly after ``after`` the schedule runs, in seconds since the epoch."""
    start = datetime.fromtimestamp(after, tz).date()
    for offset in range(9):
        day = start + timedelta(days=offset)
        if schedule.period == "weekly" and day.weekday() != schedule.weekday:
            continue
        when = _at(day, schedule.hour, schedule.minute, tz)
        if when > after:
            return when
    raise AssertionError("a weekday recurs within 8 days")


def _at(day: date, hour: int, minute: int, tz: tzinfo | None) -> float:
    """The instant of the wall-clock time ``hour:minute`` on ``day`` (the first one, when the clock shows it twice).

    A time that the clock skips (a DST gap) maps to the instant it would have
    been before the change, which the clock then shows an hour later.
    """
    return datetime.combine(day, time(hour, minute, fold=0), tzinfo=tz).timestamp()


def due_at(schedule: Schedule, tz: tzinfo | None = None) -> float:
    """When the schedule's next backup is due: the first run after its last one (or after it was set)."""
    return next_run(schedule, schedule.since if schedule.last_run is None else schedule.last_run, tz)


def is_due(schedule: Schedule, now: float, tz: tzinfo | None = None) -> bool:
    return due_at(schedule, tz) <= now


def ran(schedule: Schedule, now: float) -> Schedule:
    """The schedule after a run started at ``now``: nothing more is due until the next run time after it."""
    return replace(schedule, last_run=now)


def _key(uri: str, uuid: str) -> str:
    return f"{uri} {uuid}"


class ScheduleStore:
    """Every VM's schedule in one JSON file (atomic writes), keyed by connection URI and domain uuid."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._schedules: dict[str, Schedule] = {}
        #: why the file could not be read (then it is never written over), or None
        self.unreadable: str | None = None
        self._load()

    @classmethod
    def opened(cls, path: str) -> ScheduleStore:
        """The store in ``path``; an unreadable file gives an empty store that says why and keeps the file."""
        try:
            return cls(path)
        except DriverError as exc:
            store = cls.__new__(cls)
            store.path, store._schedules, store.unreadable = path, {}, exc.message
            return store

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise DriverError(ErrorCode.INVALID_ARG, f"the backup schedules in {self.path} cannot be read: "
                              f"{exc}") from None
        if not isinstance(data, dict):
            raise DriverError(ErrorCode.INVALID_ARG, f"the backup schedules in {self.path} are not a JSON object")
        for key, raw in data.items():
            self._schedules[str(key)] = _schedule(self.path, raw)

    def get(self, uri: str, uuid: str) -> Schedule | None:
        return self._schedules.get(_key(uri, uuid))

    def items(self) -> Iterator[tuple[tuple[str, str], Schedule]]:
        for key, schedule in list(self._schedules.items()):
            uri, _, uuid = key.rpartition(" ")
            yield (uri, uuid), schedule

    def put(self, uri: str, uuid: str, schedule: Schedule | None) -> None:
        """Set (or, with None, remove) the schedule of one VM and write the file."""
        if self.unreadable:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"{self.unreadable}; fix or remove that file to change "
                              "backup schedules")
        if schedule is None:
            self._schedules.pop(_key(uri, uuid), None)
        else:
            why = schedule.problem()
            if why:
                raise DriverError(ErrorCode.INVALID_ARG, why)
            self._schedules[_key(uri, uuid)] = schedule
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        write_atomically(self.path, json.dumps({k: asdict(s) for k, s in self._schedules.items()}, indent=1,
                                               sort_keys=True))


def _schedule(path: str, raw: Any) -> Schedule:
    if not isinstance(raw, dict):
        raise DriverError(ErrorCode.INVALID_ARG, f"a backup schedule in {path} is not a JSON object")
    known = {k: raw[k] for k in Schedule.__dataclass_fields__ if k in raw}
    try:
        schedule = Schedule(**known)
        schedule = replace(schedule, hour=int(schedule.hour), minute=int(schedule.minute),
                           weekday=int(schedule.weekday), since=float(schedule.since),
                           keep_last=None if schedule.keep_last is None else int(schedule.keep_last),
                           keep_days=None if schedule.keep_days is None else int(schedule.keep_days),
                           last_run=None if schedule.last_run is None else float(schedule.last_run))
    except (TypeError, ValueError) as exc:
        raise DriverError(ErrorCode.INVALID_ARG, f"a backup schedule in {path} cannot be read: {exc}") from None
    why = schedule.problem()
    if why:
        raise DriverError(ErrorCode.INVALID_ARG, f"a backup schedule in {path} cannot be used: {why}")
    return schedule
