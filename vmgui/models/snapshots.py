"""One domain's snapshots for the snapshot tree dialog: load, create, revert, delete.

Every operation runs through :meth:`Session.run` (so the row shows as busy, a
live snapshot becomes an ASYNC job in the job panel, and failures land in the
message area); the list is re-read when an operation ends and whenever the
domain's snapshot count changes (an ASYNC create finishing later).
"""
from __future__ import annotations

import asyncio
import enum
from typing import Any

from drivers.flags import SnapshotCreateFlags

from PySide6.QtCore import QObject, Signal

from ..snapshots import SnapshotInfo, snapshot_xml
from .domains import Key
from .messages import explain
from .session import Session


class SnapshotMode(enum.Enum):
    """How a running guest is snapshotted: it runs on (LIVE) or is shut off afterwards (OFFLINE, libvirt's HALT)."""

    LIVE = int(SnapshotCreateFlags.LIVE)
    OFFLINE = int(SnapshotCreateFlags.HALT)


class SnapshotTree(QObject):
    """``loaded`` carries the snapshots (oldest first); ``status`` a sentence."""

    loaded = Signal(list)
    status = Signal(str)

    def __init__(self, session: Session, key: Key, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.key, self.name = session, key, name
        self.snapshots: list[SnapshotInfo] = []
        self._closed = False
        self._count = self._snapshot_count()
        session.domains.dataChanged.connect(self._maybe_changed)

    def _snapshot_count(self) -> int | None:
        row = self.session.domains.get(self.key)
        return row.rec.snapshot_count if row is not None else None

    def _maybe_changed(self, *_args: Any) -> None:
        count = self._snapshot_count()
        if count != self._count:
            self._count = count
            if not self._closed:
                self.status.emit(f"{self.name} now has {count} snapshot(s).")
            self.reload()

    def reload(self) -> None:
        if not self._closed:
            self.session.spawn(self._load(), f"Listing the snapshots of {self.name}")

    async def _load(self) -> None:
        try:
            snapshots = await self.session.bridge.list_snapshots(*self.key)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            if not self._closed:
                self.status.emit(" ".join(explain(exc, f"Listing the snapshots of {self.name}")[:2]))
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
        self._run("create_snapshot", "Snapshotting", f"Taking snapshot “{name}”…",
                  xml=snapshot_xml(name, description), flags=flags)

    def revert(self, snapshot: str) -> None:
        self._run("revert_snapshot", "Reverting", f"Reverting to “{snapshot}”…", snapshot=snapshot)

    def delete(self, snapshot: str) -> None:
        self._run("delete_snapshot", "Deleting a snapshot of", f"Deleting “{snapshot}”…", snapshot=snapshot)

    def _run(self, action: str, verb: str, doing: str, **params: Any) -> None:
        self.status.emit(doing)
        for task in self.session.run(action, [self.key], verb, **params):
            if task is not None:
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        if self._closed:
            return
        failed = task.cancelled() or task.exception() is not None
        job = None if failed else task.result()
        self.status.emit("That failed: see the message above the table." if failed
                         else f"Running as job {job} (see the job panel); the tree follows when it ends."
                         if isinstance(job, int) and not isinstance(job, bool) else "Done.")
        self.reload()

    def close(self) -> None:
        self._closed = True
        try:
            self.session.domains.dataChanged.disconnect(self._maybe_changed)
        except (RuntimeError, TypeError):
            pass
