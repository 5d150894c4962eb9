"""One domain's snapshots for the snapshot tree dialog: load, create, revert, delete.

Every operation runs through :meth:`Session.run` (so the row shows as busy, an
operation becomes an ASYNC job in the job panel where the driver has jobs, and
failures land in the message area); the list is re-read when an operation's call
returns, when one of this domain's snapshot jobs ends (a revert changes no count,
so the count alone would miss it), and whenever the domain's snapshot count
changes (another client's work).
"""
from __future__ import annotations

import asyncio
import enum
import time
from typing import Any

from PySide6.QtCore import QObject, Signal

from drivers import JobInfo, JobOperation, JobState
from drivers.flags import SnapshotCreateFlags
from drivers.jobs import operation_text

from ..actions.requests import CreateSnapshot, DeleteSnapshot, DomainRequest, RevertSnapshot
from ..snapshots import SnapshotInfo, snapshot_xml
from ..textmark import N_, NP_, joined
from .domains import Key
from .messages import explain
from .session import Session

#: The jobs whose end changes the tree: create, revert (the current snapshot) and delete.
SNAPSHOT_JOBS = frozenset({JobOperation.SNAPSHOT, JobOperation.SNAPSHOT_REVERT, JobOperation.SNAPSHOT_DELETE})


def ended_text(info: JobInfo) -> str:
    """'Snapshot revert job 7 finished.', or how it failed or was cancelled."""
    what = operation_text(info.operation).capitalize()
    if info.state is JobState.COMPLETED:
        return N_("{what} job {id} finished.", what=what, id=info.id)
    why = info.error or N_("no reason given")
    if info.state is JobState.CANCELLED:
        return N_("{what} job {id} cancelled: {why}", what=what, id=info.id, why=why)
    return N_("{what} job {id} failed: {why}", what=what, id=info.id, why=why)


class SnapshotMode(enum.Enum):
    """How a running guest is snapshotted: it runs on (LIVE) or is shut off afterwards (OFFLINE, libvirt's HALT)."""

    LIVE = int(SnapshotCreateFlags.LIVE)
    OFFLINE = int(SnapshotCreateFlags.HALT)


class SnapshotTree(QObject):
    """``loaded`` carries the snapshots (oldest first); ``status`` a sentence (marked text, kept whole)."""

    loaded = Signal(list)
    status = Signal(object)

    def __init__(self, session: Session, key: Key, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.key, self.name = session, key, name
        self.snapshots: list[SnapshotInfo] = []
        self._closed = False
        self._count = self._snapshot_count()
        session.domains.dataChanged.connect(self._maybe_changed)
        self._opened = time.time()
        session.jobs.jobFinished.connect(self._job_finished)
        session.jobs.rowsInserted.connect(self._jobs_inserted)

    def _snapshot_count(self) -> int | None:
        row = self.session.domains.get(self.key)
        return row.rec.snapshot_count if row is not None else None

    def _maybe_changed(self, *_args: Any) -> None:
        count = self._snapshot_count()
        if count != self._count:
            self._count = count
            if not self._closed:
                self.status.emit(NP_("{name} now has %n snapshot.", "{name} now has %n snapshots.", count or 0,
                                     name=self.name))
            self.reload()

    # -- following this domain's snapshot jobs ----------------------------------------
    def _ours(self, uri: str, info: JobInfo) -> bool:
        """A snapshot job of this domain (by uuid where the driver names it, else by name)."""
        if uri != self.key[0] or info.operation not in SNAPSHOT_JOBS:
            return False
        return info.domain_uuid == self.key[1] if info.domain_uuid else info.domain == self.name

    def _job_finished(self, uri: str, info: JobInfo) -> None:
        if not self._closed and self._ours(uri, info):
            self.status.emit(ended_text(info))
            self.reload()

    def _jobs_inserted(self, _parent: Any, first: int, last: int) -> None:
        """A job whose start and end reached the job model in one batch arrives finished,
        without a jobFinished: follow it too (if it ended while this tree was open)."""
        for i in range(first, last + 1):
            row = self.session.jobs.row_at(i)
            info = row.info
            if info.finished and info.started + info.elapsed >= self._opened:
                self._job_finished(row.key[0], info)

    def _job_text(self, job_id: int) -> str:
        """What to say once the call returned a job id: it may have ended already."""
        pos = self.session.jobs.find((self.key[0], job_id))
        info = self.session.jobs.row_at(pos).info if pos is not None else None
        if info is not None and info.finished:
            return ended_text(info)
        return N_("Running as job {id} (see the job panel); the tree follows when it ends.", id=job_id)

    def reload(self) -> None:
        if not self._closed:
            self.session.spawn(self._load(), N_("Listing the snapshots of {name}", name=self.name))

    async def _load(self) -> None:
        try:
            snapshots = await self.session.bridge.list_snapshots(*self.key)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            if not self._closed:
                self.status.emit(joined(" ", explain(exc, N_("Listing the snapshots of {name}", name=self.name))[:2]))
            return
        if not self._closed:
            self.snapshots = snapshots
            self.loaded.emit(snapshots)

    def children_of(self, parent: str | None) -> list[SnapshotInfo]:
        """Direct children of ``parent`` (None: the roots, and orphans of a missing parent)."""
        names = {s.name for s in self.snapshots}
        return [s for s in self.snapshots if (s.parent if s.parent in names else None) == parent]

    def active(self) -> bool:
        row = self.session.domains.get(self.key)
        return row is not None and row.rec.active

    def create(self, name: str, description: str, mode: SnapshotMode = SnapshotMode.LIVE) -> None:
        flags = mode.value if self.active() else 0
        self._run(CreateSnapshot(snapshot_xml(name, description), flags), N_("Taking snapshot “{name}”…", name=name))

    def revert(self, snapshot: str) -> None:
        self._run(RevertSnapshot(snapshot), N_("Reverting to “{name}”…", name=snapshot))

    def delete(self, snapshot: str) -> None:
        self._run(DeleteSnapshot(snapshot), N_("Deleting “{name}”…", name=snapshot))

    def _run(self, request: DomainRequest, doing: str) -> None:
        self.status.emit(doing)
        for task in self.session.run(request, [self.key]):
            if task is not None:
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        if self._closed:
            return
        failed = task.cancelled() or task.exception() is not None
        job = None if failed else task.result()
        self.status.emit(N_("That failed: see the message above the table.") if failed
                         else self._job_text(job) if isinstance(job, int) and not isinstance(job, bool)
                         else N_("Done."))
        self.reload()

    def close(self) -> None:
        self._closed = True
        jobs = self.session.jobs
        for signal, slot in ((self.session.domains.dataChanged, self._maybe_changed),
                             (jobs.jobFinished, self._job_finished), (jobs.rowsInserted, self._jobs_inserted)):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
