"""Which backups of a VM a retention rule keeps: the newest N, those of the last D days, or both.

A backup is kept when either limit that is set keeps it, so "the last 7 and
everything of the last 30 days" never drops a recent backup because there
are many, nor the last few because they are old. A rule with neither limit
keeps everything. Only the choice is made here; :mod:`drivers.backupprune`
removes the rest (merging what a kept incremental still needs).
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .backupcatalog import Backup, epoch_of
from .errors import DriverError, ErrorCode
from .fsutil import write_atomically

DAY_S = 86400.0
#: the per-VM settings file the rule is stored in, beside the VM's backups
SETTINGS = "retention.json"


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

    def to_json(self) -> dict[str, Any]:
        return {"keep_last": self.keep_last, "keep_days": self.keep_days}

    @classmethod
    def from_json(cls, data: Any) -> Retention:
        """The rule in ``data``; INVALID_ARG naming what is wrong."""
        if not isinstance(data, dict):
            raise DriverError(ErrorCode.INVALID_ARG, "a retention rule must be a JSON object")
        try:
            rule = cls(keep_last=_limit(data.get("keep_last")), keep_days=_limit(data.get("keep_days")))
        except (TypeError, ValueError):
            raise DriverError(ErrorCode.INVALID_ARG, f"the retention rule {data!r} holds no whole numbers") from None
        why = rule.problem()
        if why:
            raise DriverError(ErrorCode.INVALID_ARG, why)
        return rule


def _limit(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(value)
    return int(value)


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


def settings_path(folder: str, domain: str) -> str:
    """Where the rule of ``domain`` lives: ``<backups folder>/<domain>.retention.json``."""
    return os.path.join(folder, f"{domain}.{SETTINGS}")


def load(folder: str, domain: str) -> Retention:
    """The stored rule of ``domain`` in ``folder`` (none stored: keep everything)."""
    path = settings_path(folder, domain)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return Retention()
    except (OSError, ValueError) as exc:
        raise DriverError(ErrorCode.INVALID_ARG, f"the retention rule in {path} cannot be read: {exc}") from None
    return Retention.from_json(data)


def save(folder: str, domain: str, rule: Retention) -> None:
    """Store the rule of ``domain`` beside its backups (atomic replace)."""
    why = rule.problem()
    if why:
        raise DriverError(ErrorCode.INVALID_ARG, why)
    write_atomically(settings_path(folder, domain), json.dumps(rule.to_json(), indent=1, sort_keys=True),
                     mode=0o644)
