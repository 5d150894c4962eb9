"""Which backups of a VM a retention rule keeps: the newest N, those of the last D days, or both.

A backup is kept when either limit that is set keeps it, so "the last 7 and
everything of the last 30 days" never drops a recent backup because there
are many, nor the last few because they are old. A rule with neither limit
keeps everything. Only the choice is made here; :mod:`drivers.backupprune`
removes the rest (merging what a kept incremental still needs). The app keeps
each VM's rule with its backup schedule.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .backupcatalog import Backup, epoch_of

DAY_S = 86400.0


@dataclass(frozen=True)
class Retention:
    """Keep the newest ``keep_last`` backups and those taken in the last ``keep_days`` days (None: no limit)."""

    keep_last: int | None = None
    keep_days: int | None = None

    @property
    def limits(self) -> bool:
        """Whether the rule removes anything at all."""
        return self.keep_last is not None or self.keep_days is not None

    def problem(self) -> str | None:
        """Why this rule cannot be used (a count or a day limit below 1), or None."""
        if self.keep_last is not None and self.keep_last < 1:
            return "Keep at least the newest backup (a count of 1 or more)."
        if self.keep_days is not None and self.keep_days < 1:
            return "Keep backups of at least the last day (1 day or more)."
        return None

    def describe(self) -> str:
        parts = []
        if self.keep_last is not None:
            parts.append(f"the newest {self.keep_last}")
        if self.keep_days is not None:
            parts.append(f"those of the last {self.keep_days} day{'s' if self.keep_days != 1 else ''}")
        return "Keep " + " and ".join(parts) if parts else "Keep every backup"


def kept(backups: Sequence[Backup], rule: Retention, now: float) -> list[Backup]:
    """The backups ``rule`` keeps at ``now``, oldest first.

    A backup whose time cannot be read is kept and does not count towards the newest N.
    """
    timed = sorted(((when, b) for b in backups if (when := epoch_of(b.started)) is not None),
                   key=lambda wb: (wb[0], wb[1].folder), reverse=True)
    keep = {b.folder for b in backups if epoch_of(b.started) is None or not rule.limits}
    for rank, (when, backup) in enumerate(timed):
        if ((rule.keep_last is not None and rank < rule.keep_last)
                or (rule.keep_days is not None and now - when < rule.keep_days * DAY_S)):
            keep.add(backup.folder)
    return sorted((b for b in backups if b.folder in keep), key=lambda b: (b.started, b.folder))


def pruned(backups: Sequence[Backup], rule: Retention, now: float) -> list[Backup]:
    """The backups ``rule`` removes at ``now``, oldest first."""
    keep = {b.folder for b in kept(backups, rule, now)}
    return sorted((b for b in backups if b.folder not in keep), key=lambda b: (b.started, b.folder))
