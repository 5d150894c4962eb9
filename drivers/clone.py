"""Cloning a domain: the new definition and its disk copies, shared by the stateful drivers.

A clone gets a new name, uuid and MAC addresses, and serial logs of its own
(the original's name in the file name replaced by the clone's). Each writable image disk
gets its own image beside the original, ``<dir>/<new name>-<target>.<fmt>``:
a full copy (the file's data extents copied in the kernel, as a restore does)
or, linked, a qcow2 overlay whose backing file is the original image. The
original images of a linked clone become a base: the original domain's
definition marks those disks ``<readonly/>`` (it must not write them any
more, or the clone would read changed data), and the clone's disks name them
as ``<backingStore>``, so a deletion check finds every clone using a base.
Read-only disks and CD-ROMs are shared, shareable disks too. Copies are
``.part`` files named only once every copy is whole; a cancel or failure
removes all of them.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field

from .backuprestore import copy_file, part_path, publish, random_mac
from .checksum import Cancelled
from .diskimage import already_exists
from .domxml import DomainXML
from .domxml.checks import validate_name
from .errors import DriverError, ErrorCode
from .snapxml import BackupDef, BackupDisk

#: bytes done and in all
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DiskCopy:
    """One image of the clone: ``dest`` made from ``source`` (copied, or an overlay on it)."""

    target: str
    source: str
    source_format: str
    dest: str
    dest_format: str


@dataclass
class ClonePlan:
    """What a clone writes: its definition, its images, and extra files copied as they are."""

    definition: DomainXML
    disks: list[DiskCopy]
    linked: bool
    #: (source, destination) files copied whole (a UEFI variable store) and folders copied (a TPM's state)
    files: list[tuple[str, str]] = field(default_factory=list)
    trees: list[tuple[str, str]] = field(default_factory=list)
    #: folders the copies go into that may not exist yet (made 0700; removed again on failure)
    dirs: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def uuid(self) -> str:
        return self.definition.uuid


def cloned_disks(definition: DomainXML) -> list[tuple[str, str, str]]:
    """(target, image, format) of every disk a clone gets its own image of: writable, unshared files."""
    return [(n.target, n.source, n.format or "raw") for n in definition.disk_nodes()
            if n.device == "disk" and n.type == "file" and n.source and not n.readonly and not n.shareable]


def plan(definition: DomainXML, new_name: str, linked: bool,
         exists: Callable[[str], bool] = os.path.isfile) -> ClonePlan:
    """The clone of ``definition`` called ``new_name``; INVALID_ARG / OPERATION_INVALID before anything is written.

    ``exists`` says whether a disk image is there to copy (a simulated host has images without files).
    """
    new_name = validate_name(new_name)
    clone = definition.copy()
    clone.name, clone.uuid = new_name, str(uuidlib.uuid4())
    if "id" in clone.root.attrib:  # a live definition's runtime id
        del clone.root.attrib["id"]
    for iface in clone.interface_nodes():
        iface.mac = random_mac()
    for port in clone.char_device_nodes():
        if port.type == "file" and port.path:
            port.path = own_log(port.path, definition.name, new_name)
    copies = []
    for target, source, fmt in cloned_disks(definition):
        dest_fmt = "qcow2" if linked else fmt
        dest = os.path.join(os.path.dirname(source), f"{new_name}-{target}.{dest_fmt}")
        if os.path.lexists(dest) or os.path.lexists(part_path(dest)):
            raise already_exists(dest)
        if not exists(source):
            raise DriverError(ErrorCode.OPERATION_INVALID, f"disk {target} of '{definition.name}' ({source}) "
                              "does not exist; nothing to clone it from")
        copies.append(DiskCopy(target, source, fmt, dest, dest_fmt))
        node = clone.disk(target)
        node.source, node.format = dest, dest_fmt
        if linked:
            node.set_backing(source, fmt)
    return ClonePlan(clone, copies, linked)


def own_log(path: str, old_name: str, new_name: str) -> str:
    """The clone's own serial log beside ``path``: the original's name in the file name replaced, else prefixed."""
    folder, base = os.path.split(path)
    base = base.replace(old_name, new_name) if old_name in base else f"{new_name}-{base}"
    return os.path.join(folder, base)


def as_base(definition: DomainXML, clone: ClonePlan) -> DomainXML:
    """The original's definition once its images are a linked clone's base: those disks read-only."""
    based = definition.copy()
    for copy in clone.disks:
        based.disk(copy.target).readonly = True
    return based


def write_images(clone: ClonePlan, progress: Progress, cancelled: Cancelled) -> list[tuple[str, str]]:
    """Write the clone's images and extra files as ``.part`` files; (part, destination) pairs, none left on failure."""
    sizes = [os.stat(c.source).st_size for c in clone.disks] if not clone.linked else [1] * len(clone.disks)
    sizes += [os.stat(src).st_size for src, _ in clone.files]
    total, done = sum(sizes) or 1, 0
    parts: list[tuple[str, str]] = []
    try:
        jobs = [(c.source, c.dest, c.source_format) for c in clone.disks] + [(s, d, "") for s, d in clone.files]
        for (src, dest, fmt), size in zip(jobs, sizes, strict=True):
            part = part_path(dest)
            parts.append((part, dest))

            def report(frac: float, base: int = done, size: int = size) -> None:
                progress(base + int(frac * size), total)
            if clone.linked and fmt:
                overlay(src, fmt, part)
                report(1.0)
            else:
                copy_file(src, part, report, cancelled)
            done += size
            if cancelled():
                raise DriverError(ErrorCode.OPERATION_ABORTED, f"the clone {clone.name} was cancelled")
    except BaseException:
        discard([p for p, _ in parts])
        raise
    return parts


def overlay(base: str, fmt: str, part: str) -> None:
    """A new qcow2 ``part`` whose backing file is ``base`` (absolute: the overlay can move)."""
    argv = ["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", fmt, part]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"qemu-img could not make the overlay on {base}: {exc}") from None
    if proc.returncode != 0:
        discard([part])
        raise DriverError(ErrorCode.OPERATION_FAILED,
                          f"the overlay on {base} could not be made: {proc.stderr.strip().replace('qemu-img: ', '')}")


def copy_trees(clone: ClonePlan) -> None:
    """Copy the extra folders (a TPM's state) into place, 0700 as the originals."""
    for src, dest in clone.trees:
        os.makedirs(dest, mode=0o700, exist_ok=False)
        for entry in os.scandir(src):
            if entry.is_file(follow_symlinks=False):
                copy_file(entry.path, os.path.join(dest, entry.name), lambda _f: None, lambda: False)


def finish(parts: list[tuple[str, str]], published: list[str]) -> None:
    """Give every finished copy its name (new files only), noting each in ``published`` once it has it."""
    for part, dest in parts:
        publish([(part, dest)], replace=False)
        published.append(dest)


def remove_folders(folders: list[str]) -> None:
    """Remove folders a failed clone made, with what it copied into them."""
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def discard(paths: list[str]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def push_backup(clone: ClonePlan) -> str:
    """The ``<domainbackup>`` that copies a running original's disks, as of one instant, to the clone's images."""
    return BackupDef("push", tuple(BackupDisk(c.target, c.dest, c.dest_format) for c in clone.disks)).to_xml()
