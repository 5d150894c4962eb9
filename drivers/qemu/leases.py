"""The lock manager (drivers.locking) as the QEMU driver uses it.

Every VM runs under a supervisor holding its disk leases: writable disks
EXCLUSIVE, ``<shareable/>`` SHARED, ``<readonly/>``, CD-ROMs and the base images under overlays
READONLY.
Each root passes its own supervisor runtime directory and holder host name,
so two roots on one machine behave as two hosts sharing one lockspace.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DriverError, ErrorCode
from ..locking import ExitStatus, Launcher, LeaseMode, LockManager, Lockspace, Supervisor, exit_status_of
from ..locking import attach as attach_supervisor
from .cmdline import BlockNode

#: Starts a root's supervisors, forked from a pre-loaded fork server (see drivers.locking.launcher).
FastLauncher = Launcher


def lockspace() -> Lockspace:
    """The lockspace every root of this user shares (see drivers.locking.default_lockspace_dir)."""
    return Lockspace()


def mode_of(disk: BlockNode) -> LeaseMode:
    return LeaseMode.for_disk(readonly=disk.readonly, shareable=disk.shareable)


def manager(uuid: str, name: str, disks: list[BlockNode], space: Lockspace, host: str, runtime: Path,
            bases: list[str] | None = None) -> LockManager:
    """The leases a VM starts with: one per disk, and READONLY on each base image under an overlay
    (a linked clone's: no VM may write it while a clone reads it), held under ``host`` by
    supervisors in ``runtime``."""
    mgr = LockManager(uuid, name, space, host=host, runtime_dir=runtime)
    for disk in disks:
        mgr.add_resource(disk.path, mode_of(disk))
    for base in dict.fromkeys(bases or []):
        if all(base != disk.path for disk in disks):
            mgr.add_resource(base, LeaseMode.READONLY)
    return mgr


def attach(uuid: str, runtime: Path) -> Supervisor | None:
    return attach_supervisor(uuid, runtime_dir=runtime)


def hold(sup: Supervisor, name: str) -> None:
    """Have the supervisor hold every lease of the VM before its vCPUs run (nothing to do if it does).

    A supervisor lets its leases go at a migration's switch-over; if the
    process driving the migration dies there, the guest must not run again
    until they are back. RESOURCE_BUSY (naming the holder) when another VM
    took them meanwhile, e.g. the migration's destination: the guest stays
    paused.
    """
    try:
        sup.acquire_state("")
    except DriverError as exc:
        if exc.code is not ErrorCode.RESOURCE_BUSY:
            raise
        raise DriverError(ErrorCode.RESOURCE_BUSY, f"'{name}' stays paused without its disk leases: "
                                                   f"{exc.message}") from None


def exit_status(uuid: str, runtime: Path) -> ExitStatus | None:
    return exit_status_of(uuid, runtime_dir=runtime)
