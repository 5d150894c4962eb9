"""Push-backup plans as plain data: which disks, which files, the libvirt XML, what is wrong.

No widgets and no driver calls, so the dialog and the tests share one set of rules.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from drivers.domxml import Disk


def default_checked(disk: Disk) -> bool:
    """Disks are backed up by default; cdroms, floppies and read-only disks are not."""
    return disk.device == "disk" and not disk.readonly


def target_path(folder: str, domain: str, target: str, stamp: str) -> str:
    return os.path.join(folder, f"{domain}-{target}-{stamp}.qcow2")


def folder_problem(folder: str, local: bool = True) -> str | None:
    """Why ``folder`` cannot receive backups, or None (on a remote host only the form is checked)."""
    if not folder.strip():
        return "Choose a target folder."
    if not os.path.isabs(folder):
        return f"The folder must be an absolute path: {folder}"
    if not local:
        return None  # the host itself refuses a bad folder when the job starts
    if not os.path.isdir(folder):
        return f"No such folder: {folder}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"The folder is not writable: {folder}"
    return None


@dataclass(frozen=True)
class BackupPlan:
    """One domain's backup: the chosen disk targets written as new qcow2 files."""

    domain: str
    folder: str
    stamp: str
    targets: tuple[str, ...]
    #: the domain's host is this machine (else the folder is on that host and not checked here)
    local: bool = True

    def paths(self) -> list[str]:
        return [target_path(self.folder, self.domain, t, self.stamp) for t in self.targets]

    def problem(self) -> str | None:
        if not self.targets:
            return f"Tick at least one disk of {self.domain}."
        why = folder_problem(self.folder, self.local)
        if why or not self.local:
            return why
        for path in self.paths():
            if os.path.lexists(path):
                return f"The target file already exists: {path}"
        return None

    def xml(self) -> str:
        entries = "".join(
            f"<disk name={quoteattr(t)} type='file'><target file={quoteattr(p)}/><driver type='qcow2'/></disk>"
            for t, p in zip(self.targets, self.paths()))
        return f"<domainbackup mode='push'><disks>{entries}</disks></domainbackup>"
