"""A running VM's CD-ROM medium changed through QMP, its lease following the medium.

The drive is an ``ide-cd`` whose id is the target; its medium is the format
node ``fmt-<target>`` on the protocol node ``file-<target>``, as the command
line names them (an empty drive has no nodes). A change opens the tray,
removes and deletes the old nodes, adds the new ones, inserts them and closes
the tray; an eject leaves the tray open and empty, as libvirt does. The new
image gets a READONLY lease before QEMU opens it; the old one is released
once QEMU let it go.
"""
from __future__ import annotations

import time
from typing import Any

from ..errors import DriverError, ErrorCode
from ..media import MediaChange
from .cmdline import BlockNode, blockdev_specs
from .leases import mode_of
from .state import LiveVM

#: how long a guest may take to open a tray it locked, once QEMU asked it to
TRAY_WAIT_S = 3.0


def _tray(vm: LiveVM, target: str) -> dict[str, Any]:
    for entry in vm.execute("query-block"):
        if entry.get("qdev") == target:
            return dict(entry)
    raise DriverError(ErrorCode.OPERATION_FAILED, f"QEMU of '{vm.definition.name}' has no CD-ROM drive '{target}'")


def _open_tray(vm: LiveVM, target: str, force: bool) -> None:
    """Open the tray; OPERATION_INVALID when the guest keeps it locked (without ``force``)."""
    vm.execute("blockdev-open-tray", {"id": target, "force": force})
    deadline = time.monotonic() + TRAY_WAIT_S
    while not _tray(vm, target).get("tray_open"):
        if time.monotonic() > deadline:
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              f"the guest of '{vm.definition.name}' has locked the tray of CD-ROM drive "
                              f"'{target}' (a disc in use); eject it in the guest, or force the change")
        time.sleep(0.1)


def _remove(vm: LiveVM, old: BlockNode) -> None:
    vm.execute("blockdev-remove-medium", {"id": old.target})
    vm.execute("blockdev-del", {"node-name": old.node})
    vm.execute("blockdev-del", {"node-name": old.file_node})
    vm.disks = [d for d in vm.disks if d is not old]


def _insert(vm: LiveVM, new: BlockNode, block_device: bool) -> None:
    added: list[str] = []
    try:
        for spec in blockdev_specs(new, block_device):
            vm.execute("blockdev-add", spec)
            added.append(str(spec["node-name"]))
        vm.execute("blockdev-insert-medium", {"id": new.target, "node-name": new.node})
    except DriverError:
        for node in reversed(added):
            try:
                vm.execute("blockdev-del", {"node-name": node})
            except DriverError:
                pass
        raise
    vm.disks = [*vm.disks, new]
    vm.execute("blockdev-close-tray", {"id": new.target})


def change(vm: LiveVM, req: MediaChange, block_device: bool) -> None:
    """Give drive ``req.target`` the medium ``req.source`` (None: eject); ``vm.disks`` says what it holds after.

    On failure the drive holds the old medium, or none when QEMU had already
    let it go (``vm.disks`` says which), and no lease is kept for a medium
    the drive does not hold.
    """
    old = next((d for d in vm.disks if d.target == req.target), None)
    new = (BlockNode(req.target, f"fmt-{req.target}", f"file-{req.target}", req.source, req.format, True, False,
                     "cdrom") if req.source is not None else None)
    fresh_lease = new is not None and (old is None or old.path != new.path)
    if new is not None and fresh_lease:
        vm.sup.acquire(new.path, mode_of(new))  # RESOURCE_BUSY names the holder; nothing changed yet
    try:
        _open_tray(vm, req.target, req.force)
        if old is not None:
            _remove(vm, old)
        if new is not None:
            _insert(vm, new, block_device)
    finally:
        held = {d.path for d in vm.disks}
        for path in {old.path if old else None, new.path if new and fresh_lease else None}:
            if path is not None and path not in held:
                vm.sup.release(path)
