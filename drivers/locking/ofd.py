"""The locking primitive: non-blocking fcntl byte-range locks on lease files.

Open-file-description (OFD) locks are used where the kernel has them (Linux
3.15+): they belong to the open file, not the process, so closing some other
descriptor of the same file never drops them (the classic POSIX-lock trap) and
two leases opened in one process conflict with each other like any two
holders. Where OFD locks are missing, classic process-owned POSIX locks are
used; the lock code then keeps exactly one descriptor per lease file.

Every lock is a kernel lock: it vanishes when its holder exits, however it
exits, so no stale lease survives a crash or SIGKILL.

Byte layout of a lease file (content is empty; locks may lie past EOF):
byte 0 is the *write* lease, byte 1 the *read* lease.

* EXCLUSIVE: write locks on bytes 0 and 1 (excludes every other holder)
* SHARED:    read lock on byte 0   (coexists with SHARED and READONLY)
* READONLY:  read lock on byte 1   (coexists with SHARED and READONLY,
  excludes an EXCLUSIVE writer, which write-locks byte 1 too)
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import os

from drivers.locking.modes import LeaseMode

WRITE_BYTE = 0
READ_BYTE = 1

_F_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", None)
_F_OFD_GETLK = getattr(fcntl, "F_OFD_GETLK", None)
_use_ofd = _F_OFD_SETLK is not None


class _Flock(ctypes.Structure):
    """struct flock of Linux (LP64: off_t and the padding match the kernel's)."""

    _fields_ = [("l_type", ctypes.c_short), ("l_whence", ctypes.c_short),
                ("l_start", ctypes.c_int64), ("l_len", ctypes.c_int64),
                ("l_pid", ctypes.c_int)]


def uses_ofd() -> bool:
    """Whether OFD locks are in use (False: process-owned POSIX locks)."""
    return _use_ofd


def _fcntl(fd: int, ofd_cmd: int | None, posix_cmd: int, lock: _Flock) -> _Flock:
    global _use_ofd
    buf = bytes(lock)
    if _use_ofd and ofd_cmd is not None:
        try:
            return _Flock.from_buffer_copy(fcntl.fcntl(fd, ofd_cmd, buf))
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            _use_ofd = False  # kernel without OFD locks
    return _Flock.from_buffer_copy(fcntl.fcntl(fd, posix_cmd, buf))


#: Per-byte lock types of a lease file: (write byte, read byte).
Types = tuple[int, int]
UNLOCKED: Types = (fcntl.F_UNLCK, fcntl.F_UNLCK)


def wanted(modes: set[LeaseMode] | frozenset[LeaseMode]) -> Types:
    """Lock types one holder needs on a lease file to hold every mode in ``modes``."""
    if LeaseMode.EXCLUSIVE in modes:
        return fcntl.F_WRLCK, fcntl.F_WRLCK
    return (fcntl.F_RDLCK if LeaseMode.SHARED in modes else fcntl.F_UNLCK,
            fcntl.F_RDLCK if LeaseMode.READONLY in modes else fcntl.F_UNLCK)


def _set(fd: int, byte: int, kind: int) -> bool:
    try:
        _fcntl(fd, _F_OFD_SETLK, fcntl.F_SETLK, _Flock(kind, os.SEEK_SET, byte, 1, 0))
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def change(fd: int, old: Types, new: Types) -> bool:
    """Move the locks held through ``fd`` from ``old`` to ``new`` without waiting.

    Each byte is converted in place (the kernel converts atomically, so a
    downgrade never opens a window for others). All or nothing: if a byte is
    held elsewhere, bytes already changed go back to ``old`` and False is
    returned. Raises OSError for anything but a conflict (ENOLCK, EBADF...).
    """
    done: list[int] = []
    for byte in (WRITE_BYTE, READ_BYTE):
        if new[byte] == old[byte]:
            continue
        if not _set(fd, byte, new[byte]):
            for back in reversed(done):
                _set(fd, back, old[back])  # a downgrade or unlock: cannot conflict
            return False
        done.append(byte)
    return True


def try_lock(fd: int, mode: LeaseMode) -> bool:
    """Take ``mode`` on a lease file not yet locked through ``fd``: True if taken."""
    return change(fd, UNLOCKED, wanted({mode}))


def unlock(fd: int) -> None:
    """Drop every lease lock held through ``fd``."""
    _fcntl(fd, _F_OFD_SETLK, fcntl.F_SETLK, _Flock(fcntl.F_UNLCK, os.SEEK_SET, 0, 2, 0))


def probe(fd: int, start: int, length: int = 1) -> int:
    """Lock type that would block a write lock on the range: F_UNLCK, F_RDLCK or F_WRLCK.

    Locks held through ``fd`` itself (or, with POSIX locks, by this process) are
    not reported: probe from a descriptor that holds nothing.
    """
    got = _fcntl(fd, _F_OFD_GETLK, fcntl.F_GETLK, _Flock(fcntl.F_WRLCK, os.SEEK_SET, start, length, 0))
    return int(got.l_type)


def holder_mode(fd: int) -> LeaseMode | None:
    """The strongest mode currently held on a lease file by anyone, or None if free."""
    write = probe(fd, WRITE_BYTE)
    if write == fcntl.F_WRLCK:
        return LeaseMode.EXCLUSIVE
    if write == fcntl.F_RDLCK:
        return LeaseMode.SHARED
    if probe(fd, READ_BYTE) != fcntl.F_UNLCK:
        return LeaseMode.READONLY
    return None
