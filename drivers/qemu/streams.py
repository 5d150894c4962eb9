"""QEMU migration streams: outgoing (save, migration) and incoming (restore, migration).

Progress comes from ``query-migrate``: transferred/total bytes plus the
figures that say whether a live migration converges (remaining bytes,
dirty-page rate, expected downtime, pass number).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..errors import DriverError, ErrorCode
from ..jobs import Job
from .host import LiveVM

#: how often figures are refreshed while nothing happens; MIGRATION events wake pollers at once
POLL = 0.1
#: max-bandwidth when nothing limits it (QEMU's default is 128 MiB/s)
UNLIMITED = 1 << 40


class DirtyRate:
    """The guest's dirtying rate in bytes/s from successive ``query-migrate`` answers, once QEMU measured it.

    QEMU reports ``ram.dirty-pages-rate`` (pages/s) as 0 until a dirty-bitmap sync
    (the end of a pass) comes more than a second after its setup: only then has it
    measured a period. A sync shows as ``dirty-sync-count`` rising; if it rose after
    an answer already a second past the setup, the figure is real. Completed answers
    carry no rate, so the last one measured stays.
    """

    PERIOD_MS = 1000

    def __init__(self) -> None:
        self._measured = False
        self._syncs = 0
        self._elapsed_ms = 0

    def read(self, info: dict[str, Any]) -> float | None:
        ram = info.get("ram") or {}
        syncs = int(ram.get("dirty-sync-count") or 0)
        if syncs > self._syncs and self._syncs and self._elapsed_ms >= self.PERIOD_MS:
            self._measured = True
        self._syncs = max(self._syncs, syncs)
        self._elapsed_ms = int(info.get("total-time") or 0) - int(info.get("setup-time") or 0)
        if not self._measured or "dirty-pages-rate" not in ram:
            return None
        return float(ram["dirty-pages-rate"]) * float(ram.get("page-size") or 4096)


def _sleep(vm: LiveVM, timeout: float) -> None:
    vm.wakeup.wait(timeout)
    vm.wakeup.clear()


def prepare(vm: LiveVM, bandwidth_bytes: int | None = None) -> None:
    vm.execute("migrate-set-capabilities", {"capabilities": [{"capability": "events", "state": True}]})
    vm.execute("migrate-set-parameters", {"max-bandwidth": int(bandwidth_bytes or UNLIMITED)})


def run_outgoing(vm: LiveVM, uri: str, job: Job, what: str, bandwidth_bytes: int | None = None,
                 on_progress: Callable[[dict[str, Any]], None] | None = None, to_file: bool = False) -> dict[str, Any]:
    """Start ``migrate`` to ``uri`` and wait for it; raises on failure or cancel.

    The job's total is the guest's memory; ``to_file`` (a save) makes it the bytes written
    plus the memory still to go instead, so a finished save counts what its image holds
    (QEMU writes no zero page).
    """
    prepare(vm, bandwidth_bytes)
    cancelled = False

    def cancel() -> None:
        nonlocal cancelled
        cancelled = True
        try:
            vm.execute("migrate_cancel", timeout=5)
        except DriverError:
            pass

    # a guest paused during the copy (a save, a paused migration) writes nothing while its
    # memory moves: it has no dirty rate and no downtime to expect, whatever QEMU estimates
    running = bool(vm.execute("query-status").get("running"))
    vm.execute("migrate", {"uri": uri})
    job.on_cancel(cancel)
    rate = DirtyRate()
    while True:
        try:
            info: dict[str, Any] = vm.execute("query-migrate", timeout=10)
        except DriverError as exc:
            raise DriverError(ErrorCode.OPERATION_FAILED, f"{what}: lost QEMU: {exc.message}") from None
        status = info.get("status")
        ram = info.get("ram") or {}
        if ram:
            total = int(ram.get("total") or 0)
            sent = int(ram.get("transferred") or 0)
            remaining = int(ram.get("remaining") or 0)
            details = {"remaining_bytes": float(remaining), "iteration": float(ram.get("dirty-sync-count") or 0)}
            dirty = rate.read(info) if running else None
            if dirty is not None:
                details["dirty_rate"] = dirty
            if running and "expected-downtime" in info:
                details["expected_downtime_ms"] = float(info["expected-downtime"])
            job.progress(sent, sent + remaining if to_file else max(total, sent + remaining), **details)
        if on_progress is not None:
            on_progress(info)
        if status == "completed":
            return info
        if status in ("failed", "cancelled", "cancelling") or (cancelled and status not in ("active", "setup", "device",
                                                                                               "pre-switchover")):
            if cancelled or job.cancel_requested:
                if status == "cancelling":
                    _sleep(vm, 0.01)
                    continue
                job.raise_if_cancelled()
            raise DriverError(ErrorCode.OPERATION_FAILED,
                              f"{what} failed: {info.get('error-desc') or status}")
        _sleep(vm, POLL)


def wait_incoming(vm: LiveVM, what: str, timeout: float | None = None,
                  progress: Callable[[], None] | None = None, job: Job | None = None) -> None:
    """Wait until an incoming stream is fully loaded (the VM is then paused)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            info = vm.execute("query-migrate", timeout=10)
        except DriverError as exc:
            raise DriverError(ErrorCode.OPERATION_FAILED, f"{what}: QEMU ended while loading: {exc.message}") \
                from None
        status = info.get("status")
        if status == "completed":
            st = vm.execute("query-status")["status"]
            if st != "inmigrate":
                return
        elif status in ("failed", "cancelled"):
            raise DriverError(ErrorCode.OPERATION_FAILED, f"{what} failed: {info.get('error-desc') or status}")
        if progress is not None:
            progress()
        if job is not None:
            job.raise_if_cancelled()
        if deadline is not None and time.monotonic() > deadline:
            raise DriverError(ErrorCode.OPERATION_TIMEOUT, f"{what}: QEMU did not finish loading in time")
        _sleep(vm, POLL)
