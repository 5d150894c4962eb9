"""Long operations as jobs with integer ids.

A :class:`JobTable` belongs to one hypervisor state. Ids are positive and never
reused; id 0 means "the domain's current job". While a job runs on a domain,
state-changing calls on that domain fail with OPERATION_INVALID naming the job
(:meth:`JobTable.check_idle`); queries, ``get_job_info`` and ``abort_job``
always work. Cancellation is cooperative: the worker polls
:meth:`Job.raise_if_cancelled` at points where it can roll back cleanly, so a
cancelled job leaves its domain consistent. Finished jobs stay with their final
figures, so a user can see what happened after the fact.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TypeVar, cast

from .errors import DriverError, ErrorCode
from .flags import JobEventDetail, JobOperation, JobState, JobType, JobUnit
from .records import JobInfo

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Progress events are sent at most this often per job.
PROGRESS_INTERVAL = 0.25
#: How many finished jobs a table remembers.
FINISHED_KEPT = 500

_OPERATION_TEXT = {
    JobOperation.SAVE: "save", JobOperation.RESTORE: "restore",
    JobOperation.MIGRATION_OUT: "outgoing migration", JobOperation.MIGRATION_IN: "incoming migration",
    JobOperation.SNAPSHOT: "snapshot", JobOperation.SNAPSHOT_REVERT: "snapshot revert",
    JobOperation.SNAPSHOT_DELETE: "snapshot delete", JobOperation.BACKUP: "backup",
    JobOperation.DUMP: "dump", JobOperation.START: "start", JobOperation.DISK_CREATE: "disk creation",
    JobOperation.BACKUP_VERIFY: "backup verify", JobOperation.BACKUP_RESTORE: "backup restore",
    JobOperation.BACKUP_PRUNE: "backup removal",
    JobOperation.CLONE: "clone",
}


#: Jobs that cannot stop half-way: QEMU loads or deletes an internal snapshot in one main-loop
#: step that job-cancel does not interrupt, and libvirt offers no abort for them either.
UNCANCELLABLE = frozenset({JobOperation.SNAPSHOT_REVERT, JobOperation.SNAPSHOT_DELETE})


def operation_text(op: JobOperation) -> str:
    return _OPERATION_TEXT.get(op, op.name.lower())


class RateMeter:
    """Rolling-average transfer rate over the last ``window`` seconds.

    Returns ``None`` until two samples far enough apart exist: an honest
    "unknown" beats an absurd first figure.
    """

    def __init__(self, window: float = 3.0, min_span: float = 0.2) -> None:
        self._window = window
        self._min_span = min_span
        self._samples: deque[tuple[float, int]] = deque()

    def sample(self, now: float, processed: int) -> None:
        self._samples.append((now, processed))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self._window:
            self._samples.popleft()

    def rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, p0), (t1, p1) = self._samples[0], self._samples[-1]
        span = t1 - t0
        if span < self._min_span:
            return None
        return max(0.0, (p1 - p0) / span)


class Job:
    """One running or finished job; all mutation goes through its lock."""

    def __init__(self, table: JobTable, job_id: int, domain_name: str, domain_uuid: str,
                 operation: JobOperation) -> None:
        self.id = job_id
        self.domain_name = domain_name
        self.domain_uuid = domain_uuid
        self.operation = operation
        self._table = table
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._started_wall = time.time()
        self._started = time.monotonic()
        self._ended: float | None = None
        self._processed = 0
        self._total: int | None = None
        self._unit = JobUnit.BYTES
        self._details: dict[str, float] = {}
        self._state = JobState.RUNNING
        self._error: str | None = None
        self._note: str | None = None
        self._meter = RateMeter()
        self._final_rate: float | None = None
        self._last_event = 0.0
        self._cancel_hooks: list[Callable[[], None]] = []

    # -- worker side -------------------------------------------------------
    def progress(self, processed: int, total: int | None = None, **details: float) -> None:
        """Report bytes processed (of ``total``); emits a throttled JOB progress event."""
        self._report(JobUnit.BYTES, processed, total, details)

    def steps(self, done: int, total: int) -> None:
        """Report progress that is not data moved: ``done`` of ``total`` stages (no rate follows)."""
        self._report(JobUnit.STEPS, done, total, {})

    def _report(self, unit: JobUnit, processed: int, total: int | None, details: dict[str, float]) -> None:
        now = time.monotonic()
        with self._lock:
            if self._state is not JobState.RUNNING:
                return
            self._unit = unit
            self._processed = int(processed)
            if total is not None:
                self._total = int(total)
            self._details.update(details)
            self._meter.sample(now, self._processed)
            due = now - self._last_event >= PROGRESS_INTERVAL
            if due:
                self._last_event = now
        if due:
            self._table._notify(self, JobEventDetail.PROGRESS)

    def note(self, text: str) -> None:
        """Say how the job runs in a sentence (JobInfo.note, after those said before; shown with the job
        and kept after it ends); emits a JOB event."""
        with self._lock:
            self._note = text if not self._note else f"{self._note}; {text}"
        self._table._notify(self, JobEventDetail.PROGRESS)

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def raise_if_cancelled(self) -> None:
        """Call where the worker can stop cleanly; raises OPERATION_ABORTED."""
        if self._cancel.is_set():
            raise DriverError(ErrorCode.OPERATION_ABORTED,
                              f"{operation_text(self.operation)} of '{self.domain_name}': canceled by client")

    def wait_cancel(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking early when cancel is asked."""
        return self._cancel.wait(timeout)

    def on_cancel(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` when cancel is asked (e.g. send QEMU's job-cancel)."""
        with self._lock:
            self._cancel_hooks.append(hook)
            fire = self._cancel.is_set()
        if fire:
            hook()

    # -- table side --------------------------------------------------------
    def request_cancel(self) -> None:
        with self._lock:
            if self._cancel.is_set():
                return
            self._cancel.set()
            hooks = list(self._cancel_hooks)
        for hook in hooks:
            try:
                hook()
            except Exception:
                log.exception("cancel hook of job %d failed", self.id)

    def _finish(self, state: JobState, error: str | None) -> None:
        with self._lock:
            self._state = state
            self._error = error
            self._ended = time.monotonic()
            if state is JobState.COMPLETED and self._total is not None:
                self._processed = self._total
            # what a finished job reports is its average: the bytes it moved over the time it took
            span = self._ended - self._started
            moved = self._unit is JobUnit.BYTES and self._processed > 0 and span > 0
            self._final_rate = self._processed / span if moved else None
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def state(self) -> JobState:
        return self._state

    def info(self) -> JobInfo:
        with self._lock:
            end = self._ended if self._ended is not None else time.monotonic()
            elapsed = end - self._started
            running = self._state is JobState.RUNNING
            if not running:
                rate = self._final_rate
            elif self._unit is JobUnit.BYTES:
                rate = self._meter.rate()
            else:
                rate = None  # steps per second is no transfer rate
            total = self._total
            percent = remaining = None
            if total:
                percent = min(100.0, 100.0 * self._processed / total)
                if running and rate:
                    remaining = max(0.0, (total - self._processed) / rate)
                elif not running:
                    remaining = 0.0 if self._state is JobState.COMPLETED else None
            return JobInfo(
                id=self.id, domain=self.domain_name, operation=self.operation,
                type=JobType.BOUNDED if total else JobType.UNBOUNDED, state=self._state,
                started=self._started_wall, elapsed=elapsed, remaining=remaining,
                processed=self._processed, total=total, rate=rate, percent=percent,
                error=self._error, details=tuple(sorted(self._details.items())),
                domain_uuid=self.domain_uuid, unit=self._unit, note=self._note,
            )


class JobTable:
    """All jobs of one hypervisor state: ids, the busy rule, running and finished jobs."""

    def __init__(self, notify: Callable[[Job, JobEventDetail], None] | None = None) -> None:
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._running: dict[str, Job] = {}  # domain uuid -> its job
        self._all: OrderedDict[int, Job] = OrderedDict()
        self._notify_cb = notify

    def _notify(self, job: Job, detail: JobEventDetail) -> None:
        if self._notify_cb is not None:
            try:
                self._notify_cb(job, detail)
            except Exception:
                log.exception("job event hook failed")

    # -- the busy rule -----------------------------------------------------
    def current(self, uuid: str) -> Job | None:
        with self._lock:
            return self._running.get(uuid)

    def check_idle(self, uuid: str, name: str, action: str) -> None:
        """Raise OPERATION_INVALID naming the job if ``uuid`` has one running."""
        job = self.current(uuid)
        if job is not None:
            raise DriverError(
                ErrorCode.OPERATION_INVALID,
                f"cannot {action} '{name}' while its {operation_text(job.operation)} job "
                f"{job.id} is running; wait for it to finish or cancel it")

    # -- running jobs ------------------------------------------------------
    def begin(self, uuid: str, name: str, operation: JobOperation, action: str) -> Job:
        """Register a running job for a domain (refused if it already has one)."""
        with self._lock:
            self.check_idle(uuid, name, action)
            job = Job(self, next(self._ids), name, uuid, operation)
            self._running[uuid] = job
            self._all[job.id] = job
            while len(self._all) > FINISHED_KEPT and self._trim_one():
                pass
        self._notify(job, JobEventDetail.STARTED)
        return job

    def _trim_one(self) -> bool:
        for job_id, job in self._all.items():
            if job.state is not JobState.RUNNING:
                del self._all[job_id]
                return True
        return False

    def end(self, job: Job, error: BaseException | None) -> None:
        """Record the outcome and free the domain for other calls."""
        if error is None:
            state, text = JobState.COMPLETED, None
        elif isinstance(error, DriverError) and error.code is ErrorCode.OPERATION_ABORTED:
            state, text = JobState.CANCELLED, error.message
        else:
            state = JobState.FAILED
            text = error.message if isinstance(error, DriverError) else f"internal error: {error}"
        job._finish(state, text)
        with self._lock:
            if self._running.get(job.domain_uuid) is job:
                del self._running[job.domain_uuid]
        self._notify(job, JobEventDetail.FINISHED)

    def run(self, job: Job, worker: Callable[[Job], T], asynchronous: bool,
            on_done: Callable[[BaseException | None], None] | None = None) -> T | int:
        """Run ``worker(job)``; return the job id at once when asynchronous.

        Without ASYNC the call blocks and raises the worker's error (a cancel
        from another thread becomes OPERATION_ABORTED), as libvirt does.
        """
        def body() -> T | None:
            error: BaseException | None = None
            result: T | None = None
            try:
                result = worker(job)
            except BaseException as exc:
                error = exc
                if not isinstance(exc, DriverError):
                    log.exception("job %d (%s) crashed", job.id, operation_text(job.operation))
            try:
                if on_done is not None:
                    on_done(error)
            finally:
                self.end(job, error)
            if error is not None and not asynchronous:
                raise error
            return result

        if asynchronous:
            threading.Thread(target=body, name=f"job-{job.id}", daemon=True).start()
            return job.id
        return cast(T, body())  # without ASYNC, body() raises the worker's error or returns its result

    # -- queries -----------------------------------------------------------
    def find(self, uuid: str, name: str, job_id: int) -> Job:
        """Job ``job_id`` of a domain; 0 = its running job, else its latest one."""
        if not isinstance(job_id, int) or job_id < 0:
            raise DriverError(ErrorCode.INVALID_ARG, f"job id must be an integer >= 0, not {job_id!r}")
        with self._lock:
            if job_id == 0:
                job = self._running.get(uuid)
                if job is None:
                    for candidate in reversed(self._all.values()):
                        if candidate.domain_uuid == uuid:
                            return candidate
                    raise DriverError(ErrorCode.NO_JOB, f"domain '{name}' has no job")
                return job
            job = self._all.get(job_id)
        if job is None or job.domain_uuid != uuid:
            raise DriverError(ErrorCode.NO_JOB, f"domain '{name}' has no job with id {job_id}")
        return job

    def by_id(self, job_id: int) -> Job:
        """Any job of the table by its id (domain-less ones such as disk creation too)."""
        if isinstance(job_id, bool) or not isinstance(job_id, int) or job_id <= 0:
            raise DriverError(ErrorCode.INVALID_ARG, f"job id must be a positive integer, not {job_id!r}")
        with self._lock:
            job = self._all.get(job_id)
        if job is None:
            raise DriverError(ErrorCode.NO_JOB, f"there is no job with id {job_id}")
        return job

    def abort(self, uuid: str, name: str, job_id: int = 0) -> Job:
        """Ask a running job to stop; OPERATION_INVALID when there is nothing to abort."""
        if job_id == 0:
            job = self.current(uuid)
            if job is None:
                raise DriverError(ErrorCode.OPERATION_INVALID, f"no job is active on domain '{name}'")
        else:
            job = self.find(uuid, name, job_id)
            if job.state is not JobState.RUNNING:
                raise DriverError(ErrorCode.OPERATION_INVALID,
                                  f"job {job_id} of '{name}' already ended ({job.state.name.lower()})")
        if job.operation is JobOperation.MIGRATION_IN:
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              f"cannot abort the incoming migration of '{name}' here; cancel it on the "
                              "source, or destroy the domain on this host")
        if job.operation in UNCANCELLABLE:
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              f"the {operation_text(job.operation)} job {job.id} of '{name}' cannot be "
                              "cancelled: it cannot stop half-way; wait for it to end")
        job.request_cancel()
        return job

    def list_all(self) -> list[JobInfo]:
        with self._lock:
            jobs = list(self._all.values())
        return [job.info() for job in jobs]

    def running(self) -> list[Job]:
        with self._lock:
            return list(self._running.values())
