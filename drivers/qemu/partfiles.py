"""Job outputs (save images, backup targets) written under a temporary name.

A job writes ``DIR/.NAME.<random>.part`` and renames it to ``DIR/NAME`` only
once the job completed and the data is on disk, so a file under its final
name is always whole: a job interrupted at any point (the process driving it
killed, QEMU gone, the machine down) leaves at most a ``.part`` file, which
the next connection to the root removes (see recovery.py).
"""
from __future__ import annotations

import os
import secrets

from ..diskimage import already_exists
from ..errors import DriverError, ErrorCode
from ..fsutil import fsync_file, publish_new

SUFFIX = ".part"


def part_name(final: str) -> str:
    """A fresh temporary name beside ``final`` (hidden, so file pickers skip it)."""
    folder, base = os.path.split(final)
    return os.path.join(folder, f".{base}.{secrets.token_hex(4)}{SUFFIX}")


def _sync_dir(folder: str) -> None:
    fd = os.open(folder or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(part: str, final: str, *, replace: bool) -> None:
    """Make the complete ``part`` file durable and give it its final name.

    ``replace=False`` never overwrites a file that appeared under the final
    name meanwhile (:func:`drivers.fsutil.publish_new`): OPERATION_INVALID then,
    and ``part`` stays for the caller to discard.
    """
    try:
        fsync_file(part)
        if replace:
            os.replace(part, final)
        else:
            try:
                publish_new(part, final)
            except FileExistsError:
                raise already_exists(final) from None
        _sync_dir(os.path.dirname(final))
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED,
                          f"cannot store {final} on disk: {exc.strerror or exc}") from None


def discard(path: str) -> bool:
    """Remove a temporary file; True if there was one."""
    try:
        os.unlink(path)
    except OSError:
        return False
    return True
