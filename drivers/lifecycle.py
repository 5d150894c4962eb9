"""Lifecycle rules shared by the stateful drivers (test and qemu)."""
from __future__ import annotations

from typing import Any

from .domxml import validate_name
from .errors import DriverError, ErrorCode, invalid_arg
from .flags import DomainState, SaveFlags, UndefineFlags


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


def check_can_pause(name: str, state: DomainState) -> None:
    """Only a running domain pauses (OPERATION_INVALID otherwise)."""
    if state == DomainState.PAUSED:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{name}' is already paused")
    if state != DomainState.RUNNING:
        raise not_running(name)


def check_can_resume(name: str, state: DomainState) -> None:
    if state != DomainState.PAUSED:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{name}' is not paused")


def check_undefine(dom: Any, flags: int, nvram: bool = False) -> None:
    """libvirt's refusals: a transient domain, or a managed save image, snapshots or (``nvram``) a UEFI
    variable store the flags do not cover.

    ``dom`` has ``name``, ``persistent``, ``managed_save`` and ``snapshots``.
    """
    if not dom.persistent:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"cannot undefine transient domain '{dom.name}'")
    if dom.managed_save and not flags & UndefineFlags.MANAGED_SAVE:
        raise DriverError(ErrorCode.OPERATION_INVALID,
                          f"refusing to undefine '{dom.name}' while a managed save image exists; "
                          "remove it or pass UndefineFlags.MANAGED_SAVE")
    if dom.snapshots and not flags & UndefineFlags.SNAPSHOTS_METADATA:
        raise DriverError(ErrorCode.OPERATION_INVALID,
                          f"cannot undefine '{dom.name}' with {len(dom.snapshots)} snapshot(s); "
                          "delete them or pass UndefineFlags.SNAPSHOTS_METADATA")
    if flags & UndefineFlags.NVRAM and flags & UndefineFlags.KEEP_NVRAM:
        raise DriverError(ErrorCode.INVALID_ARG, "UndefineFlags.NVRAM and KEEP_NVRAM exclude each other")
    if nvram and not flags & (UndefineFlags.NVRAM | UndefineFlags.KEEP_NVRAM):
        raise DriverError(ErrorCode.OPERATION_INVALID,
                          f"cannot undefine '{dom.name}': it has a UEFI variable store (NVRAM); pass "
                          "UndefineFlags.NVRAM to delete it with the domain or KEEP_NVRAM to keep the file")


def check_rename(dom: Any, new_name: object, taken: Any) -> str:
    """libvirt's rename refusals (qemuDomainRename, virDomainObjListRename), in libvirt's order.

    ``dom`` has ``name``, ``active``, ``persistent``, ``managed_save`` and
    ``snapshots``; ``taken`` is the name index. Returns the validated name.
    """
    name = validate_name(new_name)
    if dom.active:
        raise DriverError(ErrorCode.OPERATION_INVALID,
                          f"cannot rename active domain '{dom.name}'; shut it off first")
    if not dom.persistent:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"cannot rename transient domain '{dom.name}'")
    if dom.managed_save:
        raise DriverError(ErrorCode.OPERATION_INVALID,
                          f"domain '{dom.name}' with a managed saved state can't be renamed; "
                          "start it or remove the saved state first")
    if dom.snapshots:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"cannot rename domain '{dom.name}' with snapshots")
    if name == dom.name:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"cannot rename domain '{dom.name}' to itself")
    if name in taken:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"domain with name '{name}' already exists")
    return name


def check_autostart_allowed(dom: Any) -> None:
    """Autostart is for persistent domains (``dom`` has ``name`` and ``persistent``)."""
    if not dom.persistent:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"cannot set autostart for transient domain '{dom.name}'")


def find_snapshot(dom: Any, name: str) -> Any:
    """``dom.snapshots[name]``, or NO_SNAPSHOT (``dom`` has ``name`` and a ``snapshots`` mapping)."""
    snap = dom.snapshots.get(name)
    if snap is None:
        raise DriverError(ErrorCode.NO_SNAPSHOT, f"domain '{dom.name}' has no snapshot '{name}'")
    return snap
