"""Worker-thread steps of making a new domain: its disk image and, when its definition fails, undoing it.

They run inside one bridge call each (see :class:`vmgui.models.session.Session`),
so the folder check, the folder creation and the driver call happen together
off the UI thread.
"""
from __future__ import annotations

import logging
import os

import drivers
from drivers import DiskCreateFlags, DriverError, JobFlags

from .newvm import NewVMPlan

log = logging.getLogger(__name__)


def create_disk(conn: drivers.Connection, plan: NewVMPlan) -> int:
    """Start the plan's DISK_CREATE job and return its id; the default image folder is made on first use."""
    path = plan.disk_target()
    if plan.needs_image_dir():
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    flags = int(JobFlags.ASYNC) | (int(DiskCreateFlags.PREALLOCATE) if plan.preallocate else 0)
    job_id = conn.create_disk(path, plan.disk_size, plan.disk_format, flags)
    if job_id is None:  # ASYNC always answers with a job id; a driver that did not broke its contract
        raise DriverError(drivers.ErrorCode.INTERNAL_ERROR, f"{conn.uri} created {path} without a job to follow")
    return job_id


def remove_new_disk(conn: drivers.Connection, path: str) -> None:
    """The disk made for a definition that failed goes again, deleted by the driver.

    The define's error is what the user must read: a refusal here (something
    uses the file by now) keeps the file and is only logged.
    """
    try:
        conn.delete_disks([path])
    except DriverError as exc:
        log.warning("keeping the new disk %s: %s", path, exc)
