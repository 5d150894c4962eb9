"""Snapshot creations and deletions a crash can interrupt: noted before they start, settled at the next open.

QEMU finishes a live ``snapshot-save`` or ``snapshot-delete`` even when the
process that asked for it dies, and a ``qemu-img snapshot`` loop over the disks
of a shut-off domain can stop between two disks. Either way the qcow2 files
and this root's metadata disagree: a snapshot on the disks that the app does
not list (its name taken, its space lost), or metadata for one the disks no
longer hold.

So ``snapshots/<name>.pending`` is written (durably) before the operation
touches a disk and removed once the metadata says the outcome
(:func:`noted`). A marker found when the root is opened means the process died
in between, and :func:`settle_all` settles it by what the disks hold
(``qemu-img info -U``, which reads an image QEMU has open):

* a creation found on every disk that holds snapshots, with the guest's memory
  for a live one, is **adopted** with the metadata the marker kept: QEMU
  finished what the user asked for, and it reverts like any other snapshot;
* a creation found on only some of them, or without its memory, is
  **removed** from the disks that have it: it cannot be reverted to, so all it
  would keep is the space and the name;
* a deletion is **finished**: the snapshot goes from the disks that still have
  it, then from the metadata.

A marker that cannot be settled now (a disk missing, a VM without a monitor)
stays for the next open, and the reason is logged.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Iterator
from pathlib import Path

from ..errors import DriverError, ErrorCode
from ..fsutil import read_json
from ..snapxml import SnapshotDef
from . import storage
from .adopters import Adopter
from .layout import unlink, write_json
from .qemujob import run_qemu_job
from .snapmeta import forget_metadata, record_created, snapshot_paths
from .state import LiveVM, QDom
from .store import PENDING_SUFFIX as SUFFIX
from .store import DomainStore

log = logging.getLogger(__name__)
_settle_ids = itertools.count(1)


def marker(host: DomainStore, dom: QDom, name: str) -> Path:
    return host.layout.snapshot_dir(dom.uuid) / f"{name}{SUFFIX}"


@contextlib.contextmanager
def noted(host: DomainStore, dom: QDom, op: str, snap: SnapshotDef) -> Iterator[None]:
    """Hold a marker of ``op`` ("create" or "delete") on ``snap`` while the block runs.

    The block ends with the metadata written (or with an error this process saw
    and handled); only a process that dies inside it leaves the marker behind.
    """
    path = marker(host, dom, snap.name)
    write_json(path, {"op": op, "snapshot": snap.to_xml()})
    try:
        yield
    finally:
        unlink(path)


def settle_all(host: DomainStore) -> None:
    """Settle the markers of every domain that can be read (at load, after re-attaching)."""
    with host.lock:
        doms = [d for d in host.by_uuid.values() if not d.broken]
    for dom in doms:
        sdir = host.layout.snapshot_dir(dom.uuid)
        for path in sorted(sdir.glob(f"*{SUFFIX}")) if sdir.is_dir() else []:
            try:
                outcome = settle(host, dom, path)
            except DriverError as exc:
                log.warning("left %s for the next open: %s", path, exc.message)
                continue
            log.warning("'%s': an interrupted snapshot operation was settled: %s", dom.name, outcome)


def settle(host: DomainStore, dom: QDom, path: Path) -> str:
    """Make the disks and metadata agree on one marker's snapshot; returns what was done."""
    name = path.name[:-len(SUFFIX)]
    data = read_json(path) or {}
    op = data.get("op") if data.get("op") in ("create", "delete") else "create"
    try:
        snap = SnapshotDef.parse(str(data["snapshot"]))
    except (KeyError, DriverError):
        snap = SnapshotDef(name=name)  # an unreadable marker: settle as a creation, without its metadata
    with host.lock:
        vm = dom.live
        files = snapshot_paths(dom.definition)
    if vm is not None and vm.mon is None:  # QEMU may still be saving: what the disks hold is not final
        raise DriverError(ErrorCode.OPERATION_INVALID, f"the QEMU of '{dom.name}' does not answer on QMP")
    tables = {p: storage.snapshot_table(p) for p in files}
    holding = [p for p in files if name in tables[p]]
    live = snap.state in ("running", "paused")
    whole = bool(files) and len(holding) == len(files) and (not live or tables[files[0]][name] > 0)
    if op == "create" and whole:
        with host.lock:
            if name not in dom.snapshots:
                if snap.parent not in dom.snapshots:
                    snap.parent = None
                record_created(host, dom, snap)
        unlink(path)
        return f"snapshot '{name}' was complete on every disk and is listed again"
    if holding:
        _remove(vm, holding, name, f"removing the incomplete snapshot '{name}' of '{dom.name}'")
    with host.lock:
        known = dom.snapshots.get(name)
        if known is not None:
            forget_metadata(host, dom, known)
    unlink(path)
    if op == "delete":
        return f"the deletion of '{name}' was finished"
    if holding:
        return f"the incomplete snapshot '{name}' was removed from {len(holding)} of {len(files)} disk(s)"
    return f"snapshot '{name}' never reached a disk; its name is free"


def _remove(vm: LiveVM | None, paths: list[str], name: str, what: str) -> None:
    """Delete the snapshot from ``paths``: through QMP while QEMU has them open, else with qemu-img."""
    if vm is None:
        for p in paths:
            storage.snapshot("d", p, name)
        return
    if vm.mon is None:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"{what}: no monitor of its running QEMU")
    nodes = [d.node for d in vm.disks if d.path in paths]
    run_qemu_job(vm, f"snap-settle-{next(_settle_ids)}", "snapshot-delete", {"tag": name, "devices": nodes},
                 None, what)


#: at open, once every VM is re-attached (QEMU's own snapshot jobs have ended by then)
ADOPTER = Adopter("snapshot journal", opened=settle_all)
