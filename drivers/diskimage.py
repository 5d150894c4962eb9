"""Rules every driver's ``create_disk`` and ``storage_visible`` share.

One place decides what a valid request is (so the test driver refuses exactly
what qemu-img would be asked to do and the qemu driver refuses) and what
"this host sees that disk" means on a local filesystem.
"""
from __future__ import annotations

import os
from collections.abc import Iterable

from .errors import DriverError, ErrorCode, invalid_arg

FORMATS = ("qcow2", "raw")


def check_path(path: object, what: str = "path") -> str:
    """An absolute path without NUL or newline; INVALID_ARG otherwise."""
    if not isinstance(path, str) or not path:
        raise invalid_arg(f"{what} must be a non-empty string, not {path!r}")
    if not os.path.isabs(path):
        raise invalid_arg(f"{what} {path!r} must be absolute")
    if any(c in path for c in "\x00\n\r"):
        raise invalid_arg(f"{what} {path!r} contains a control character")
    return path


def check_create_args(path: object, size_bytes: object, fmt: object) -> tuple[str, int, str]:
    """The (path, size, format) of a valid ``create_disk`` call; INVALID_ARG or OPERATION_INVALID else."""
    path = check_path(path, "disk path")
    if fmt not in FORMATS:
        raise invalid_arg(f"disk format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes <= 0:
        raise invalid_arg(f"disk size must be a positive number of bytes, not {size_bytes!r}")
    if size_bytes % 512:
        raise invalid_arg("disk size must be a multiple of 512 bytes")
    if os.path.lexists(path):
        raise DriverError(ErrorCode.OPERATION_INVALID, f"{path} already exists; choose a new file name")
    if not os.path.isdir(os.path.dirname(path)):
        raise invalid_arg(f"the folder of {path} does not exist")
    return path, size_bytes, str(fmt)


def job_key(path: str) -> str:
    """The job-table key of a disk creation: it belongs to no domain, so the busy rule is per file."""
    return f"disk:{path}"


def check_path_list(paths: object) -> list[str]:
    """``storage_visible``'s argument: a list of strings (INVALID_ARG otherwise)."""
    if isinstance(paths, (str, bytes)) or not isinstance(paths, Iterable):
        raise invalid_arg(f"paths must be a list of file paths, not {paths!r}")
    checked = list(paths)
    for path in checked:
        if not isinstance(path, str):
            raise invalid_arg(f"a disk path must be a string, not {path!r}")
    return checked


def locally_visible(path: str) -> bool | None:
    """Whether this machine's filesystem holds a usable disk at ``path``.

    A directory or a dangling symlink is no disk (False); a relative path says
    nothing about where it would be looked up (None).
    """
    if not os.path.isabs(path) or "\x00" in path:
        return None
    return os.path.exists(path) and not os.path.isdir(path)
