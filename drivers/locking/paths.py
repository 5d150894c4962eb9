"""Canonical identity of a disk resource, and the lease names derived from it.

A resource gets up to two lease names, and a holder locks all of them:

* ``path``: SHA-256 of the canonical path (``realpath``: symlinks and ``..``
  resolved). Works for files that do not exist yet and across hosts that see
  the image under the same path (the indirect lease of libvirt's lockd).
* ``inode``: SHA-256 of the file's identity while it exists: ``st_rdev`` for a
  block device (every node and symlink of the device agree), else
  ``st_dev:st_ino``. This catches hard links, which have a different realpath.

Two paths conflict when they share any lease name, so a hard link collides on
``inode`` and a not-yet-created file collides on ``path``.
"""
from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from drivers.errors import DriverError, ErrorCode


@dataclass(frozen=True)
class LeaseKey:
    """One lease name: ``name`` is the lease file's name, ``what`` the text hashed."""

    name: str
    what: str


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def check_path(path: object, *, cwd: str | os.PathLike[str] | None = None) -> str:
    """Validate a resource path and return it absolute; INVALID_ARG if unusable.

    Relative paths are refused (a lease must not depend on whose working
    directory it was computed in) unless ``cwd`` says what they are relative to.
    """
    if isinstance(path, Path):
        path = str(path)
    if not isinstance(path, str):
        raise DriverError(ErrorCode.INVALID_ARG, f"resource path must be a string, not {type(path).__name__}")
    if not path:
        raise DriverError(ErrorCode.INVALID_ARG, "resource path is empty")
    if "\0" in path:
        raise DriverError(ErrorCode.INVALID_ARG, f"resource path {path!r} contains a NUL byte")
    if not os.path.isabs(path):
        if cwd is None:
            raise DriverError(ErrorCode.INVALID_ARG,
                              f"resource path {path!r} is relative; give a fully qualified path")
        path = os.path.join(os.fspath(cwd), path)
    return path


def canonical_path(path: object, *, cwd: str | os.PathLike[str] | None = None) -> str:
    """The realpath of a validated resource path (dangling symlinks resolved as far as they go)."""
    try:
        return os.path.realpath(check_path(path, cwd=cwd))
    except OSError as exc:  # e.g. ELOOP on a symlink loop
        raise DriverError(ErrorCode.INVALID_ARG, f"cannot resolve resource path {path!r}: {exc.strerror}") from None


def lease_keys(path: object, *, cwd: str | os.PathLike[str] | None = None) -> tuple[str, tuple[LeaseKey, ...]]:
    """Return (canonical path, lease keys) of a resource; the path key comes first."""
    real = canonical_path(path, cwd=cwd)
    keys = [LeaseKey(_sha(real), f"path:{real}")]
    try:
        st = os.stat(real)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise DriverError(ErrorCode.INTERNAL_ERROR, f"cannot stat resource {real!r}: {exc.strerror}") from None
    else:
        if stat.S_ISBLK(st.st_mode):
            what = f"blockdev:{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
        else:
            what = f"inode:{st.st_dev}:{st.st_ino}"
        keys.append(LeaseKey(_sha(what), what))
    return real, tuple(keys)


def lease_name(path: object, *, cwd: str | os.PathLike[str] | None = None) -> str:
    """The name identifying a resource: its inode lease if it exists, else its path lease.

    Every alias of an existing file (symlink, ``..``, hard link, relative path
    with its ``cwd``) gives the same name.
    """
    return lease_keys(path, cwd=cwd)[1][-1].name
