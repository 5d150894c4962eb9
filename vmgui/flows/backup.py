"""Backup from the chosen disks to the finished files: read the disks, start one job per plan, report.

Each plan starts a BACKUP job through the session; when a job this flow
started completes, the message area lists its files (with their sizes where
they are on this machine). A job may finish before its id comes back from
the driver: its end is kept for a moment and matched then.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from drivers import DriverError, Feature, JobInfo, JobOperation, JobState
from drivers.backupretention import Retention
from drivers.domxml import Disk, DomainXML

from ..actions.requests import Backup
from ..models.backup import BackupKind, BackupPlan, backup_kind, keeps_changes
from ..models.domains import Key
from ..models.format import bytes_text
from ..models.hosts import remote_host
from ..models.session import Session
from ..textmark import N_, joined

#: finished backups nobody here started, kept in case their id is one of ours still on its way
KEEP_FOREIGN = 64


@dataclass(frozen=True)
class BackupSources:
    """What the dialog offers: each domain's name and disks, which live on another host, and their keys."""

    domains: list[tuple[str, list[Disk]]]
    remote: dict[str, str]  # domain name -> the other host it lives on
    keys: dict[str, Key]  # domain name -> its key
    #: domain name -> whether its next backup can be incremental (and from which checkpoint)
    kinds: dict[str, BackupKind]


class BackupController(QObject):
    """Reads the disks to back up, runs the jobs and lists the finished files."""

    #: (uri, the job's final JobInfo or None when it could not start, BackupPlan) for each plan started here
    backupEnded = Signal(str, object, object)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._pending: dict[tuple[str, int], BackupPlan] = {}  # (uri, job id) -> its plan
        self._done: dict[tuple[str, int], JobInfo] = {}  # finished before the job id came back
        session.jobs.jobFinished.connect(self._finished)
        session.jobs.rowsInserted.connect(self._jobs_inserted)

    async def sources(self, targets: list[Key], folder: str = "", retention: Retention | None = None,
                      now: float = 0.0) -> BackupSources:
        """The disks of each domain, and whether its backup into ``folder`` can be incremental.

        ``retention``: the rule applied after the backup taken at ``now`` (see :func:`backup_kind`).
        """
        session = self._session
        xmls = await asyncio.gather(*(session.domain_xml(k) for k in targets))
        names = [session.domains.name_of(k) for k in targets]
        domains = [(name, DomainXML.parse(x).disks()) for name, x in zip(names, xmls, strict=True)]
        remote = {name: host for name, k in zip(names, targets, strict=True) if (host := remote_host(k[0]))}
        kinds = await asyncio.gather(*(self._kind(k, folder, not remote_host(k[0]), keeps_changes(disks),
                                                  retention, now)
                                       for k, (_n, disks) in zip(targets, domains, strict=True)))
        return BackupSources(domains, remote, dict(zip(names, targets, strict=True)),
                             dict(zip(names, kinds, strict=True)))

    async def _kind(self, key: Key, folder: str, local: bool, qcow2: bool, retention: Retention | None,
                    now: float) -> BackupKind:
        supported = self._session.supports(key[0], Feature.INCREMENTAL_BACKUP)
        if not supported or not local or not qcow2:
            return backup_kind(supported, local, [], set(), qcow2)
        try:
            backups = await self._session.list_backups(key[0], [folder], key[1]) if folder else []
            names = await self._session.checkpoint_names(key)
        except DriverError as exc:
            return BackupKind(True, reason=N_("Full: {why}", why=exc.message))
        return backup_kind(True, True, backups, names, retention=retention, now=now)

    def start(self, sources: BackupSources, plans: list[BackupPlan]) -> None:
        """One backup job per plan (each domain on its own)."""
        for plan in plans:
            key = sources.keys[plan.domain]
            self._session.spawn(self._start(key, plan), N_("Backing up {domain}", domain=plan.domain))

    async def _start(self, key: Key, plan: BackupPlan) -> None:
        if plan.local:
            try:
                await self._session.make_backup_folder(plan.directory)
            except OSError as exc:
                self._session.messages.add("error", N_("{domain} was not backed up", domain=plan.domain),
                                           N_("The folder {folder} could not be made: {why}.", folder=plan.directory,
                                              why=exc.strerror or exc))
                self.backupEnded.emit(key[0], None, plan)
                return
        task = self._session.run(Backup(xml=plan.xml(), shut_off=plan.shut_off,
                                        checkpoint_xml=plan.checkpoint_xml()), [key])[0]
        try:
            job_id = await task if task is not None else None
        except Exception:  # noqa: BLE001 - the session's task has said why; here only its folder goes
            job_id = None
        if not isinstance(job_id, int):  # refused before it began: no job will end it
            if plan.local:
                await self._session.remove_empty_folder(plan.directory)
            self.backupEnded.emit(key[0], None, plan)
            return
        self._pending[(key[0], job_id)] = plan
        info = self._done.pop((key[0], job_id), None)
        if info is not None:
            self._finished(key[0], info)

    def _jobs_inserted(self, _parent: Any, first: int, last: int) -> None:
        """A job whose start and end reached the job model in one batch (a small incremental backup)
        arrives finished, without a jobFinished: it ends here all the same."""
        for i in range(first, last + 1):
            row = self._session.jobs.row_at(i)
            if row.info.finished:
                self._finished(row.key[0], row.info)

    def _finished(self, uri: str, info: JobInfo) -> None:
        plan = self._pending.pop((uri, info.id), None)
        if plan is None:
            if info.operation is JobOperation.BACKUP:
                self._done[(uri, info.id)] = info
                while len(self._done) > KEEP_FOREIGN:  # someone else's backups: keep only a few
                    self._done.pop(next(iter(self._done)))
            return
        self.backupEnded.emit(uri, info, plan)
        if info.state is JobState.COMPLETED:
            self._session.spawn(self._report(uri, plan, info.note),
                                N_("Reporting the backup of {domain}", domain=plan.domain))
        elif plan.local:
            self._session.spawn(self._session.remove_empty_folder(plan.directory),
                                N_("Tidying up after the backup of {domain}", domain=plan.domain))

    async def _report(self, uri: str, plan: BackupPlan, note: str | None) -> None:
        """The files written; first why the backup is full when it could have been incremental ("full: <reason>")."""
        head = [note] if note else [plan.full_reason] if plan.full_reason else []
        if not plan.local:
            self._session.messages.add("info", N_("Backup of {domain} finished", domain=plan.domain),
                                       joined("\n", head + [N_("{path} on {host}", path=path, host=remote_host(uri))
                                                             for path in plan.paths()]))
            return
        sizes = await self._session.file_sizes(uri, plan.paths())
        lines: list[str] = [N_("{path} ({size})", path=path,
                               size=bytes_text(size) if size is not None else N_("not found on this machine"))
                            for path, size in sizes.items()]
        self._session.messages.add("info", N_("Backup of {domain} finished", domain=plan.domain),
                                   joined("\n", head + lines))
