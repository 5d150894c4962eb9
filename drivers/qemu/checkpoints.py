"""Checkpoints as persistent dirty bitmaps in each qcow2 disk, with libvirt checkpoint XML as metadata.

A checkpoint is one bitmap per disk, named after it, added with
``persistent=true``: QEMU records every write from then on and stores the
bitmap in the qcow2 file when it closes the image, so it survives a restart
of the VM and of the application. Every checkpoint's bitmap stays active, so
the changes since checkpoint C are exactly C's bitmap; deleting a checkpoint
merges its bitmap into its parent's (as libvirt does) before removing it.
The metadata is ``ROOT/domains/<uuid>/checkpoints/<name>.xml``, written
atomically; :mod:`diskstamps` judges from outside QEMU whether the bitmaps
still tell the truth.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..base import Checkpoint
from ..checkpointxml import CheckpointDef, CheckpointDisk, checkpoint_request, no_checkpoint
from ..errors import DriverError, ErrorCode, check_flags
from . import diskstamps, storage
from .cmdline import BlockNode
from .context import DomainOps
from .events import EventHost
from .guard import guarded
from .layout import unlink, write_file
from .state import LiveVM, QDom


def load(host: EventHost, uuid: str) -> dict[str, CheckpointDef]:
    """The domain's checkpoints by name (files that cannot be read are skipped)."""
    folder = host.layout.checkpoint_dir(uuid)
    out: dict[str, CheckpointDef] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.xml")):
        try:
            cp = CheckpointDef.parse(path.read_text(encoding="utf-8"))
        except (OSError, DriverError):
            continue
        out[cp.name] = cp
    return out


def _save(host: EventHost, uuid: str, cp: CheckpointDef) -> None:
    write_file(host.layout.checkpoint_dir(uuid) / f"{cp.name}.xml", cp.to_xml())


def _forget(host: EventHost, uuid: str, name: str) -> None:
    unlink(host.layout.checkpoint_dir(uuid) / f"{name}.xml")


def newest(cps: dict[str, CheckpointDef]) -> str | None:
    """The checkpoint no other has as parent (the latest one), or None."""
    parents = {c.parent for c in cps.values()}
    leaves = [c for c in cps.values() if c.name not in parents]
    return max(leaves, key=lambda c: c.creation_time).name if leaves else None


def tracked(disks: Sequence[BlockNode]) -> list[BlockNode]:
    """The disks a checkpoint can track: writable qcow2 images (a bitmap lives in the qcow2 file)."""
    return [d for d in disks if d.format == "qcow2" and not d.readonly and d.device != "cdrom"]


def bitmaps(vm: LiveVM) -> dict[str, dict[str, dict[str, Any]]]:
    """QEMU's dirty bitmaps per format node name: {node: {bitmap name: its query answer}}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for node in vm.execute("query-named-block-nodes", {"flat": True}):
        out[str(node.get("node-name"))] = {str(b.get("name")): b for b in node.get("dirty-bitmaps") or ()}
    return out


def add_actions(name: str, disks: Sequence[BlockNode]) -> list[dict[str, Any]]:
    """Transaction actions creating checkpoint ``name``: a persistent bitmap on every disk."""
    return [{"type": "block-dirty-bitmap-add", "data": {"node": d.node, "name": name, "persistent": True}}
            for d in disks]


def new_checkpoint(host: EventHost, dom: QDom, xml: str, disks: Sequence[BlockNode],
                   parent: str | None) -> CheckpointDef:
    """The checkpoint ``xml`` asks for, over ``disks``; OPERATION_INVALID when the name is taken."""
    request = checkpoint_request(xml)
    if request.name in load(host, dom.uuid):
        raise DriverError(ErrorCode.OPERATION_INVALID,
                          f"domain '{dom.name}' already has a checkpoint named '{request.name}'")
    if not disks:
        raise DriverError(ErrorCode.NO_SUPPORT, f"domain '{dom.name}' has no writable qcow2 disk: a checkpoint "
                          "is a bitmap kept in a qcow2 image")
    return replace(request, parent=parent, disks=tuple(CheckpointDisk(d.target, request.name) for d in disks))


def record(host: EventHost, dom: QDom, cp: CheckpointDef) -> None:
    """The bitmaps of ``cp`` exist: write its metadata."""
    _save(host, dom.uuid, cp)


def untrusted_reason(host: EventHost, dom: QDom, vm: LiveVM, name: str, disks: Sequence[BlockNode]) -> str | None:
    """Why the changes since checkpoint ``name`` cannot be read from the bitmaps of ``disks``, or None."""
    why = diskstamps.broken_reason(host.layout, dom.uuid)
    if why:
        return why
    found = bitmaps(vm)
    for d in disks:
        bitmap = found.get(d.node, {}).get(name)
        if d.format != "qcow2":
            return f"disk {d.target} is {d.format}: only a qcow2 disk keeps a record of its changes"
        if bitmap is None:
            return f"disk {d.target} holds no record of the changes since checkpoint '{name}'"
        if bitmap.get("inconsistent"):
            return (f"QEMU did not save the record of the changes of disk {d.target} when it last stopped "
                    "(it crashed or was killed)")
    return None


def drop_all(host: EventHost, dom: QDom, vm: LiveVM | None) -> None:
    """Remove every checkpoint: its bitmaps and its metadata (the bitmaps no longer tell the truth)."""
    cps = load(host, dom.uuid)
    remove_bitmaps(host, dom, vm)
    for name in cps:
        _forget(host, dom.uuid, name)
    diskstamps.clear(host.layout, dom.uuid)


def remove_bitmaps(host: EventHost, dom: QDom, vm: LiveVM | None) -> None:
    """Remove every checkpoint's bitmap from the disks (live, or with qemu-img); the metadata stays."""
    cps = load(host, dom.uuid)
    if vm is not None:
        found = bitmaps(vm)
        for d in vm.disks:
            for name in cps:
                if name in found.get(d.node, {}):
                    try:
                        vm.execute("block-dirty-bitmap-remove", {"node": d.node, "name": name})
                    except DriverError:
                        pass  # gone with the node
    else:
        for disk in dom.definition.disks():
            if not disk.source or disk.format != "qcow2" or disk.readonly:
                continue
            present = _offline_bitmaps(disk.source)
            for name in cps:
                if name in present:
                    storage.run(["bitmap", "--remove", "-f", "qcow2", disk.source, name],
                                f"removing checkpoint '{name}' from {disk.source}")


def _offline_bitmaps(path: str) -> set[str]:
    try:
        data = storage.info(path)
    except DriverError:
        return set()
    specific = (data.get("format-specific") or {}).get("data") or {}
    return {str(b.get("name")) for b in specific.get("bitmaps") or ()}


def create(ops: DomainOps, xml: str, flags: int) -> QemuCheckpoint:
    """A checkpoint of the running domain now: one transaction adding its bitmap on every qcow2 disk."""
    check_flags(flags, 0, "checkpoint_create")
    host = ops.host
    with host.lock:
        dom = ops.idle("create a checkpoint of")
        vm = dom.live
        if vm is None:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{dom.name}' is not running; start it to "
                              "create a checkpoint (QEMU keeps the bitmap)")
        cps = load(host, dom.uuid)
        cp = new_checkpoint(host, dom, xml, tracked(vm.disks), newest(cps))
        vm.execute("transaction", {"actions": add_actions(cp.name, tracked(vm.disks))})
        record(host, dom, cp)
    return QemuCheckpoint(ops, cp.name)


@guarded
class QemuCheckpoint(Checkpoint):
    def __init__(self, ops: DomainOps, name: str) -> None:
        super().__init__(ops.handle, name)
        self._ops = ops

    def _lookup(self) -> tuple[QDom, CheckpointDef]:
        dom = self._ops.lookup()
        cp = load(self._ops.host, dom.uuid).get(self._name)
        if cp is None:
            raise no_checkpoint(dom.name, self._name)
        return dom, cp

    def xml_desc(self, flags: int = 0) -> str:
        with self._ops.host.lock:
            return self._lookup()[1].to_xml()

    def parent_name(self) -> str | None:
        with self._ops.host.lock:
            return self._lookup()[1].parent

    def delete(self, flags: int = 0) -> None:
        """Merge the bitmap into the parent's, remove it from every disk, re-parent the children."""
        check_flags(flags, 0, "checkpoint delete")
        host = self._ops.host
        with host.lock:
            dom, cp = self._lookup()
            self._ops.idle("delete a checkpoint of")
            vm = dom.live
            if vm is None:
                raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{dom.name}' is not running; start it to "
                                  "delete a checkpoint (QEMU merges its bitmap)")
            found = bitmaps(vm)
            actions: list[dict[str, Any]] = []
            for d in tracked(vm.disks):
                here = found.get(d.node, {})
                if cp.name not in here:
                    continue
                if cp.parent and cp.parent in here:
                    actions.append({"type": "block-dirty-bitmap-merge",
                                    "data": {"node": d.node, "target": cp.parent, "bitmaps": [cp.name]}})
                actions.append({"type": "block-dirty-bitmap-remove", "data": {"node": d.node, "name": cp.name}})
            if actions:
                vm.execute("transaction", {"actions": actions})
            for other in load(host, dom.uuid).values():
                if other.parent == cp.name:
                    _save(host, dom.uuid, replace(other, parent=cp.parent))
            _forget(host, dom.uuid, cp.name)


def listing(ops: DomainOps) -> list[QemuCheckpoint]:
    with ops.host.lock:
        dom = ops.lookup()
        cps = load(ops.host, dom.uuid)
    return [QemuCheckpoint(ops, name) for name in sorted(cps, key=lambda n: (cps[n].creation_time, n))]


@dataclass(frozen=True)
class Plan:
    """How a backup copies each disk: every block, or the blocks a checkpoint's bitmap marks."""

    incremental: str | None  # the checkpoint whose bitmap is copied; None: a full copy
    full_reason: str | None  # why a backup asked to be incremental is full
    checkpoint: CheckpointDef | None  # created in the backup's transaction


def plan(host: EventHost, dom: QDom, vm: LiveVM, incremental: str | None, checkpoint_xml: str | None,
         disks: Sequence[BlockNode], catalog_problem: str | None) -> Plan:
    """Decide (under the host lock) whether the backup can be incremental and which checkpoint it creates.

    NO_DOMAIN_CHECKPOINT for an unknown checkpoint. Bitmaps that cannot be
    trusted, or a missing parent backup (``catalog_problem``), make it full and
    drop the untrustworthy checkpoints: the new one then starts a new chain.
    """
    cps = load(host, dom.uuid)
    if incremental is not None and incremental not in cps:
        raise no_checkpoint(dom.name, incremental)
    untrusted = diskstamps.broken_reason(host.layout, dom.uuid)
    if incremental is not None and untrusted is None:
        untrusted = untrusted_reason(host, dom, vm, incremental, disks)
    if untrusted:
        drop_all(host, dom, vm)
        cps = {}
    reason = (untrusted or catalog_problem) if incremental is not None else None
    cp = None
    if checkpoint_xml is not None:
        cp = new_checkpoint(host, dom, checkpoint_xml, tracked(vm.disks), newest(cps))
    return Plan(incremental=None if reason else incremental, full_reason=reason, checkpoint=cp)


def forget_new(host: EventHost, dom: QDom, vm: LiveVM, name: str) -> None:
    """Undo a checkpoint a backup created that then failed: its bitmaps and metadata go."""
    found = bitmaps(vm) if vm.mon is not None and vm.mon.connected else {}
    for d in vm.disks:
        if name in found.get(d.node, {}):
            try:
                vm.execute("block-dirty-bitmap-remove", {"node": d.node, "name": name})
            except DriverError:
                pass
    with host.lock:
        _forget(host, dom.uuid, name)
