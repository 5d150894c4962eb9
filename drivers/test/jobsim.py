"""Simulated transfers: progress that advances with time at the connection's rate."""
from __future__ import annotations

import time

from ..jobs import Job

TICK = 0.05  # seconds between progress updates; also the cancel latency


def transfer(job: Job, total: int, rate: float, **details: float) -> None:
    """Advance ``job`` from 0 to ``total`` bytes at ``rate`` bytes/s.

    Cancellation is checked every tick and raises OPERATION_ABORTED, before
    anything irreversible happened: callers commit only after this returns.
    """
    start = time.monotonic()
    job.progress(0, total, **details)
    while True:
        job.raise_if_cancelled()
        done = min(total, int((time.monotonic() - start) * rate))
        job.progress(done, total, **details)
        if done >= total:
            return
        job.wait_cancel(min(TICK, (total - done) / rate))


def one_step(job: Job, seconds: float) -> None:
    """A job of one step that takes ``seconds`` and moves no data (its figures are steps, not bytes)."""
    job.steps(0, 1)
    deadline = time.monotonic() + seconds
    while True:
        job.raise_if_cancelled()
        left = deadline - time.monotonic()
        if left <= 0:
            return
        job.wait_cancel(min(TICK, left))
