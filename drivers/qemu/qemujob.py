"""QEMU's own jobs (snapshot-save, snapshot-load, snapshot-delete): run one and wait for it to conclude."""
from __future__ import annotations

from typing import Any

from ..errors import DriverError, ErrorCode
from ..jobs import Job
from .state import LiveVM


def run_qemu_job(vm: LiveVM, job_id: str, cmd: str, args: dict[str, Any], job: Job | None, what: str,
                 cancellable: bool = False) -> None:
    """Run a QEMU job command and wait for it to conclude; progress from query-jobs."""
    vm.execute(cmd, {"job-id": job_id, **args})
    if job is not None and cancellable:
        job.on_cancel(lambda: _quiet(vm, "job-cancel", {"id": job_id}))
    while True:
        found = None
        for info in vm.execute("query-jobs"):
            if info.get("id") == job_id:
                found = info
        if found is None:
            raise DriverError(ErrorCode.OPERATION_FAILED, f"{what}: QEMU lost job {job_id}")
        if job is not None and found.get("total-progress"):
            job.steps(int(found.get("current-progress") or 0), int(found["total-progress"]))
        if found.get("status") in ("concluded", "null"):
            _quiet(vm, "job-dismiss", {"id": job_id})
            if found.get("error"):
                if job is not None and cancellable and job.cancel_requested:
                    job.raise_if_cancelled()
                raise DriverError(ErrorCode.OPERATION_FAILED, f"{what}: {found['error']}")
            return
        vm.wakeup.wait(0.1)  # JOB_STATUS_CHANGE events wake us at once
        vm.wakeup.clear()


def _quiet(vm: LiveVM, cmd: str, args: dict[str, Any]) -> None:
    try:
        vm.execute(cmd, args, timeout=5)
    except DriverError:
        pass
