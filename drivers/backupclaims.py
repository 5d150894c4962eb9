"""Backup folders in use by a job of this process: what one job reads, another never rewrites or removes.

A prune rewrites the children of the backups it removes (their images and
manifests) and deletes the rest; a verify records its outcome in the manifest it
read, a restore copies a chain, and an incremental backup builds on its parent.
Run at the same time on the same folders, a prune could delete the parent of a
backup being written, or a verify write back a manifest the prune had just
replaced, leaving a backup whose catalog entry names a parent that is gone. So
each of them claims the folders it depends on before its job starts (readers
together, a prune alone), and a job that would conflict is refused at once, saying
which job has them.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from .errors import DriverError, ErrorCode

T = TypeVar("T")


class Claim:
    """Folders held by one job until :meth:`release` (idempotent)."""

    def __init__(self, claims: BackupClaims, folders: frozenset[str]) -> None:
        self._claims, self.folders = claims, folders

    def release(self) -> None:
        self._claims._release(self)

    def around(self, worker: Callable[[T], object]) -> Callable[[T], object]:
        """``worker`` that releases the claim when it returns or fails."""
        def run(arg: T) -> object:
            try:
                return worker(arg)
            finally:
                self.release()
        return run


class BackupClaims:
    """The folders every running backup job of a host depends on.

    Jobs that only read a backup (verify, restore, an incremental on top of it) share it;
    a prune, which rewrites or removes, holds its folders alone.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # real path -> (claim, what holds it: "a verify of …", whether it holds the folder alone)
        self._held: dict[str, list[tuple[Claim, str, bool]]] = {}

    def claim(self, folders: Iterable[str], holder: str, *, alone: bool = False) -> Claim:
        """Hold ``folders`` for ``holder`` (a sentence naming the job), ``alone`` to change them;
        OPERATION_INVALID if another job holds one in a way that excludes this one."""
        wanted = frozenset(os.path.realpath(f) for f in folders)
        claim = Claim(self, wanted)
        with self._lock:
            for folder in sorted(wanted):
                blocking = [what for _c, what, excl in self._held.get(folder, []) if excl or alone]
                if blocking:
                    raise DriverError(ErrorCode.OPERATION_INVALID,
                                      f"the backup in {folder} is in use by {blocking[0]}; wait for it to "
                                      "finish or cancel it")
            for folder in wanted:
                self._held.setdefault(folder, []).append((claim, holder, alone))
        return claim

    def _release(self, claim: Claim) -> None:
        with self._lock:
            for folder in claim.folders:
                left = [entry for entry in self._held.get(folder, []) if entry[0] is not claim]
                if left:
                    self._held[folder] = left
                else:
                    self._held.pop(folder, None)
        claim.folders = frozenset()
