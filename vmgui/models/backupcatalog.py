"""The backups of one domain as rows the Backups dialog shows: plain data, no widgets, no file system."""
from __future__ import annotations

from dataclasses import dataclass

from drivers.backupcatalog import Backup

from ..textmark import N_
from .format import bytes_text


@dataclass(frozen=True)
class CatalogRow:
    """One backup as a person reads it: when, what kind (and what it builds on), how big, whether verified.

    ``problem`` says why it cannot be restored (an incremental whose parent backup is gone), else None.
    """

    backup: Backup
    time: str
    kind: str
    size: str
    verified: str
    problem: str | None = None

    @property
    def folder(self) -> str:
        return self.backup.folder


def verified_text(backup: Backup) -> str:
    ver = backup.verification
    if ver is None:
        return N_("Not verified")
    when = ver.at.replace("T", " ").replace("Z", " UTC")
    return N_("OK ({when})", when=when) if ver.ok else N_("Damaged ({when}): {problems}", when=when,
                                                            problems="; ".join(ver.problems))


def kind_text(backup: Backup) -> str:
    """"Full", "Full: <why it was not incremental>" or "Incremental, after <parent id>"."""
    if backup.kind == "incremental":
        return N_("Incremental, after {parent}", parent=backup.parent)
    return N_("Full: {why}", why=backup.full_reason) if backup.full_reason else N_("Full")


def catalog_rows(backups: list[Backup], problems: dict[str, str] | None = None) -> list[CatalogRow]:
    """Newest first: the backup a person most likely wants is on top. ``problems``: by folder."""
    ordered = sorted(backups, key=lambda b: (b.started, b.folder), reverse=True)
    problems = problems or {}
    return [CatalogRow(b, b.started.replace("T", " ").replace("Z", " UTC"), kind_text(b),
                       bytes_text(b.size), verified_text(b), problems.get(b.folder)) for b in ordered]


def restore_name_problem(name: str, taken: set[str]) -> str | None:
    """Why ``name`` cannot name the VM a backup is restored to, or None."""
    if not name.strip():
        return N_("Type a name for the new VM.")
    if name in taken:
        return N_("A domain named {name} already exists.", name=name)
    return None
