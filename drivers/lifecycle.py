"""Lifecycle rules shared by the stateful drivers (test and qemu)."""
from __future__ import annotations

from .errors import DriverError, ErrorCode, invalid_arg
from .flags import SaveFlags


def not_running(name: str) -> DriverError:
    return DriverError(ErrorCode.OPERATION_INVALID, f"domain '{name}' is not running")


def paused_after_restore(flags: int, paused_now: bool) -> bool:
    """Whether a saved guest comes back paused: SaveFlags RUNNING/PAUSED override its state."""
    if flags & SaveFlags.RUNNING and flags & SaveFlags.PAUSED:
        raise invalid_arg("RUNNING and PAUSED are mutually exclusive")
    if flags & SaveFlags.PAUSED:
        return True
    if flags & SaveFlags.RUNNING:
        return False
    return paused_now
