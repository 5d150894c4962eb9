"""Removing catalogued backups without breaking the ones kept: a backup a kept incremental depends on
is first merged into that child.

An incremental's image is a qcow2 whose backing file is its parent's image
(``../<parent id>/<file>``). Before the parent goes, each child image is copied
to a ``.part`` file beside it, and the copy is rebased (``qemu-img rebase``)
onto the parent's own backing (or onto nothing, when the parent is a full
backup: the child then holds every byte and becomes a full backup itself); it is
synced, hashed and renamed over the child's image only when every image of the
child is ready, and then the child's manifest is rewritten atomically (new
checksum and size, ``kind``/``parent``/``backing`` updated). Only after that is
the parent deleted. Backups are removed newest first, so a child that is
removed too is gone before its parent and is never merged for nothing.

A cancel (or a failure) between these steps leaves every backup restorable:
an unfinished merge leaves only ``.part`` files, which are removed, and the
parent is deleted only after its children no longer need it. A crash between
renaming a rebased image and rewriting its manifest leaves the image whole (its
header names its new backing) but the manifest's checksum stale, which verify
reports; the parent is still there then.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

from . import backupcatalog, backuprestore, checksum
from .backupcatalog import MANIFEST, Backup, Image
from .checksum import Cancelled, Progress, no_progress, not_cancelled
from .errors import DriverError, ErrorCode
from .fsutil import fsync_file, write_atomically


def siblings(backup: Backup) -> str:
    """The backups folder ``backup`` lies in, where its parent and children lie too."""
    return os.path.dirname(os.path.abspath(backup.folder))


def children(backup: Backup, family: Sequence[Backup]) -> list[Backup]:
    """The incrementals in ``family`` whose parent is ``backup`` (in the same backups folder)."""
    home = siblings(backup)
    return [b for b in family if b.parent == backup.id and b.kind == "incremental" and siblings(b) == home]


def backing_of(backup: Backup, image: Image) -> str:
    """The relative backing file a child of ``backup`` names for ``image``: ``../<id>/<file>``."""
    return f"../{backup.id}/{image.file}"


def _stopped(what: str) -> DriverError:
    return DriverError(ErrorCode.OPERATION_ABORTED, f"{what} stopped")


def _grandparent_image(parent: Backup, image: Image, family: Sequence[Backup]) -> tuple[str | None, str]:
    """What a child image backed by ``image`` of ``parent`` is rebased onto: (backing or None, its format)."""
    if image.backing is None:
        return None, image.format
    wanted = os.path.normpath(os.path.join(parent.folder, image.backing))
    for other in family:
        for theirs in other.images:
            if os.path.normpath(other.path(theirs)) == wanted:
                return image.backing, theirs.format
    raise DriverError(ErrorCode.OPERATION_FAILED, f"the backup {parent.id} depends on {image.backing}, which is "
                      "not a catalogued backup beside it; its children cannot be merged")


def merge_into(parent: Backup, child: Backup, family: Sequence[Backup], progress: Progress = no_progress,
               cancelled: Cancelled = not_cancelled, done: int = 0, total: int = 0) -> Backup:
    """Make ``child`` independent of ``parent``: each image that ``parent`` backs is rebased past it.

    Returns the child as its rewritten manifest describes it. The child's
    images change only once every rebased copy is complete and on disk; a
    cancel or failure before that leaves it untouched and no ``.part`` file.
    """
    by_backing = {backing_of(parent, i): i for i in parent.images}
    parts: list[tuple[str, str]] = []
    images: list[Image] = []
    try:
        for image in child.images:
            base = by_backing.get(image.backing or "")
            if base is None:
                images.append(image)
                continue
            new_backing, new_format = _grandparent_image(parent, base, family)
            path = child.path(image)
            part = backuprestore.part_path(path)
            what = f"merging {parent.id} into {child.id}"

            def report(frac: float, start: int = done, size: int = image.virtual_size) -> None:
                progress(start + int(frac * size * 0.5), total)
            backuprestore.discard(part)  # left by a prune that crashed: one prune per folder runs at a time
            backuprestore.copy_file(path, part, report, cancelled)
            parts.append((part, path))
            argv = ["qemu-img", "rebase", "-p", "-f", image.format, "-b", new_backing or ""]
            if new_backing is not None:
                argv += ["-F", new_format]

            def report_rebase(frac: float, start: int = done, size: int = image.virtual_size) -> None:
                progress(start + int(size * 0.5 + frac * size * 0.5), total)
            backuprestore.run_qemu_img([*argv, part], what, report_rebase, cancelled)
            fsync_file(part)
            digest = checksum.of_file(part, checksum.ALGORITHM, cancelled=cancelled)
            done += image.virtual_size
            progress(done, total)
            images.append(replace(image, backing=new_backing, checksum=digest, algorithm=checksum.ALGORITHM,
                                  bytes=os.stat(part).st_size))
        if cancelled():
            raise _stopped(f"merging {parent.id} into {child.id}")
    except BaseException:
        for part, _ in parts:
            backuprestore.discard(part)
        raise
    for part, path in parts:
        os.replace(part, path)
    if parts:
        backuprestore.fsync_dir(parts[0][1])
    independent = all(i.backing is None for i in images)
    updated = replace(child, images=tuple(images), parent=parent.parent if not independent else None,
                      kind="full" if independent else child.kind)
    write_atomically(os.path.join(child.folder, MANIFEST), backupcatalog.dumps(updated), mode=0o644)
    return updated


def _newest_first(backups: Sequence[Backup]) -> list[Backup]:
    return sorted(backups, key=lambda b: (b.started, b.folder), reverse=True)


def _merged_bytes(parent: Backup, child: Backup) -> int:
    backed = {backing_of(parent, i) for i in parent.images}
    return sum(i.virtual_size for i in child.images if i.backing in backed)


def merge_size(doomed: Sequence[Backup], family: Sequence[Backup]) -> int:
    """The virtual bytes a prune of ``doomed`` rebases, merge by merge (a child merged twice counts twice)."""
    gone = {b.folder for b in doomed}
    home = {b.folder: siblings(b) for b in family}
    parent_of = {b.folder: b.parent for b in family if b.kind == "incremental"}
    total = 0
    for backup in _newest_first(doomed):
        for child in family:
            if child.folder not in gone and parent_of.get(child.folder) == backup.id \
                    and home[child.folder] == siblings(backup):
                total += sum(i.virtual_size for i in child.images if i.backing is not None)
                parent_of[child.folder] = backup.parent  # the merged child now hangs from the removed one's parent
    return total


def prune(doomed: Sequence[Backup], family: Sequence[Backup], progress: Progress = no_progress,
          cancelled: Cancelled = not_cancelled) -> list[str]:
    """Delete the backups ``doomed``, newest first, merging each into its children that stay.

    ``family`` is every catalogued backup beside them (their parents and
    children). Returns the ids removed. OPERATION_ABORTED on a cancel: what
    was removed by then is gone, everything else restores as before.
    """
    current = {b.folder: b for b in family}
    for backup in doomed:
        current.setdefault(backup.folder, backup)
    total = merge_size(doomed, list(current.values()))
    done = 0
    removed = []
    for backup in _newest_first(doomed):
        if cancelled():
            raise _stopped(f"removing the backup {backup.id}")
        backup = current[backup.folder]
        for child in children(backup, list(current.values())):
            size = _merged_bytes(backup, child)
            current[child.folder] = merge_into(backup, child, list(current.values()), progress, cancelled,
                                               done, total)
            done += size
        backupcatalog.delete(backup)
        del current[backup.folder]
        removed.append(backup.id)
        progress(done, total)
    return removed
