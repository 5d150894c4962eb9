"""Which disks hold a domain's internal snapshots, and the snapshot metadata as the disks change.

Shared by the snapshot operations and by the journal that settles the ones
a dead process left half done.
"""
from __future__ import annotations

from ..domxml import Disk, DomainXML
from ..errors import DriverError, ErrorCode
from ..flags import EventType, SnapshotEventDetail
from ..snapxml import SnapshotDef
from .state import QDom
from .store import DomainStore


def snapshot_paths(definition: DomainXML) -> list[str]:
    """The files that hold internal snapshots: writable qcow2 disks (a raw one cannot hold any)."""
    return [p for d in definition.disks() if (p := writable_path(d)) and d.format == "qcow2"]


def writable_path(disk: Disk) -> str | None:
    """The file of a disk an internal snapshot is written to (one the guest can write), else None."""
    return disk.source if disk.source and not disk.readonly and disk.device != "cdrom" else None


def writable_disks(definition: DomainXML, where: str) -> list[tuple[str, str]]:
    """(target, path) of every writable disk; NO_SUPPORT when one cannot hold snapshots."""
    out = []
    for disk in definition.disks():
        path = writable_path(disk)
        if path is None:
            continue
        if (disk.format or "raw") != "qcow2":
            raise DriverError(ErrorCode.NO_SUPPORT,
                              f"{where}: disk {disk.target} ({disk.source}) is {disk.format or 'raw'}; "
                              "internal snapshots need every writable disk in qcow2 format")
        out.append((disk.target, path))
    if not out:
        raise DriverError(ErrorCode.NO_SUPPORT,
                          f"{where}: the domain has no writable qcow2 disk to keep the snapshot in")
    return out


def record_created(host: DomainStore, dom: QDom, snap: SnapshotDef) -> None:
    """The metadata of a snapshot the disks now hold; it becomes the current one (under the lock)."""
    dom.snapshots[snap.name] = snap
    dom.current_snapshot = snap.name
    host.save_snapshot(dom, snap)
    host.save_meta(dom)
    dom.touch()
    host.emit(dom, EventType.SNAPSHOT, SnapshotEventDetail.CREATED, snap.name)


def forget_metadata(host: DomainStore, dom: QDom, snap: SnapshotDef) -> None:
    """Drop a snapshot the disks no longer hold; its children move up to its parent (under the lock)."""
    for other in dom.snapshots.values():
        if other.parent == snap.name:
            other.parent = snap.parent
            host.save_snapshot(dom, other)
    dom.snapshots.pop(snap.name, None)
    try:
        (host.layout.snapshot_dir(dom.uuid) / f"{snap.name}.xml").unlink()
    except OSError:
        pass
    if dom.current_snapshot == snap.name:
        dom.current_snapshot = snap.parent
    host.save_meta(dom)
    dom.touch()
    host.emit(dom, EventType.SNAPSHOT, SnapshotEventDetail.DELETED, snap.name)
