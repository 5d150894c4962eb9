"""A guest's uptime: its running time since it booted, frozen while it is paused.

Drivers keep one :class:`GuestClock` per running domain, tell it when the guest
pauses, resumes and reboots, and copy its three figures into every
:class:`~drivers.records.DomainRecord` (``started_at``, ``paused_s``,
``paused_since``), from which :meth:`DomainRecord.uptime_s` gives the uptime at
any instant without asking the driver again.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


def uptime_s(booted_at: float, paused_s: float, paused_since: float | None, now: float) -> float:
    """Seconds the guest ran between ``booted_at`` and ``now`` (epoch seconds)."""
    end = now if paused_since is None else min(now, paused_since)
    return max(0.0, end - booted_at - paused_s)


@dataclass
class GuestClock:
    """When the guest booted (epoch seconds) and how long it was paused since then."""

    booted_at: float = field(default_factory=time.time)
    #: seconds paused since the boot, the pause going on now excepted
    paused_s: float = 0.0
    #: when the pause going on now began; None while the guest runs
    paused_since: float | None = None

    def pause(self, now: float | None = None) -> None:
        if self.paused_since is None:
            self.paused_since = time.time() if now is None else now

    def resume(self, now: float | None = None) -> None:
        if self.paused_since is not None:
            now = time.time() if now is None else now
            self.paused_s += max(0.0, now - self.paused_since)
            self.paused_since = None

    def reboot(self, now: float | None = None) -> None:
        """The guest booted again: its uptime restarts from 0 (still frozen if it is paused)."""
        now = time.time() if now is None else now
        self.booted_at, self.paused_s = now, 0.0
        if self.paused_since is not None:
            self.paused_since = now

    def uptime_s(self, now: float | None = None) -> float:
        return uptime_s(self.booted_at, self.paused_s, self.paused_since, time.time() if now is None else now)

    def to_state(self) -> dict[str, Any]:
        """The figures for a state file (``started`` is the boot time, as older files have it)."""
        return {"started": self.booted_at, "paused_s": self.paused_s, "paused_since": self.paused_since}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> GuestClock:
        since = data.get("paused_since")
        return cls(float(data.get("started") or time.time()), float(data.get("paused_s") or 0.0),
                   None if since is None else float(since))
