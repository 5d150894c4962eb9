"""Waiting for a job to end, for the driver tests of every driver (one copy, not one per file)."""
from __future__ import annotations

import time
from collections.abc import Callable

import drivers


def until_finished(read: Callable[[], drivers.JobInfo], job_id: int, timeout: float) -> drivers.JobInfo:
    """Poll ``read`` until the job has ended; its final info, or AssertionError naming the last state."""
    deadline = time.monotonic() + timeout
    while True:
        info = read()
        if info.finished:
            return info
        assert time.monotonic() < deadline, f"job {job_id} still {info.state.name} after {timeout} s: {info}"
        time.sleep(0.02)


def domain_job_end(dom: drivers.Domain, job_id: int, timeout: float = 60.0) -> drivers.JobInfo:
    """The final info of one of ``dom``'s jobs."""
    return until_finished(lambda: dom.get_job_info(job_id), job_id, timeout)


def connection_job_end(conn: drivers.Connection, job_id: int, timeout: float = 20.0) -> drivers.JobInfo:
    """The final info of any job of ``conn``, a domain-less one (disk creation) too."""
    return until_finished(lambda: next(j for j in conn.list_all_jobs() if j.id == job_id), job_id, timeout)
