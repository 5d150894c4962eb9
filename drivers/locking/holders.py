"""Who holds a resource: for error messages, tools and tests."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from drivers.errors import DriverError, ErrorCode
from drivers.locking import ofd
from drivers.locking.lockspace import Lockspace
from drivers.locking.modes import LeaseMode
from drivers.locking.paths import lease_keys


@dataclass(frozen=True)
class HolderInfo:
    """One holder of a lease, from its record."""

    name: str
    uuid: str
    host: str
    supervisor_pid: int
    vm_pid: int | None
    mode: LeaseMode
    path: str  # the path the holder acquired it under (may be an alias)


@dataclass(frozen=True)
class LeaseInfo:
    """State of one resource's lease: the strongest mode locked, and the holders known."""

    path: str
    name: str
    mode: LeaseMode | None
    holders: list[HolderInfo] = field(default_factory=list)

    @property
    def free(self) -> bool:
        return self.mode is None


def inspect(path: str | os.PathLike[str], lockspace: Lockspace | None = None) -> LeaseInfo:
    """Who holds ``path`` (any alias of it) in ``lockspace``; read-only, takes nothing.

    ``mode`` comes from the kernel locks, so it is exact even for holders that
    left no record (another host's tool); ``holders`` from the records of live
    holders. INVALID_ARG for a bad path, INTERNAL_ERROR on I/O failure.
    """
    ls = (lockspace or Lockspace()).ensure()
    real, keys = lease_keys(path)
    strongest: LeaseMode | None = None
    order = [LeaseMode.READONLY, LeaseMode.SHARED, LeaseMode.EXCLUSIVE]
    for key in keys:
        try:
            fd = os.open(ls.lease_file(key.name), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DriverError(ErrorCode.INTERNAL_ERROR, f"cannot open lease of {real}: {exc.strerror}") from None
        try:
            mode = ofd.holder_mode(fd)
        finally:
            os.close(fd)
        if mode is not None and (strongest is None or order.index(mode) > order.index(strongest)):
            strongest = mode
    holders = [HolderInfo(rec.name, rec.uuid, rec.host, rec.supervisor_pid, rec.vm_pid, LeaseMode(mode), p)
               for rec, mode, p in ls.holders_of({k.name for k in keys})]
    return LeaseInfo(real, keys[-1].name, strongest, holders)
