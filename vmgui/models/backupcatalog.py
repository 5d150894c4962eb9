"""The backups of one domain as rows the Backups dialog shows: plain data, no widgets, no file system."""
from __future__ import annotations

from dataclasses import dataclass

from drivers.backupcatalog import Backup

from .format import bytes_text


@dataclass(frozen=True)
class CatalogRow:
    """One backup as a person reads it: when, what kind, how big, whether and when it was verified."""

    backup: Backup
    time: str
    kind: str
    size: str
    verified: str

    @property
    def folder(self) -> str:
        return self.backup.folder


def verified_text(backup: Backup) -> str:
    ver = backup.verification
    if ver is None:
        return "Not verified"
    when = ver.at.replace("T", " ").replace("Z", " UTC")
    return f"OK ({when})" if ver.ok else f"Damaged ({when}): {'; '.join(ver.problems)}"


def catalog_rows(backups: list[Backup]) -> list[CatalogRow]:
    """Newest first: the backup a person most likely wants is on top."""
    ordered = sorted(backups, key=lambda b: (b.started, b.folder), reverse=True)
    return [CatalogRow(b, b.started.replace("T", " ").replace("Z", " UTC"), b.kind.capitalize(),
                       bytes_text(b.size), verified_text(b)) for b in ordered]


def restore_name_problem(name: str, taken: set[str]) -> str | None:
    """Why ``name`` cannot name the VM a backup is restored to, or None."""
    if not name.strip():
        return "Type a name for the new VM."
    if name in taken:
        return f"A domain named {name} already exists."
    return None
