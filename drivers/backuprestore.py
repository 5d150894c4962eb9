"""Restoring a catalogued backup: image copies and the new VM's definition.

An image restored in its own format is copied as a file (its data extents,
in the kernel: as fast as ``cp``); into another format, or an incremental
image (a qcow2 whose backing file is its parent backup's image), it goes
through ``qemu-img convert -p``, which reads the whole chain into one
standalone image. Each copy goes to a ``.part`` file beside its destination and gets its name
only once it is complete and on disk, so a cancelled or failed restore leaves
no partial file and, restoring onto a VM, its old disks untouched until every
copy is done. Progress (bytes of virtual size) is the share of the file copied, or what
``qemu-img convert -p`` prints.
"""
from __future__ import annotations

import os
import random
import re
import subprocess
import threading
import uuid as uuidlib
from collections.abc import Callable, Mapping, Sequence

from .backupcatalog import PART_SUFFIX, Backup, is_qcow2
from .checksum import Cancelled, Fraction
from .domxml import DomainXML
from .errors import DriverError, ErrorCode
from .fsutil import fsync_file, publish_new
from .hashcopy import Flusher

#: how often the copy loop looks at the cancel flag and reports progress
TICK = 0.1
_PERCENT = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")

#: bytes per copy_file_range call: a cancel is seen within one of them
COPY_STEP = 16 << 20


def part_path(dest: str) -> str:
    return dest + PART_SUFFIX


def discard(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def fsync_dir(path: str) -> None:
    fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def run_qemu_img(argv: Sequence[str], what: str, fraction: Fraction, cancelled: Cancelled) -> None:
    """Run a ``qemu-img ... -p`` command to its end, passing on the share it prints as done.

    ``what`` names the work in errors. OPERATION_ABORTED once ``cancelled()``
    turns true (qemu-img is killed), OPERATION_FAILED with qemu-img's last line.
    """
    if cancelled():
        raise DriverError(ErrorCode.OPERATION_ABORTED, f"{what} stopped")
    try:
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"qemu-img could not run: {exc.strerror}") from None
    seen = [0.0]
    errors: list[bytes] = []

    def read_progress() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(4096):  # type: ignore[attr-defined]
            found = _PERCENT.findall(chunk)
            if found:
                seen[0] = float(found[-1]) / 100.0

    reader = threading.Thread(target=read_progress, name="qemu-img-progress", daemon=True)
    reader.start()
    stderr_reader = threading.Thread(target=lambda: errors.append(proc.stderr.read() if proc.stderr else b""),
                                     name="qemu-img-stderr", daemon=True)
    stderr_reader.start()
    try:
        while True:
            try:
                proc.wait(TICK)
                break
            except subprocess.TimeoutExpired:
                pass
            fraction(seen[0])
            if cancelled():
                raise DriverError(ErrorCode.OPERATION_ABORTED, f"{what} stopped")
        reader.join(5)
        stderr_reader.join(5)
        if proc.returncode != 0:
            text = b"".join(errors).decode("utf-8", "replace").strip().splitlines()
            raise DriverError(ErrorCode.OPERATION_FAILED, f"{what} failed: "
                              + (text[-1] if text else f"qemu-img exit status {proc.returncode}"))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def convert(src: str, src_fmt: str, part: str, dest_fmt: str, fraction: Fraction, cancelled: Cancelled,
            durable: bool = True) -> None:
    """``qemu-img convert -p`` of ``src`` into the new file ``part``, made durable; removed on any failure.

    Zero areas stay holes (qemu-img skips them), so a sparse image copies as
    fast as its data. OPERATION_ABORTED when ``cancelled()`` turns true.
    ``durable=False`` leaves the fsync to the caller (a backup's, while it hashes the copy).
    """
    if os.path.lexists(part):
        raise DriverError(ErrorCode.OPERATION_INVALID, f"{part} exists: another restore may be writing it")
    argv = ["qemu-img", "convert", "-p", "-W", "-f", src_fmt, "-O", dest_fmt, src, part]
    ok = False
    try:
        run_qemu_img(argv, f"copying {os.path.basename(src)}", fraction, cancelled)
        if durable:
            fsync_file(part)
        fraction(1.0)
        ok = True
    finally:
        if not ok:
            discard(part)


def copy_file(src: str, part: str, fraction: Fraction, cancelled: Cancelled) -> None:
    """Copy the image file ``src`` as it is into the new file ``part`` (same format: no conversion).

    Only the data extents are copied (SEEK_DATA/SEEK_HOLE), in the kernel
    (copy_file_range), so holes stay holes; made durable (written back while it
    grows: :class:`drivers.hashcopy.Flusher`); removed on failure.
    """
    size = os.stat(src).st_size
    ok = False
    with open(src, "rb") as fin:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        flusher = Flusher(fd)
        try:
            os.ftruncate(fd, size)
            pos = 0
            while pos < size:
                try:
                    start = os.lseek(fin.fileno(), pos, os.SEEK_DATA)
                except OSError:  # ENXIO: nothing but a hole up to the end
                    break
                end = os.lseek(fin.fileno(), start, os.SEEK_HOLE)
                while start < end:
                    if cancelled():
                        raise DriverError(ErrorCode.OPERATION_ABORTED,
                                          f"restore of {os.path.basename(src)} stopped")
                    n = os.copy_file_range(fin.fileno(), fd, min(end - start, COPY_STEP), start, start)
                    if n <= 0:
                        raise DriverError(ErrorCode.OPERATION_FAILED, f"{src} ended while it was copied")
                    start += n
                    fraction(start / size)
                pos = end
            flusher.stop()
            os.fsync(fd)
            fraction(1.0)
            ok = True
        except OSError as exc:
            raise DriverError(ErrorCode.OPERATION_FAILED,
                              f"copying {os.path.basename(src)} failed: {exc.strerror}") from None
        finally:
            flusher.stop()
            os.close(fd)
            if not ok:
                discard(part)


def copy_images(backup: Backup, dests: Mapping[str, tuple[str, str]], progress: Callable[[int, int], None],
                cancelled: Cancelled) -> list[tuple[str, str]]:
    """Copy every image of ``backup`` to ``dests[target] = (path, format)`` as ``.part`` files.

    Returns the (part, destination) pairs; on failure or cancel none is left.
    ``progress`` gets bytes of virtual size done and in all.
    """
    total = sum(i.virtual_size for i in backup.images)
    done = 0
    parts: list[tuple[str, str]] = []
    try:
        for image in backup.images:
            dest, fmt = dests[image.target]
            part = part_path(dest)

            def report(frac: float, base: int = done, size: int = image.virtual_size) -> None:
                progress(base + int(frac * size), total)
            parts.append((part, dest))
            chained = image.backing is not None and is_qcow2(backup.path(image))
            if fmt == image.format and not chained:
                copy_file(backup.path(image), part, report, cancelled)
            else:
                convert(backup.path(image), image.format, part, fmt, report, cancelled)
            done += image.virtual_size
    except BaseException:
        for part, _ in parts:
            discard(part)
        raise
    return parts


def drop_cached(paths: Sequence[str]) -> threading.Thread:
    """Have the kernel drop its cached pages of files about to be replaced, in a thread of its own.

    The rename that replaces a file frees its cached pages, which takes a while
    for a large disk; done while the copies are made, that work is off the
    restore's path. The files themselves are not changed. Join the thread before
    replacing them.
    """
    def drop() -> None:
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue  # nothing to drop; the restore itself says what is wrong with the file
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
    thread = threading.Thread(target=drop, name="restore-drop-cache", daemon=True)
    thread.start()
    return thread


def publish(parts: Sequence[tuple[str, str]], replace: bool) -> None:
    """Give finished copies their names: new files only, or (``replace``) each over the old disk atomically."""
    for part, dest in parts:
        if replace:
            os.replace(part, dest)
        else:
            try:
                publish_new(part, dest)
            except FileExistsError:
                raise DriverError(ErrorCode.OPERATION_INVALID, f"{dest} appeared meanwhile; nothing was "
                                  "overwritten") from None
        fsync_dir(dest)


def random_mac() -> str:
    """A locally administered MAC in QEMU's 52:54:00 range."""
    tail = random.SystemRandom().getrandbits(24)
    return "52:54:00:" + ":".join(f"{(tail >> s) & 0xFF:02x}" for s in (16, 8, 0))


def new_vm_paths(backup: Backup, name: str, image_dir: str) -> dict[str, tuple[str, str]]:
    """Where a restore to a new VM ``name`` puts each image: ``<image_dir>/<name>-<target>.<format>``."""
    return {i.target: (os.path.join(image_dir, f"{name}-{i.target}.{i.format}"), i.format) for i in backup.images}


def new_vm_xml(backup: Backup, name: str, paths: Mapping[str, tuple[str, str]]) -> str:
    """The backed-up definition as a new VM: new name, uuid and MACs, its disks on the restored copies.

    Writable disks the backup did not hold are left out, so the new VM never
    shares an image with the original.
    """
    dx = DomainXML.parse(backup.domain_xml)
    dx.name = name
    dx.uuid = str(uuidlib.uuid4())
    for iface in dx.interface_nodes():
        iface.mac = random_mac()
    for node in dx.disk_nodes():
        if node.target in paths:
            node.source = paths[node.target][0]
            node.format = paths[node.target][1]
        elif node.device == "disk" and not node.readonly and node.source:
            dx.remove_disk(node.target)
    if "id" in dx.root.attrib:  # a live definition's runtime id
        del dx.root.attrib["id"]
    return dx.to_string()


def onto_paths(backup: Backup, definition: DomainXML) -> dict[str, tuple[str, str]]:
    """The current disks of a VM the backup is restored onto: (image file, format) per backed-up target."""
    out = {}
    disks = {n.target: n for n in definition.disk_nodes()}
    for image in backup.images:
        node = disks.get(image.target)
        if node is None or not node.source:
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              f"'{definition.name}' has no disk {image.target} to restore {image.file} onto")
        if node.type != "file":
            raise DriverError(ErrorCode.NO_SUPPORT, f"disk {image.target} of '{definition.name}' is not an image "
                              "file; only image files can be restored onto")
        out[image.target] = (node.source, node.format or "raw")
    return out
