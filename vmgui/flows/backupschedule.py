"""Scheduled backups while the app runs: start each due one as a normal backup job, announce its end, prune.

Every ``interval_s`` seconds, and whenever a connection's domains are loaded
(so a run missed while the app was closed is caught up at the next start), each
stored schedule whose VM is known is checked against the clock. A due backup
is recorded as run *before* its job starts, so no restart or second check
starts it twice. It backs up the disks a person would tick in the Backup dialog
into a folder of its own (:class:`vmgui.flows.backup.BackupController`, so it
shows in the job panel like any backup), incremental on top of the last backup
where the dialog would offer that, and full (saying why) where not or where the
retention rule would otherwise remove the chain's full backup; when the job ends a desktop
notification says so, and a completed one on this machine is followed by
removing the backups the VM's retention rule no longer keeps (a BACKUP_PRUNE
job). A VM that is shut off at that time has its disks copied as they lie
(``BackupFlags.SHUT_OFF``).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, tzinfo

from PySide6.QtCore import QObject, QTimer, Signal

from drivers import DomainState, DriverError, JobInfo, JobState
from drivers.backupretention import pruned

from ..models.backup import BackupPlan, default_checked
from ..models.backupschedule import Schedule, ScheduleStore, is_due, ran
from ..models.domains import Key
from ..models.session import Session
from ..notifications import Notice
from ..textmark import N_
from .backup import BackupController

log = logging.getLogger(__name__)

#: how often the schedules are looked at while the app runs
CHECK_INTERVAL_S = 30.0


class BackupScheduler(QObject):
    """Runs the stored schedules; ``started`` (uri, domain) as each scheduled backup is begun."""

    started = Signal(str, str)

    def __init__(self, session: Session, store: ScheduleStore, announce: Callable[[Notice], None],
                 clock: Callable[[], float] = time.time, tz: tzinfo | None = None,
                 interval_s: float = CHECK_INTERVAL_S, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self.store = store
        self._announce = announce
        self._clock = clock
        self._tz = tz
        self._running: set[Key] = set()
        self._backups = BackupController(session, self)
        self._backups.backupEnded.connect(self._ended)
        self._timer = QTimer(self)
        self._timer.setInterval(int(interval_s * 1000))
        self._timer.timeout.connect(self.check)
        session.loaded.connect(lambda _uri: self.check())

    def start(self) -> None:
        self._timer.start()
        self.check()

    def set_schedule(self, key: Key, schedule: Schedule | None) -> None:
        """Store (or remove) a VM's schedule; a new one counts its first run from now. DriverError if bad."""
        if schedule is not None and schedule.since == 0.0:
            schedule = replace(schedule, since=self._clock())
        self.store.put(key[0], key[1], schedule)

    def check(self) -> None:
        """Start every due backup of a VM this session knows (a VM already being backed up waits)."""
        now = self._clock()
        for key, schedule in self.store.items():
            if key in self._running or self._session.domains.get(key) is None:
                continue
            if not is_due(schedule, now, self._tz):
                continue
            try:
                self.store.put(key[0], key[1], ran(schedule, now))
            except (DriverError, OSError) as exc:  # not recorded: better not run than run again and again
                log.warning("the schedule of %s could not be updated: %s", key, exc)
                continue
            self._running.add(key)
            doing = N_("Starting the scheduled backup of {domain}", domain=self._session.domains.name_of(key))
            self._session.spawn(self._start(key, schedule, now), doing)

    async def _start(self, key: Key, schedule: Schedule, now: float) -> None:
        try:
            sources = await self._backups.sources([key], schedule.folder, schedule.retention, now)
        except BaseException:
            self._running.discard(key)
            raise
        [(name, disks)] = sources.domains
        targets = tuple(d.target for d in disks if default_checked(d))
        stamp = datetime.fromtimestamp(now, self._tz).strftime("%Y%m%d-%H%M%S")
        row = self._session.domains.get(key)
        shut_off = row is not None and row.rec.state == DomainState.SHUTOFF
        # incremental on top of the last backup where the Backup dialog would offer it (a shut-off VM
        # gets a full copy and no checkpoint; its driver says why in the job's note)
        kind = sources.kinds[name]
        plan = BackupPlan(name, schedule.folder, stamp, targets, local=name not in sources.remote, shut_off=shut_off,
                          since=kind.since, checkpoint=kind.checkpoints and not shut_off,
                          full_reason=kind.reason if kind.checkpoints else "")
        if not targets:
            self._running.discard(key)
            self._notify(Notice(N_("Scheduled backup not taken"), N_("{domain} has no disk to back up.", domain=name),
                                urgency=2))
            return
        self._backups.start(sources, [plan])
        self.started.emit(key[0], name)

    def _ended(self, uri: str, info: JobInfo | None, plan: BackupPlan) -> None:
        key = next((k for k in self._running if k[0] == uri and self._session.domains.name_of(k) == plan.domain),
                   None)
        if key is None:
            return  # a backup someone started from the Backup dialog
        self._running.discard(key)
        if info is None:
            self._notify(Notice(N_("Scheduled backup failed"),
                                N_("The scheduled backup of {domain} could not start; the message area says why.",
                                   domain=plan.domain), urgency=2))
            return
        if info.state is JobState.COMPLETED:
            self._notify(Notice(N_("Scheduled backup finished"),
                                N_("The scheduled backup of {domain} finished: {folder}.", domain=plan.domain,
                                   folder=plan.directory)))
            schedule = self.store.get(*key)
            if schedule is not None and schedule.retention.limits and plan.local:  # another host's folder is not ours
                self._session.spawn(self._prune(key, schedule),
                                    N_("Removing old backups of {domain}", domain=plan.domain))
        elif info.state is JobState.CANCELLED:
            self._notify(Notice(N_("Scheduled backup cancelled"),
                                N_("The scheduled backup of {domain} was cancelled.", domain=plan.domain), urgency=2))
        else:
            body = (N_("The scheduled backup of {domain} failed: {why}.", domain=plan.domain, why=info.error)
                    if info.error and info.state is JobState.FAILED
                    else N_("The scheduled backup of {domain} failed.", domain=plan.domain))
            self._notify(Notice(N_("Scheduled backup failed"), body, urgency=2))

    async def _prune(self, key: Key, schedule: Schedule) -> None:
        backups = await self._session.list_backups(key[0], [schedule.folder], key[1])
        doomed = pruned(backups, schedule.retention, self._clock())
        if doomed:
            await self._session.prune_backups(key[0], [b.folder for b in doomed])

    def _notify(self, notice: Notice) -> None:
        self._announce(notice)
