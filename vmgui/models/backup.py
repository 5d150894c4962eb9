"""Push-backup plans as plain data: which disks, which files, the libvirt XML, what is wrong.

No widgets, no driver calls and no file system, so the dialog and the tests share one set of
rules: the folder and target checks read :class:`PathFacts` a worker gathered for
:meth:`BackupPlan.local_paths` (a hung mount must never freeze the dialog).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from xml.sax.saxutils import escape, quoteattr

from drivers.backupcatalog import Backup, backup_folder, iso_time
from drivers.backupretention import Retention, kept
from drivers.domxml import Disk
from drivers.snapxml import backup_file

from ..textmark import N_
from .pathprobe import PathFacts, unsettled


def default_checked(disk: Disk) -> bool:
    """Disks are backed up by default; cdroms, floppies and read-only disks are not."""
    return disk.device == "disk" and not disk.readonly


def folder_form_problem(folder: str) -> str | None:
    """Why ``folder`` is not even a folder name backups can use (no file system look), or None."""
    if not folder.strip():
        return N_("Choose a target folder.")
    if not os.path.isabs(folder):
        return N_("The folder must be an absolute path: {folder}", folder=folder)
    return None


def folder_problem(folder: str, facts: Mapping[str, PathFacts], local: bool = True) -> str | None:
    """Why ``folder`` cannot receive backups, or None (on a remote host only the form is checked)."""
    why = folder_form_problem(folder)
    if why or not local:
        return why  # the remote host itself refuses a bad folder when the job starts
    why = unsettled(facts, folder, N_("The folder"))
    if why:
        return why
    if not facts[folder].is_dir:
        return N_("No such folder: {folder}", folder=folder)
    if not facts[folder].writable:
        return N_("The folder is not writable: {folder}", folder=folder)
    return None


INCREMENTAL_TEXT = N_("Incremental (changes since the last backup)")


@dataclass(frozen=True)
class BackupKind:
    """What a domain's next backup can be: incremental since ``since``, or full for ``reason``.

    ``checkpoints``: its host keeps checkpoints, so each backup creates one for the next to start from.
    """

    checkpoints: bool
    since: str | None = None
    reason: str = ""


def keeps_changes(disks: list[Disk]) -> bool:
    """Whether a checkpoint can track the domain: it has a writable qcow2 disk (the record lives in the image)."""
    return any(d.device == "disk" and not d.readonly and d.format == "qcow2" for d in disks)


def backup_kind(supported: bool, local: bool, backups: list[Backup], checkpoints: set[str],
                qcow2: bool = True, retention: Retention | None = None, now: float = 0.0) -> BackupKind:
    """Incremental when the host can, an earlier catalogued backup has a checkpoint and the domain still has it.

    ``backups`` are the domain's catalogued backups, oldest first; ``qcow2``: see :func:`keeps_changes`.
    ``retention`` (a schedule's rule, applied after the backup taken at ``now``): full once that rule
    would remove the chain's full backup, so a chain ends before its base goes and is never rebuilt
    by merging the base into the next backup, run after run.
    """
    if not supported:
        return BackupKind(False, reason=N_("Full: this host cannot take incremental backups."))
    if not qcow2:
        return BackupKind(False, reason=N_("Full: only qcow2 disks keep a record of their changes."))
    if not local:
        return BackupKind(True, reason=N_("Full: the backups of a domain on another host are not catalogued here."))
    last = next((b for b in reversed(backups) if b.checkpoint), None)
    if last is None:
        return BackupKind(True, reason=N_("Full: there is no earlier backup to build on."))
    if last.checkpoint not in checkpoints:
        return BackupKind(True, reason=N_("Full: the checkpoint of the last backup ({id}) is gone.", id=last.id))
    if retention is not None and retention.limits:
        base = chain_base(last, backups)
        after = [*backups, replace(last, folder=f"{last.folder}.next", id="", started=iso_time(now))]
        if base.folder not in {b.folder for b in kept(after, retention, now)}:
            return BackupKind(True, reason=N_("Full: the rule to {rule} would remove {id}, the full backup the "
                                              "incremental ones build on; a new chain starts.",
                                              rule=retention.describe().lower(), id=base.id))
    return BackupKind(True, since=last.checkpoint)


def chain_base(backup: Backup, backups: list[Backup]) -> Backup:
    """The full backup at the start of ``backup``'s chain, by the parents found in ``backups``.

    Where a parent is not among them, the oldest one found (the driver says why the chain is broken).
    """
    by_id = {b.id: b for b in backups}
    seen = {backup.id}
    while backup.parent is not None and backup.parent in by_id and backup.parent not in seen:
        backup = by_id[backup.parent]
        seen.add(backup.id)
    return backup


@dataclass(frozen=True)
class BackupPlan:
    """One domain's backup: the chosen disk targets written as new qcow2 files.

    On this machine a backup gets a folder of its own (``<folder>/<domain>-<stamp>/<disk>.qcow2``),
    which the driver records in a manifest: the backup is then in the catalog (Domain ▸ Backups),
    can be verified and restored. On another host the files go straight into ``folder`` (the
    folder is that host's, and vmgui cannot make it there).
    """

    domain: str
    folder: str
    stamp: str
    targets: tuple[str, ...]
    #: the domain's host is this machine (else the folder is on that host and not checked here)
    local: bool = True
    #: the domain is shut off: its disks are copied as they lie (a scheduled backup; the dialog backs up running ones)
    shut_off: bool = False
    #: the checkpoint whose changes since are copied (an incremental backup); None: every block
    since: str | None = None
    #: create a checkpoint at the backup's point in time, for the next backup to start from
    checkpoint: bool = False
    #: why a backup that could have been incremental is full (said with the finished files)
    full_reason: str = ""

    @property
    def directory(self) -> str:
        """The folder the images go into: one of its own on this machine."""
        return backup_folder(self.folder, self.domain, self.stamp) if self.local else self.folder

    def paths(self) -> list[str]:
        if self.local:
            return [os.path.join(self.directory, f"{t}.qcow2") for t in self.targets]
        return [backup_file(self.folder, self.domain, t, self.stamp) for t in self.targets]

    def local_paths(self) -> list[str]:
        """Every path whose facts :meth:`problem` reads: what a worker must look at (none on another host)."""
        if not self.local or folder_form_problem(self.folder):
            return []
        return [self.folder, self.directory, *self.paths()]

    def problem(self, facts: Mapping[str, PathFacts]) -> str | None:
        """The first reason this backup cannot start, by ``facts`` about :meth:`local_paths`; None if none."""
        if not self.targets:
            return N_("Tick at least one disk of {domain}.", domain=self.domain)
        why = folder_problem(self.folder, facts, self.local)
        if why or not self.local:
            return why
        why = unsettled(facts, self.directory, N_("The backup's folder"))
        if why:
            return why
        if facts[self.directory].lexists:
            return N_("A backup of {domain} taken at this second is already there: {folder}", domain=self.domain,
                      folder=self.directory)
        for path in self.paths():
            why = unsettled(facts, path, N_("The target file"))
            if why:
                return why
            if facts[path].lexists:
                return N_("The target file already exists: {path}", path=path)
        return None

    def xml(self) -> str:
        entries = "".join(
            f"<disk name={quoteattr(t)} type='file'><target file={quoteattr(p)}/><driver type='qcow2'/></disk>"
            for t, p in zip(self.targets, self.paths(), strict=False))
        since = f"<incremental>{escape(self.since)}</incremental>" if self.since else ""
        return f"<domainbackup mode='push'>{since}<disks>{entries}</disks></domainbackup>"

    def checkpoint_xml(self) -> str | None:
        """The checkpoint this backup creates (named after its stamp), or None."""
        if not self.checkpoint:
            return None
        return f"<domaincheckpoint><name>backup-{escape(self.stamp)}</name></domaincheckpoint>"
