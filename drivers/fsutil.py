"""File writes that never leave half a file behind (configs, save images, state)."""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def publish_new(tmp: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Give the finished file ``tmp`` the name ``target`` only if nothing has that name.

    A hard link cannot replace anything, unlike a rename: FileExistsError if
    ``target`` (a file, a symlink, a device node) appeared meanwhile, and then
    ``tmp`` is left for the caller to remove. On a file system without hard
    links (FAT, some FUSE ones) the name is looked up first and then renamed:
    a narrow race there, which no caller can avoid on such a file system.
    """
    try:
        os.link(tmp, target, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "File exists", os.fspath(target)) from None
        os.rename(tmp, target)
        return
    os.unlink(tmp)


def write_atomically(path: str | os.PathLike[str], data: bytes | str, mode: int = 0o600,
                     durable: bool = True, replace: bool = True) -> None:
    """Write ``path`` so that it holds either all of ``data`` or its old content.

    The data goes to a temporary file in the same folder, is fsynced, renamed
    over the target, and the folder is fsynced so the rename survives a crash.
    ``durable=False`` skips the fsyncs for runtime state that a reboot makes
    meaningless anyway (readers still never see half a file). ``replace=False``
    creates a new file only (:func:`publish_new`): FileExistsError if ``path`` exists.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, target)
        else:
            publish_new(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if not durable:
        return
    dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Wait until the kernel has written the file's data to disk (it may already be closed)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: sync_file_range(2) flag: start writing back the dirty pages, wait for none of them
_SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _sync_file_range() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


def start_write_back(fd: int) -> None:
    """Have the kernel start writing the file's dirty pages to disk, without waiting for them.

    Unlike fsync this commits no journal and waits for no page, so a writer of the
    same file (QEMU's backup, a copy) goes on at full speed while the disk catches up;
    the final fsync then has little left to do. Where sync_file_range is missing
    (no Linux libc) nothing is started and the final fsync does all the work: an
    fsync here would take a write error the kernel reports once per file away from it.
    """
    call = _sync_file_range()
    if call is None:
        return
    if call(fd, 0, 0, _SYNC_FILE_RANGE_WRITE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def write_json(path: str | os.PathLike[str], data: dict[str, Any], durable: bool = True) -> None:
    write_atomically(path, json.dumps(data, indent=1, sort_keys=True), durable=durable)


def read_json(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The JSON object in ``path``, or ``None`` if it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
