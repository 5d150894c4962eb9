"""The simulated storage every ``test:///`` host of one process shares.

Simulated hosts stand for machines on one network with shared storage, so a
disk is visible from all of them when a real file exists at its path, it is
an image of the built-in demo host (they exist only in the simulation), or a
node file's ``<pool>`` lists it, until ``delete_disks`` removes it. A disk made
with ``create_disk`` is a real file, so it is visible for as long as nobody deletes it.
"""
from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterable

from ..diskimage import locally_visible
from ..errors import DriverError, ErrorCode
from ..jobs import Job
from . import jobsim

_lock = threading.Lock()
_known: set[str] = set()
_deleted: set[str] = set()  # simulated disks removed with delete_disks


def register(paths: Iterable[str]) -> None:
    """Add simulated disks to the shared namespace (demo images, pool volumes)."""
    added = [p for p in paths if p]
    with _lock:
        _known.update(added)
        _deleted.difference_update(added)


def forget(path: str) -> bool:
    """Delete a simulated disk (no file behind it); False if there was none at ``path``."""
    with _lock:
        if path in _deleted or not (path in _known or path in _demo_images()):
            return False
        _known.discard(path)
        _deleted.add(path)
        return True


@functools.cache
def _demo_images() -> frozenset[str]:
    """Disk paths of the built-in demo host, whether or not test:///default was opened yet."""
    from .defaults import DEFAULT_NODE_XML
    from .nodexml import parse_node
    return frozenset(d.source for nd in parse_node(DEFAULT_NODE_XML) for d in nd.definition.disks() if d.source)


def visible(paths: list[str]) -> dict[str, bool | None]:
    """True for a simulated or real disk; False otherwise (a test host always can tell)."""
    with _lock:
        known = (_known | _demo_images()) - _deleted
    return {p: p in known or bool(locally_visible(p)) for p in paths}


def create(job: Job, path: str, size: int, rate: float, preallocate: bool) -> None:
    """Write a sparse file of ``size`` bytes at ``path``, whatever the format.

    The simulated hypervisor never reads the image, so a sparse file stands in
    for qcow2 as well as raw. With ``preallocate`` the job takes ``size`` at
    the connection's ``rate`` (the allocation qemu-img would do) and can be
    cancelled, which removes the file; without it, the job completes at once.
    """
    if preallocate:
        job.progress(0, size)
    else:
        job.steps(0, 1)  # a sparse file: nothing is written, so no byte figures
    try:
        with open(path, "xb") as fh:
            fh.truncate(size)
    except FileExistsError:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"{path} already exists; choose a new file name") from None
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot create {path}: {exc.strerror}") from None
    try:
        if preallocate:
            jobsim.transfer(job, size, rate)
        job.raise_if_cancelled()
    except BaseException:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
