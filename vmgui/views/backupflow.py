"""Backup from the dialog to the message area: open the dialog, start jobs, report the files."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from drivers import JobInfo, JobOperation, JobState
from drivers.domxml import DomainXML

from ..actions.requests import Backup
from ..models.backup import BackupPlan
from ..models.domains import Key
from ..models.format import bytes_text
from ..models.hosts import remote_host
from ..models.session import Session
from .dialogs.backup import BackupDialog
from .pathcheck import serve


class BackupFlow:
    """Reads the disks, shows :class:`BackupDialog`, runs the jobs and lists the finished files."""

    def __init__(self, session: Session, show: Callable[[Any, Callable[[], None]], None], parent: Any) -> None:
        self._session = session
        self._show = show
        self._parent = parent
        self.folder = ""
        self._pending: dict[tuple[str, int], BackupPlan] = {}  # (uri, job id) -> its plan
        self._done: dict[tuple[str, int], JobInfo] = {}  # finished before the job id came back
        session.jobs.jobFinished.connect(self._finished)

    def ask(self, targets: list[Key]) -> None:
        self._session.spawn(self._ask(targets), "Reading the disks to back up")

    async def _ask(self, targets: list[Key]) -> None:
        xmls = await asyncio.gather(*(self._session.domain_xml(k) for k in targets))
        domains = [(self._session.domains.name_of(k), DomainXML.parse(x).disks()) for k, x in zip(targets, xmls, strict=False)]
        remote = {name: host for (name, _), k in zip(domains, targets, strict=False) if (host := remote_host(k[0]))}
        dialog = BackupDialog(domains, self.folder, self._parent, remote)
        serve(self._session, dialog.checker)
        by_name = {name: k for (name, _), k in zip(domains, targets, strict=False)}

        def start() -> None:
            self.folder = dialog.folder.text().strip()
            for plan in dialog.plans():
                key = by_name[plan.domain]
                self._session.spawn(self._start(key, plan), f"Backing up {plan.domain}")
        self._show(dialog, start)

    async def _start(self, key: Key, plan: BackupPlan) -> None:
        task = self._session.run(Backup(xml=plan.xml()), [key])[0]
        if task is None:
            return
        job_id = await task
        if isinstance(job_id, int):
            self._pending[(key[0], job_id)] = plan
            info = self._done.pop((key[0], job_id), None)
            if info is not None:
                self._finished(key[0], info)

    def _finished(self, uri: str, info: JobInfo) -> None:
        plan = self._pending.pop((uri, info.id), None)
        if plan is None:
            if info.operation is JobOperation.BACKUP:
                self._done[(uri, info.id)] = info
                while len(self._done) > 64:  # someone else's backups: keep only a few
                    self._done.pop(next(iter(self._done)))
            return
        if info.state is JobState.COMPLETED:
            self._session.spawn(self._report(uri, plan), f"Reporting the backup of {plan.domain}")

    async def _report(self, uri: str, plan: BackupPlan) -> None:
        if not plan.local:
            self._session.messages.add("info", f"Backup of {plan.domain} finished",
                                       "\n".join(f"{path} on {remote_host(uri)}" for path in plan.paths()))
            return
        sizes = await self._session.bridge.file_sizes(uri, plan.paths())
        lines = [f"{path} ({bytes_text(size) if size is not None else 'not found on this machine'})"
                 for path, size in sizes.items()]
        self._session.messages.add("info", f"Backup of {plan.domain} finished", "\n".join(lines))
