"""The lock manager (drivers.locking, issue 4) as the QEMU driver uses it.

Every VM runs under a supervisor holding its disk leases: writable disks
EXCLUSIVE, ``<shareable/>`` SHARED, ``<readonly/>`` and CD-ROMs READONLY.
Each root passes its own supervisor runtime directory and holder host name,
so two roots on one machine behave as two hosts sharing one lockspace.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DriverError, ErrorCode
from .cmdline import BlockNode


def _api() -> Any:
    try:
        import drivers.locking as locking
    except ImportError as exc:
        raise DriverError(ErrorCode.NO_SUPPORT, f"the lock manager (drivers.locking) is not available: {exc}") \
            from None
    return locking


def lockspace() -> Any:
    return _api().Lockspace()


def mode_of(disk: BlockNode) -> Any:
    modes = _api().LeaseMode
    if disk.readonly:
        return modes.READONLY
    if disk.shareable:
        return modes.SHARED
    return modes.EXCLUSIVE


def manager(uuid: str, name: str, disks: list[BlockNode], space: Any, host: str, runtime: Path) -> Any:
    mgr = _api().LockManager(uuid, name, space, host=host, runtime_dir=runtime)
    for disk in disks:
        mgr.add_resource(disk.path, mode_of(disk))
    return mgr


def attach(uuid: str, runtime: Path) -> Any:
    return _api().attach(uuid, runtime_dir=runtime)


def exit_status(uuid: str, runtime: Path) -> Any:
    from drivers.locking.runfiles import RunFiles
    return RunFiles(runtime, uuid).exit_status()
