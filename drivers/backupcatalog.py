"""The backup catalog: a ``manifest.json`` beside a backup's disk images, and finding backups by it.

A backup is a folder (``<folder>/<domain>-<stamp>/`` by :func:`backup_folder`) holding the
disk images and a manifest naming the domain (name, uuid, its XML at backup time), the start
and end time, the kind (``full``; an ``incremental`` one names its ``parent`` backup by id),
the ``checkpoint`` taken with it (null without), each image's target, file, format, virtual size,
bytes, checksum (keyed by its algorithm, :mod:`drivers.checksum`) and ``backing`` (an incremental
image's parent image, ``../<parent-id>/<file>``, also written as the qcow2's backing file; null in
a full), and the vmgui version. A full backup asked to be incremental says why in ``full_reason``. The
manifest is written last and atomically, so a folder without one (or still holding ``.part``
files) is a backup that never finished and is never listed as restorable. Backups are found by
their manifests alone: a folder moved to another disk or machine lists as it did.

The checksum of each image is computed right after the copy, as part of the backup job, from the
finished file (one sequential read of each image; the page cache usually still holds it), while
a second thread has the kernel write the same image back to disk (fsync; the hash lets go of the
GIL while it hashes): the checksum then takes the time of the write-back the backup waits for
anyway, not that time again.
"""
from __future__ import annotations

import calendar
import importlib.metadata
import json
import os
import struct
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .checksum import ALGORITHM, ALGORITHMS, Cancelled, Progress, no_progress, not_cancelled, of_file
from .errors import DriverError, ErrorCode
from .fsutil import fsync_file, write_atomically

MANIFEST = "manifest.json"
#: manifest layout version: readers refuse a newer one rather than misread it (2: checksums
#: keyed by their algorithm; 1 knew only ``sha256``)
SCHEMA = 2
KINDS = ("full", "incremental")
#: suffix of job outputs not finished yet (drivers.qemu.partfiles uses the same)
PART_SUFFIX = ".part"
_QCOW2_MAGIC = b"QFI\xfb"


def app_version() -> str:
    """The installed vmgui version the manifest records (``unknown`` when run from an uninstalled tree)."""
    try:
        return importlib.metadata.version("vmgui")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def backup_folder(folder: str, domain: str, stamp: str) -> str:
    """Where one backup of ``domain`` taken at ``stamp`` lives inside the backups folder ``folder``."""
    return os.path.join(folder, f"{domain}-{stamp}")


def iso_time(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def epoch_of(iso: str) -> float | None:
    """The seconds since the epoch of a manifest time (:func:`iso_time`), None when it is not one."""
    try:
        return float(calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return None


@dataclass(frozen=True)
class Image:
    """One disk image of a backup, as the manifest describes it."""

    target: str  # the disk's target dev in the domain (vda)
    file: str  # file name inside the backup folder
    format: str
    virtual_size: int
    bytes: int
    #: hex digest of the image file, by ``algorithm`` (one of :data:`drivers.checksum.ALGORITHMS`)
    checksum: str
    #: an incremental image's parent image, relative to this backup's folder (``../<parent-id>/<file>``)
    backing: str | None = None
    algorithm: str = ALGORITHM

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "file": self.file, "format": self.format,
                "virtual_size": self.virtual_size, "bytes": self.bytes, self.algorithm: self.checksum,
                "backing": self.backing}


@dataclass(frozen=True)
class Verification:
    """The outcome of one verify: when it ran and what was wrong (nothing when ``ok``)."""

    at: str
    ok: bool
    problems: tuple[str, ...] = ()

    def summary(self) -> str:
        return "verified, no problem found" if self.ok else "; ".join(self.problems)


@dataclass(frozen=True)
class Backup:
    """One backup found by its manifest: ``folder`` is where it is now, wherever it was written."""

    folder: str
    id: str
    domain_name: str
    domain_uuid: str
    domain_xml: str
    started: str
    ended: str
    images: tuple[Image, ...]
    kind: str = "full"
    parent: str | None = None
    #: the checkpoint created at this backup's point in time (the next incremental starts from it)
    checkpoint: str | None = None
    #: why a backup asked to be incremental copied every block
    full_reason: str | None = None
    app_version: str = "unknown"
    verification: Verification | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def size(self) -> int:
        return sum(i.bytes for i in self.images)

    def path(self, image: Image) -> str:
        return os.path.join(self.folder, image.file)

    @property
    def schema(self) -> int:
        """The oldest layout that holds this backup: a backup of SHA-256 images stays readable by the vmgui
        that wrote it, also once a verify recorded its outcome."""
        return 1 if all(i.algorithm == "sha256" for i in self.images) else SCHEMA

    def to_json(self) -> dict[str, Any]:
        return {**self.extra, "schema": self.schema, "id": self.id, "kind": self.kind, "parent": self.parent,
                "checkpoint": self.checkpoint, "full_reason": self.full_reason,
                "domain": {"name": self.domain_name, "uuid": self.domain_uuid, "xml": self.domain_xml},
                "started": self.started, "ended": self.ended, "vmgui_version": self.app_version,
                "disks": [i.to_json() for i in self.images],
                "verification": None if self.verification is None else {
                    "at": self.verification.at, "ok": self.verification.ok,
                    "problems": list(self.verification.problems)}}


def _bad(folder: str, why: str) -> DriverError:
    return DriverError(ErrorCode.INVALID_ARG, f"the backup in {folder} has an unreadable manifest: {why}")


def _image(folder: str, raw: Any) -> Image:
    if not isinstance(raw, dict):
        raise _bad(folder, "a disk entry is not an object")
    algorithm = next((a for a in ALGORITHMS if a in raw), None)
    if algorithm is None:
        raise _bad(folder, f"a disk entry has no checksum ({' or '.join(ALGORITHMS)})")
    try:
        image = Image(target=str(raw["target"]), file=str(raw["file"]), format=str(raw["format"]),
                      virtual_size=int(raw["virtual_size"]), bytes=int(raw["bytes"]), checksum=str(raw[algorithm]),
                      algorithm=algorithm, backing=None if raw.get("backing") is None else str(raw["backing"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(folder, f"a disk entry lacks {exc}") from None
    if os.path.basename(image.file) != image.file or image.file in ("", ".", ".."):
        raise _bad(folder, f"disk file {image.file!r} is not a plain file name")
    if image.backing is not None and not _sibling_image(image.backing):
        raise _bad(folder, f"disk file {image.file!r} has the backing {image.backing!r}, not ../<backup>/<file>")
    return image


def _sibling_image(backing: str) -> bool:
    """Whether ``backing`` is ``../<folder>/<file>``: an image in a sibling backup folder, nothing else."""
    parts = backing.split("/")
    return len(parts) == 3 and parts[0] == ".." and all(p not in ("", ".", "..") for p in parts[1:])


def parse(folder: str, data: dict[str, Any]) -> Backup:
    """The backup a manifest's JSON describes, located in ``folder``; INVALID_ARG naming what is wrong."""
    if int(data.get("schema", 0) or 0) > SCHEMA:
        raise _bad(folder, f"it was written by a newer vmgui (layout {data.get('schema')})")
    dom = data.get("domain")
    disks = data.get("disks")
    if not isinstance(dom, dict) or not isinstance(disks, list) or not disks:
        raise _bad(folder, "it names no domain or no disk")
    kind = str(data.get("kind", "full"))
    if kind not in KINDS:
        raise _bad(folder, f"unknown kind {kind!r}")
    ver = data.get("verification")
    verification = None
    if isinstance(ver, dict):
        verification = Verification(at=str(ver.get("at", "")), ok=bool(ver.get("ok")),
                                    problems=tuple(str(p) for p in ver.get("problems") or ()))
    known = {"schema", "id", "kind", "parent", "domain", "started", "ended", "vmgui_version", "disks",
             "verification", "checkpoint", "full_reason"}
    parent = None if data.get("parent") is None else str(data["parent"])
    if kind == "incremental" and not parent:
        raise _bad(folder, "an incremental backup names no parent backup")
    return Backup(folder=folder, id=str(data.get("id") or os.path.basename(folder)),
                  domain_name=str(dom.get("name", "")), domain_uuid=str(dom.get("uuid", "")),
                  domain_xml=str(dom.get("xml", "")), started=str(data.get("started", "")),
                  ended=str(data.get("ended", "")), images=tuple(_image(folder, d) for d in disks),
                  kind=kind, parent=parent,
                  checkpoint=None if data.get("checkpoint") is None else str(data["checkpoint"]),
                  full_reason=None if data.get("full_reason") is None else str(data["full_reason"]),
                  app_version=str(data.get("vmgui_version", "unknown")), verification=verification,
                  extra={k: v for k, v in data.items() if k not in known})


def read(folder: str) -> Backup:
    """The backup in ``folder`` by its manifest; INVALID_ARG when there is none or it cannot be read."""
    path = os.path.join(folder, MANIFEST)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise DriverError(ErrorCode.INVALID_ARG, f"{folder} holds no finished backup (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise _bad(folder, str(exc)) from None
    if not isinstance(data, dict):
        raise _bad(folder, "it is not a JSON object")
    return parse(folder, data)


def unfinished_reason(backup: Backup) -> str | None:
    """Why the backup cannot be restored as it lies (an image missing, ``.part`` files), or None."""
    try:
        names = set(os.listdir(backup.folder))
    except OSError as exc:
        return f"its folder cannot be read: {exc.strerror}"
    if any(n.endswith(PART_SUFFIX) for n in names):
        return "it still holds unfinished .part files"
    missing = [i.file for i in backup.images if i.file not in names]
    if missing:
        return "image missing: " + ", ".join(missing)
    return None


def parent_folder(backup: Backup) -> str | None:
    """Where an incremental backup's parent lies: the sibling folder named by its id (None for a full)."""
    return os.path.join(os.path.dirname(backup.folder), backup.parent) if backup.parent else None


def chain(backup: Backup) -> list[Backup]:
    """The backup and its parents back to the full one, newest first.

    OPERATION_INVALID naming the missing or unusable parent: such an incremental cannot be restored.
    """
    out = [backup]
    seen = {os.path.realpath(backup.folder)}
    while (folder := parent_folder(out[-1])) is not None:
        child = out[-1]
        try:
            parent = read(folder)
        except DriverError:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"the backup {child.id} is incremental and its parent "
                              f"backup {child.parent} is missing from {os.path.dirname(folder)}") from None
        why = unfinished_reason(parent)
        if why or parent.domain_uuid != backup.domain_uuid or os.path.realpath(folder) in seen:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"the backup {child.id} is incremental and its parent "
                              f"backup {child.parent} cannot be used: "
                              + (why or "it is another domain's backup or part of a loop"))
        seen.add(os.path.realpath(folder))
        out.append(parent)
    return out


def restore_problem(backup: Backup) -> str | None:
    """Why the backup cannot be restored (unfinished, an image or a parent backup missing), or None."""
    why = unfinished_reason(backup)
    if why:
        return why
    try:
        chain(backup)
    except DriverError as exc:
        return exc.message
    return None


def checkpoint_backup(folder: str, domain_uuid: str, checkpoint: str) -> Backup | None:
    """The finished backup in the backups folder ``folder`` (its sub-folders) taken with ``checkpoint``."""
    found = [b for b in find([folder], domain_uuid) if b.checkpoint == checkpoint and restore_problem(b) is None]
    return found[-1] if found else None


def _candidates(folder: str) -> Iterable[str]:
    yield folder
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield entry.path


def find(folders: Sequence[str], domain_uuid: str | None = None, finished_only: bool = True) -> list[Backup]:
    """The restorable backups in ``folders`` (each folder itself and its sub-folders), oldest first.

    ``domain_uuid`` keeps one domain's; without it every domain's backups are
    listed (a folder the user points at). Unreadable manifests are left out,
    and so are unfinished backups unless ``finished_only`` is false (what
    depends on what must see them all).
    """
    found: dict[str, Backup] = {}
    for folder in folders:
        for candidate in _candidates(os.path.abspath(folder)):
            if not os.path.isfile(os.path.join(candidate, MANIFEST)):
                continue
            try:
                backup = read(candidate)
            except DriverError:
                continue
            if domain_uuid is not None and backup.domain_uuid != domain_uuid:
                continue
            if not finished_only or unfinished_reason(backup) is None:
                found[os.path.realpath(candidate)] = backup
    return sorted(found.values(), key=lambda b: (b.started, b.folder))


def is_qcow2(path: str) -> bool:
    """Whether the file starts with the qcow2 magic (only a qcow2 image has a backing file to follow)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == _QCOW2_MAGIC
    except OSError:
        return False


def virtual_size(path: str, fmt: str) -> int:
    """The guest-visible size of an image: the qcow2 header's size field, or a raw file's length."""
    if fmt == "qcow2":
        with open(path, "rb") as fh:
            head = fh.read(32)
        if len(head) == 32 and head[:4] == _QCOW2_MAGIC:
            return int(struct.unpack(">Q", head[24:32])[0])
    return os.stat(path).st_size


class _WriteBack:
    """fsync of some files in a thread of its own: the kernel writes them back while the caller reads them."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.error: OSError | None = None
        self._paths = list(paths)
        self._thread = threading.Thread(target=self._run, name="backup-fsync", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for path in self._paths:
                fsync_file(path)
        except OSError as exc:
            self.error = exc

    def wait(self) -> None:
        """Return once every file is on disk; OPERATION_FAILED naming why one could not be written."""
        self._thread.join()
        if self.error is not None:
            raise DriverError(ErrorCode.OPERATION_FAILED, f"the backup could not be written to disk: "
                              f"{self.error.strerror or self.error}")


@dataclass(frozen=True)
class Written:
    """One image a backup job finished: where it is now (maybe a .part file) and its final name."""

    target: str
    path: str
    final: str
    format: str
    virtual_size: int | None = None


def describe(written: Sequence[Written], progress: Progress = no_progress,
             cancelled: Cancelled = not_cancelled,
             backing: dict[str, str] | None = None, flush: bool = False,
             hashed: Mapping[str, str] | None = None) -> list[Image]:
    """Hash and measure the finished images of a backup: the disk entries of its manifest.

    ``backing`` maps a target to its image's backing (``../<parent-id>/<file>``) in an incremental.
    ``flush``: the images are also made durable (fsync), in a second thread while they are hashed;
    on return that write-back is over (OPERATION_FAILED if it failed). ``hashed``: the checksum
    (:data:`drivers.checksum.ALGORITHM`) of images hashed while they were copied (:mod:`drivers.hashcopy`;
    durable already), by target.
    """
    known = dict(hashed or {})
    todo = [w for w in written if w.target not in known]
    total = sum(os.stat(w.path).st_size for w in todo)
    done = 0
    images = []
    # a cancel does not wait for the write-back: the caller removes the files, which the thread may
    # still hold open for a moment (the kernel frees them once it lets go)
    write_back = _WriteBack([w.path for w in todo]) if flush else None
    for w in written:
        size = os.stat(w.path).st_size
        digest = known.get(w.target)
        if digest is None:
            digest = of_file(w.path, ALGORITHM, progress, cancelled, done, total)
            done += size
        vsize = w.virtual_size if w.virtual_size is not None else virtual_size(w.path, w.format)
        images.append(Image(target=w.target, file=os.path.basename(w.final), format=w.format,
                            virtual_size=vsize, bytes=size, checksum=digest,
                            backing=(backing or {}).get(w.target)))
    if write_back is not None:
        write_back.wait()
    return images


def dedicated_folder(written: Sequence[Written]) -> str | None:
    """The folder a backup's images were written into if it holds nothing else, else None.

    Only such a folder is a catalog entry: images written beside other files
    (the folder of a libvirt-style push backup) get no manifest.
    """
    folders = {os.path.dirname(w.final) for w in written}
    if len(folders) != 1:
        return None
    folder = folders.pop()
    ours = {os.path.basename(p) for w in written for p in (w.path, w.final)}
    try:
        names = set(os.listdir(folder))
    except OSError:
        return None
    return folder if names <= ours else None


def dumps(backup: Backup) -> str:
    """The manifest text of ``backup``."""
    return json.dumps(backup.to_json(), indent=1, sort_keys=True)


@dataclass(frozen=True)
class Lineage:
    """What a backup job knows of its place in a chain: the manifest's kind, parent, checkpoint, reason."""

    kind: str = "full"
    parent: str | None = None
    checkpoint: str | None = None
    full_reason: str | None = None


def write_manifest(folder: str, domain_name: str, domain_uuid: str, domain_xml: str, started: float,
                   images: Sequence[Image], lineage: Lineage = Lineage()) -> Backup:
    """Record a finished backup in ``folder`` (atomic, durable, never over an existing manifest)."""
    backup = Backup(folder=folder, id=os.path.basename(folder), domain_name=domain_name,
                    domain_uuid=domain_uuid, domain_xml=domain_xml, started=iso_time(started),
                    ended=iso_time(time.time()), images=tuple(images), kind=lineage.kind, parent=lineage.parent,
                    checkpoint=lineage.checkpoint, full_reason=lineage.full_reason, app_version=app_version())
    try:
        write_atomically(os.path.join(folder, MANIFEST), dumps(backup), mode=0o644, replace=False)
    except FileExistsError:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"{folder} already holds a backup manifest") from None
    fsync_file(os.path.dirname(os.path.abspath(folder)))  # the folder's own name, made just before the backup
    return backup


def record_verification(backup: Backup, result: Verification) -> Backup:
    """Store a verify's outcome in the backup's manifest (atomic replace); the updated backup."""
    updated = replace(backup, verification=result)
    try:
        write_atomically(os.path.join(backup.folder, MANIFEST), dumps(updated), mode=0o644)
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"the outcome of the verify could not be recorded in "
                          f"{backup.folder}: {exc.strerror or exc}") from None
    return updated


def qemu_img_check(path: str, fmt: str) -> str | None:
    """What ``qemu-img check`` finds wrong with a qcow2 image (None: consistent; raw has nothing to check)."""
    if fmt != "qcow2":
        return None
    try:
        proc = subprocess.run(["qemu-img", "check", "-q", "-f", fmt, path], capture_output=True, text=True,
                              check=False, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"qemu-img check could not run on {os.path.basename(path)}: {exc}"
    if proc.returncode == 0:
        return None
    detail = (proc.stderr or proc.stdout).strip().splitlines()
    return (f"qemu-img check found {os.path.basename(path)} damaged"
            + (f": {detail[-1]}" if detail else f" (exit status {proc.returncode})"))


def verify(backup: Backup, progress: Progress = no_progress, cancelled: Cancelled = not_cancelled) -> Verification:
    """Check every image of the backup and of its parents against its manifest entry: checksum, ``qemu-img check``.

    OPERATION_ABORTED when cancelled (nothing recorded); the caller records
    the outcome with :func:`record_verification`.
    """
    problems: list[str] = []
    try:
        backups = chain(backup)
    except DriverError as exc:
        backups = [backup]
        problems.append(exc.message)
    present = []
    for member in backups:
        for image in member.images:
            try:
                present.append((member, image, os.stat(member.path(image)).st_size))
            except FileNotFoundError:
                problems.append(f"image {image.file} of disk {image.target} is missing")
            except OSError as exc:
                problems.append(_unreadable(image, exc))
    total = sum(size for _m, _i, size in present)
    done = 0
    for member, image, size in present:
        path = member.path(image)
        try:
            digest = of_file(path, image.algorithm, progress, cancelled, done, total)
        except OSError as exc:
            problems.append(_unreadable(image, exc))
            continue
        finally:
            done += size
        if size != image.bytes or digest != image.checksum:
            problems.append(f"image {image.file} of disk {image.target} does not match the backup's checksum: "
                            "it changed or was damaged after the backup was taken")
            continue
        why = qemu_img_check(path, image.format)
        if why:
            problems.append(why)
    if cancelled():
        raise DriverError(ErrorCode.OPERATION_ABORTED, f"verify of the backup in {backup.folder} stopped")
    return Verification(at=iso_time(time.time()), ok=not problems, problems=tuple(problems))


def _unreadable(image: Image, exc: OSError) -> str:
    return f"image {image.file} of disk {image.target} cannot be read: {exc.strerror or exc}"


def delete(backup: Backup) -> None:
    """Remove a backup: its manifest first (from then on it is no longer listed), then its images and folder.

    Files in the folder that the manifest does not name are left, and then so is the folder.
    """
    os.unlink(os.path.join(backup.folder, MANIFEST))
    for image in backup.images:
        try:
            os.unlink(backup.path(image))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(backup.folder)
    except OSError:
        pass  # something else lives there: not ours to remove
