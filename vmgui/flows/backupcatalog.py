"""The Backups dialog's steps: list a domain's catalogued backups, verify, restore, delete, open another folder.

The folders searched are the one backups were last written to plus any the
person opened (an external disk moved from another machine lists every
domain's backups found there). Verify, restore and delete run as jobs in the job
panel; when one this controller started ends, the list is read again so the
verified column and the domain list are current.
"""
from __future__ import annotations

from collections.abc import Awaitable

from PySide6.QtCore import QObject, Signal

from drivers import DriverError, JobInfo, JobState

from ..models.backupcatalog import CatalogRow, catalog_rows
from ..models.domains import Key
from ..models.session import Session
from ..textmark import N_


class CatalogController(QObject):
    """One domain's backups; emits ``rowsChanged`` with fresh rows and ``problem`` with a sentence."""

    rowsChanged = Signal(list)
    problem = Signal(str)

    def __init__(self, session: Session, key: Key, folders: list[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self.key = key
        self.domain = session.domains.name_of(key)
        self.folders = [f for f in folders if f]
        #: folders the person opened: every domain's backups there are listed
        self.opened: list[str] = []
        self.rows: list[CatalogRow] = []
        self._jobs: set[int] = set()
        session.jobs.jobFinished.connect(self._finished)

    def reload(self) -> None:
        self._session.spawn(self._reload(), N_("Reading the backups of {domain}", domain=self.domain))

    async def _reload(self) -> None:
        uri, uuid = self.key
        try:
            own = await self._session.list_backups(uri, self.folders, uuid) if self.folders else []
            other = await self._session.list_backups(uri, self.opened, None) if self.opened else []
        except DriverError as exc:
            self.problem.emit(exc.message)
            return
        seen = {b.folder for b in own}
        listed = own + [b for b in other if b.folder not in seen]
        try:
            problems = await self._session.restore_problems(uri, listed)
        except DriverError as exc:
            self.problem.emit(exc.message)
            return
        self.rows = catalog_rows(listed, problems)
        self.rowsChanged.emit(self.rows)

    def open_folder(self, folder: str) -> None:
        if folder and folder not in self.opened:
            self.opened.append(folder)
        self.reload()

    def verify(self, row: CatalogRow) -> None:
        self._session.spawn(self._job(self._session.verify_backup(self.key[0], row.folder)),
                            N_("Verifying the backup {id}", id=row.backup.id))

    def restore_new(self, row: CatalogRow, name: str) -> None:
        self._session.spawn(self._job(self._session.restore_backup(self.key[0], row.folder, name)),
                            N_("Restoring the backup {id} as {name}", id=row.backup.id, name=name))

    def restore_onto(self, row: CatalogRow) -> None:
        self._session.spawn(self._job(self._session.restore_backup_onto(self.key[0], row.folder, self.domain)),
                            N_("Restoring the backup {id} onto {domain}", id=row.backup.id, domain=self.domain))

    def delete(self, row: CatalogRow) -> None:
        """Remove the backup as a job; an incremental that depends on it gets its data first."""
        self._session.spawn(self._job(self._session.prune_backups(self.key[0], [row.folder])),
                            N_("Deleting the backup {id}", id=row.backup.id))

    async def _job(self, started: Awaitable[int]) -> None:
        try:
            job_id = await started
        except DriverError as exc:
            self.problem.emit(exc.message)
            return
        self._jobs.add(job_id)
        info = self._session.job_info(self.key[0], job_id)
        if info is None:  # not in the job panel yet: a job first seen ended announces no end of its own
            await self._session.refresh_job(self.key[0], job_id)
            info = self._session.job_info(self.key[0], job_id)
        if info is not None and info.finished:  # it ended before its id came back
            self._finished(self.key[0], info)

    def _finished(self, uri: str, info: JobInfo) -> None:
        if uri != self.key[0] or info.id not in self._jobs:
            return
        self._jobs.discard(info.id)
        if info.state is JobState.FAILED and info.error:
            self.problem.emit(info.error)
        self.reload()
