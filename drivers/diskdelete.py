"""Deleting disk files: who may still be using one, and the removal itself.

``Connection.delete_disks`` of the test and qemu drivers is this module. A
file is removed only when nothing can be using it:

* no VM on this machine holds, or has registered, a lease on it: the lock
  manager's lockspace is shared by every root and every process of the user,
  so a VM of another root, or of another vmgui, counts as much as our own;
* no domain of an open connection of this process names it (defined or
  running, on any root or simulated host): :func:`track` is how stateful
  connections make their hosts known here;
* it is a regular file (a disk image) outside the system folders: never a
  symlink, a directory or a device node, and never a backing file the caller
  did not name.

While files are removed this process holds an exclusive lease on each, so no
VM can start with one between the check and the unlink; a lease held
elsewhere is RESOURCE_BUSY naming the holder, as the lock manager names it.
"""
from __future__ import annotations

import os
import stat
import threading
import uuid as uuidlib
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .diskimage import check_path, check_path_list, system_location
from .errors import DriverError, ErrorCode, invalid_arg

#: Holder name of this process while it removes disk files (what a VM start that loses the race reads).
DELETER_NAME = "vmgui (deleting disk files)"


@dataclass(frozen=True)
class DomainUse:
    """The host files one domain of an open host uses (its disks, boot files and logs)."""

    name: str
    uuid: str
    running: bool
    pid: int | None
    files: frozenset[str]


@dataclass(frozen=True)
class Ignore:
    """The domain being deleted: its own definition and lease do not count against its disks."""

    host: Any
    uuid: str


_tracked: weakref.WeakSet[Any] = weakref.WeakSet()
_tracked_lock = threading.Lock()


def track(conn: Any) -> None:
    """Make an open stateful connection's host (``conn.host``: ``disk_uses()``) known to deletion checks."""
    with _tracked_lock:
        _tracked.add(conn)


def _open_hosts() -> list[tuple[Any, str]]:
    """(host, the URI of one open connection to it) for every host of this process, each once."""
    with _tracked_lock:
        conns = list(_tracked)
    seen: dict[int, tuple[Any, str]] = {}
    for conn in conns:
        host = getattr(conn, "host", None)
        if host is not None and not conn.closed and id(host) not in seen:
            seen[id(host)] = (host, conn.uri)
    return list(seen.values())


def _matcher(path: str) -> Callable[[str], bool]:
    """Whether a domain's file is ``path`` under any name: for an existing file one stat per
    candidate (symlinks, ``..`` and hard links lead to the same inode); for a missing one
    (a simulated disk, a file gone) the same normalised path."""
    norm = os.path.normpath(path)
    try:
        st = os.stat(path)
    except OSError:
        return lambda other: os.path.normpath(other) == norm
    inode = (st.st_dev, st.st_ino)

    def same(other: str) -> bool:
        if other == path:
            return True
        try:
            ost = os.stat(other)
        except OSError:
            return False
        return (ost.st_dev, ost.st_ino) == inode
    return same


def _describe(use: DomainUse, where: str) -> str:
    if use.running:
        pid = f", pid {use.pid}" if use.pid else ""
        return f"VM '{use.name}' (uuid {use.uuid}{pid}, running on {where})"
    return f"domain '{use.name}' (uuid {use.uuid}, defined on {where})"


def defined_users(paths: list[str], ignore: Ignore | None = None,
                  skip: dict[str, set[tuple[str, str]]] | None = None) -> dict[str, list[str]]:
    """path -> descriptions of the domains of open hosts that use it (running ones first).

    ``skip``: path -> (lease host, uuid) of VMs already named as lease holders of it.
    """
    wanted = {p: _matcher(p) for p in paths}
    found: dict[str, list[tuple[bool, str]]] = {}
    for host, where in _open_hosts():
        for use in host.disk_uses():
            if ignore is not None and ignore.host is host and ignore.uuid == use.uuid:
                continue
            for path, same in wanted.items():
                if (host.lease_host, use.uuid) in (skip or {}).get(path, set()):
                    continue
                if any(same(other) for other in use.files):
                    found.setdefault(path, []).append((not use.running, _describe(use, where)))
    return {p: [text for _, text in sorted(users)] for p, users in found.items()}


#: Drivers that launch VMs name the place a lease holder runs on: (holder host name, VM pid) -> a URI, or None.
_placers: list[Callable[[str, int | None], str | None]] = []


def add_placer(place: Callable[[str, int | None], str | None]) -> None:
    """How a driver recognises its own VMs in lease records (also of roots no connection has open)."""
    if place not in _placers:
        _placers.append(place)


def _place(host_name: str, vm_pid: int | None) -> str | None:
    for place in list(_placers):
        where = place(host_name, vm_pid)
        if where:
            return where
    return None


def _lease_host_names() -> dict[str, str]:
    """Lock-manager host name -> the URI of an open root that launches its VMs under that name."""
    return {host.lease_host: where for host, where in _open_hosts() if getattr(host, "lease_host", None)}


def lease_users(paths: list[str], ignore_holder: tuple[str, str] | None = None
                ) -> dict[str, dict[tuple[str, str], str]]:
    """path -> {(host, uuid): description} of the live lease holders (VMs of any root or process)
    that hold or registered it."""
    from drivers.locking import Lockspace, lease_keys
    space = Lockspace().ensure()
    keys = {p: {k.name for k in lease_keys(p)[1]} for p in paths}
    names = _lease_host_names()
    found: dict[str, dict[tuple[str, str], str]] = {}
    for rec in space.live_records():
        if ignore_holder is not None and (rec.host, rec.uuid) == ignore_holder:
            continue
        used: set[str] = set()
        holding: set[str] = set()
        for lease, held in [(x, True) for x in rec.leases] + [(x, False) for x in rec.registered]:
            for path, names_of_path in keys.items():
                if names_of_path.intersection(lease.get("keys", ())):
                    used.add(path)
                    if held:
                        holding.add(path)
        for path in used:
            where = names.get(rec.host) or _place(rec.host, rec.vm_pid)
            pid = f"pid {rec.vm_pid}" if rec.vm_pid else f"supervisor pid {rec.supervisor_pid}"
            how = "" if path in holding else " (paused or arriving by migration: it takes the disk again)"
            who = (f"VM '{rec.name}' (uuid {rec.uuid}, {pid}, running on {where})" if where
                   else rec.describe())
            found.setdefault(path, {})[(rec.host, rec.uuid)] = who + how
    return found


def file_refusal(path: str) -> DriverError | None:
    """Why ``path`` itself is nothing delete_disks removes (INVALID_ARG), or None (also when missing)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return DriverError(ErrorCode.OPERATION_FAILED, f"cannot look at {path}: {exc.strerror}")
    top = system_location(path)
    if top is not None:
        return invalid_arg(f"{path} is a system file (under {top}); it is never deleted as a disk")
    if stat.S_ISLNK(st.st_mode):
        return invalid_arg(f"{path} is a symbolic link to {os.path.realpath(path)}; only the image file "
                           "itself is deleted, by its own path")
    if not stat.S_ISREG(st.st_mode):
        return invalid_arg(f"{path} is not a regular file; only disk image files are deleted")
    return None


def refusals(paths: Iterable[object], ignore: Ignore | None = None,
             ignore_holder: tuple[str, str] | None = None) -> dict[str, DriverError]:
    """path -> why :func:`delete` would refuse it; a path not listed would be removed (or is missing)."""
    checked = [check_path(p, "disk path") for p in check_path_list(paths)]
    out: dict[str, DriverError] = {}
    for path in checked:
        why = file_refusal(path)
        if why is not None:
            out[path] = why
    rest = [p for p in checked if p not in out]
    holders = lease_users(rest, ignore_holder)
    busy = {path: list(who.values()) for path, who in holders.items()}
    for path, who in defined_users(rest, ignore, {p: set(w) for p, w in holders.items()}).items():
        busy.setdefault(path, []).extend(who)
    for path, who in busy.items():
        out[path] = DriverError(ErrorCode.RESOURCE_BUSY, f"disk {path} is in use by {'; '.join(who)}")
    return out


def _refuse(found: dict[str, DriverError]) -> DriverError:
    code = ErrorCode.RESOURCE_BUSY if any(e.code is ErrorCode.RESOURCE_BUSY for e in found.values()) \
        else next(iter(found.values())).code
    return DriverError(code, "nothing was deleted: " + "; ".join(e.message for e in found.values()))


def delete(paths: Iterable[object], missing: Callable[[str], bool] | None = None) -> list[str]:
    """Remove the disk files ``paths`` name, all or none refused; returns the paths removed.

    ``missing(path)`` is asked about a path with no file (a simulated disk
    can be forgotten): True counts it as removed. Everything is refused
    (RESOURCE_BUSY naming the holders, INVALID_ARG for what is no image file)
    before anything is removed; then each file goes under an exclusive lease.
    """
    checked = list(dict.fromkeys(check_path(p, "disk path") for p in check_path_list(paths)))
    found = refusals(checked)
    if found:
        raise _refuse(found)
    from drivers.locking import LeaseHolder, LeaseMode, Lockspace, Resource
    from drivers.locking.lockspace import default_host
    holder = LeaseHolder(Lockspace(), str(uuidlib.uuid4()), DELETER_NAME, default_host())
    holder.register()
    removed: list[str] = []
    failed: list[str] = []
    try:
        present = [p for p in checked if os.path.lexists(p)]
        try:
            holder.acquire([Resource.make(p, LeaseMode.EXCLUSIVE) for p in present])
        except DriverError as exc:  # a VM started with one of them since the check
            raise DriverError(exc.code, f"nothing was deleted: {exc.message}") from None
        found = refusals(present, ignore_holder=(holder.record.host, holder.record.uuid))
        if found:  # a domain was defined with it meanwhile
            raise _refuse(found)
        for path in checked:
            if path not in present:
                if missing is not None and missing(path):
                    removed.append(path)
                continue
            try:
                if _unlink_file(path):
                    removed.append(path)
            except DriverError as exc:
                failed.append(exc.message)
    finally:
        holder.close()
    if failed:
        done = f"deleted {', '.join(removed)}; " if removed else ""
        raise DriverError(ErrorCode.OPERATION_FAILED, done + "; ".join(failed))
    return removed


def _unlink_file(path: str) -> bool:
    """Unlink ``path`` if it is still a regular file, then make the removal durable; False if gone."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            raise invalid_arg(f"{path} was replaced by something other than a disk image; it was kept")
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot delete {path}: {exc.strerror}") from None
    try:
        fd = os.open(os.path.dirname(path) or "/", os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # removed; only the durability of the removal is unknown
    return True
