"""Whether a domain's checkpoint bitmaps can still be trusted, judged from outside QEMU.

A persistent dirty bitmap records every write QEMU makes. It misses writes
made while no QEMU had the disk open (another tool changing the file while
the VM was shut off) and it is lost when QEMU dies without closing the image.
So when a VM with checkpoints stops, each qcow2 disk's size and change time
are written down (``ROOT/domains/<uuid>/checkpoints/stopped.json``), and at
the next start a disk that differs makes the checkpoints untrustworthy: a
sentence saying why goes to ``broken.json``, and the next backup is a full
one that says so. A crash of QEMU does the same at once.
"""
from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence

from .cmdline import BlockNode
from .layout import RootLayout, unlink, write_json

STOPPED = "stopped.json"
BROKEN = "broken.json"


def _tracked(disks: Sequence[BlockNode]) -> list[BlockNode]:
    return [d for d in disks if d.format == "qcow2" and not d.readonly and d.device != "cdrom"]


def _stamp(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def has_checkpoints(layout: RootLayout, uuid: str) -> bool:
    folder = layout.checkpoint_dir(uuid)
    return folder.is_dir() and any(p.suffix == ".xml" for p in folder.iterdir())


def broken_reason(layout: RootLayout, uuid: str) -> str | None:
    """Why the domain's checkpoints cannot be trusted (the next backup is then full), or None."""
    try:
        with open(layout.checkpoint_dir(uuid) / BROKEN, encoding="utf-8") as fh:
            return str(json.load(fh).get("reason") or "") or None
    except (OSError, ValueError, AttributeError):
        return None


def mark_broken(layout: RootLayout, uuid: str, reason: str) -> None:
    """Make every checkpoint of the domain untrustworthy; the first reason stays (it came first)."""
    if has_checkpoints(layout, uuid) and broken_reason(layout, uuid) is None:
        write_json(layout.checkpoint_dir(uuid) / BROKEN, {"reason": reason})


def clear(layout: RootLayout, uuid: str) -> None:
    """Forget the judgement: the checkpoints it was about are gone."""
    for name in (BROKEN, STOPPED):
        unlink(layout.checkpoint_dir(uuid) / name)


def record_stop(layout: RootLayout, uuid: str, disks: Sequence[BlockNode], crashed: bool) -> None:
    """QEMU ended: write the disks' stamps down, or (a crash) mark the checkpoints broken."""
    if not has_checkpoints(layout, uuid):
        return
    if crashed:
        mark_broken(layout, uuid, "QEMU ended unexpectedly while the VM ran, so the changes since the last "
                    "backup were not recorded")
        return
    write_json(layout.checkpoint_dir(uuid) / STOPPED,
               {d.target: {"path": d.path, "stamp": _stamp(d.path)} for d in _tracked(disks)})


def _stopped(layout: RootLayout, uuid: str) -> dict[str, dict[str, object]]:
    try:
        with open(layout.checkpoint_dir(uuid) / STOPPED, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def _changed(stopped: dict[str, dict[str, object]], targets: Sequence[tuple[str, str]]) -> str | None:
    """Why the checkpoints no longer hold: the first disk (target, path) that differs from its stamp."""
    for target, path in targets:
        before = stopped.get(target)
        if before is None or before.get("path") != path or before.get("stamp") != _stamp(path):
            return f"disk {target} ({path}) was changed or replaced while the VM was shut off"
    return None


def check_before_start(layout: RootLayout, uuid: str, disks: Sequence[BlockNode]) -> None:
    """Before QEMU opens the disks: one changed since the VM stopped marks the checkpoints broken."""
    stopped = _stopped(layout, uuid)
    if not stopped:
        return
    why = _changed(stopped, [(d.target, d.path) for d in _tracked(disks)])
    if why:
        mark_broken(layout, uuid, why)
    unlink(layout.checkpoint_dir(uuid) / STOPPED)


@contextlib.contextmanager
def own_change(layout: RootLayout, uuid: str, targets: Sequence[tuple[str, str]]) -> Iterator[None]:
    """Around our own qemu-img work on the shut-off disks (a snapshot taken or deleted): the data stays.

    qemu-img keeps the bitmaps, so afterwards the disks get new stamps; a disk
    that had changed before (another tool) still marks the checkpoints broken.
    """
    stopped = _stopped(layout, uuid)
    why = _changed(stopped, targets) if stopped else None
    try:
        yield
    finally:
        if stopped:
            if why:
                mark_broken(layout, uuid, why)
            for target, path in targets:
                if target in stopped:
                    stopped[target] = {"path": path, "stamp": _stamp(path)}
            write_json(layout.checkpoint_dir(uuid) / STOPPED, stopped)

