"""Lease modes and resource kinds, with libvirt's flag values.

Kept apart from the lock code so the QEMU driver can map a disk's
``<readonly/>``/``<shareable/>`` to a mode without importing fcntl machinery.
"""
from __future__ import annotations

import enum

from drivers.errors import DriverError, ErrorCode, check_flags

#: libvirt's virLockManagerResourceFlags: READONLY 1<<0, SHARED 1<<1, none = exclusive.
FLAG_READONLY = 1 << 0
FLAG_SHARED = 1 << 1
_ALL_FLAGS = FLAG_READONLY | FLAG_SHARED

#: Resource kinds the lock manager knows. "disk" is implemented; "lease" (libvirt's
#: explicit lease resource with a lockspace and offset) is known but not supported.
KIND_DISK = "disk"
KNOWN_KINDS = frozenset({KIND_DISK, "lease"})
SUPPORTED_KINDS = frozenset({KIND_DISK})


class LeaseMode(enum.Enum):
    """How a VM uses a resource; decides which other holders it excludes.

    ========== ========= ====== =========
    holder     EXCLUSIVE SHARED READONLY
    ========== ========= ====== =========
    EXCLUSIVE  busy      busy   busy
    SHARED     busy      ok     ok
    READONLY   busy      ok     ok
    ========== ========= ====== =========
    """

    EXCLUSIVE = "exclusive"
    SHARED = "shared"
    READONLY = "readonly"

    @property
    def flags(self) -> int:
        """libvirt's resource flags for this mode."""
        return {LeaseMode.EXCLUSIVE: 0, LeaseMode.SHARED: FLAG_SHARED,
                LeaseMode.READONLY: FLAG_READONLY}[self]

    @classmethod
    def for_disk(cls, *, readonly: bool, shareable: bool) -> LeaseMode:
        """The mode a disk is leased in: ``<readonly/>`` (and CD-ROMs) READONLY, ``<shareable/>`` SHARED,
        any other disk EXCLUSIVE. Read-only wins: a read-only disk is never written, shared or not."""
        if readonly:
            return cls.READONLY
        if shareable:
            return cls.SHARED
        return cls.EXCLUSIVE

    def conflicts_with(self, other: LeaseMode) -> bool:
        """True when a holder in ``self`` mode excludes one in ``other`` mode."""
        return self is LeaseMode.EXCLUSIVE or other is LeaseMode.EXCLUSIVE


def parse_mode(mode: object) -> LeaseMode:
    """Accept a LeaseMode, its value string, or libvirt flags; INVALID_ARG otherwise.

    Flags outside READONLY|SHARED, negative flags, and READONLY together with
    SHARED (a contradiction: shared means shared *writable*) are refused.
    """
    if isinstance(mode, LeaseMode):
        return mode
    if isinstance(mode, str):
        try:
            return LeaseMode(mode.lower())
        except ValueError:
            raise DriverError(ErrorCode.INVALID_ARG,
                              f"unknown lease mode {mode!r}; use exclusive, shared or readonly") from None
    if isinstance(mode, bool) or not isinstance(mode, int):
        raise DriverError(ErrorCode.INVALID_ARG, f"lease mode must be a LeaseMode or flags, not {mode!r}")
    flags = check_flags(mode, _ALL_FLAGS, "lock manager resource")
    if flags == _ALL_FLAGS:
        raise DriverError(ErrorCode.INVALID_ARG,
                          "a resource cannot be both read-only and shared (shared means shared writable)")
    if flags & FLAG_READONLY:
        return LeaseMode.READONLY
    if flags & FLAG_SHARED:
        return LeaseMode.SHARED
    return LeaseMode.EXCLUSIVE


def check_kind(kind: object) -> str:
    """Return the kind if implemented: INVALID_ARG if unknown, NO_SUPPORT if known but not done."""
    if not isinstance(kind, str) or kind not in KNOWN_KINDS:
        raise DriverError(ErrorCode.INVALID_ARG,
                          f"unknown lock resource type {kind!r}; the lock manager knows {sorted(KNOWN_KINDS)}")
    if kind not in SUPPORTED_KINDS:
        raise DriverError(ErrorCode.NO_SUPPORT,
                          f"lock resources of type {kind!r} are not supported; only disk leases are")
    return kind
