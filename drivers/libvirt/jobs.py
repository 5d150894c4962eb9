"""libvirt jobs as vmgui jobs: stable ids, progress polling, completion.

libvirt keeps at most one (async) job per domain and gives it no id: the job
*is* "whatever the domain is doing now", read with ``virDomainGetJobStats`` and,
once finished, ``virDomainGetJobStats(COMPLETED)``. vmgui needs ids that stay
valid after the job ended, so the bridge maps them like this:

* A **job id** is a positive integer from a per-connection counter
  (:class:`drivers.jobs.JobTable`), never reused. It names one *run* of
  libvirt's per-domain job slot: the span from the moment vmgui started the
  operation (or first saw libvirt report a job it did not start) until libvirt
  reports that job finished. The key is ``(domain uuid, run)``: at any time a
  domain has at most one running vmgui job, exactly as libvirt has at most one
  async job, so ``job_id=0`` ("the current job") and libvirt's implicit current
  job always agree.
* Jobs vmgui starts (save, managed save, restore, snapshot, start, migration,
  backup) get their id before (or atomically with) the libvirt call.
  Jobs started by another client (virsh, virt-manager) get an id when vmgui
  first sees them: ``get_job_info(0)``/``abort_job(0)`` on a busy domain, or a
  JOB_COMPLETED event for a domain with no vmgui job (recorded as a finished
  job with libvirt's completed statistics).
* A job ends when its API call returns (blocking libvirt calls run on a job
  thread), or, for calls that return at once (backup), when libvirt emits
  JOB_COMPLETED or ``jobStats`` reports no job; the final figures and the
  success/error come from libvirt's completed-job statistics
  (``COMPLETED|KEEP_COMPLETED``, so other clients can still read them).
* Progress: one poller thread per connection calls ``jobStats`` of every
  running job at :data:`POLL_HZ` and emits JOB progress events; a host that
  hangs only stalls its own poller.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import DriverError, ErrorCode
from ..flags import JobOperation
from ..jobs import Job, JobTable

log = logging.getLogger(__name__)

POLL_HZ = 3.0
#: A JOB_COMPLETED this soon after vmgui's own job ended belongs to that job.
RECENT_S = 10.0
# virDomainJobType
JOB_NONE, JOB_BOUNDED, JOB_UNBOUNDED, JOB_COMPLETED, JOB_FAILED, JOB_CANCELLED = range(6)
STATS_COMPLETED = 1 << 0
STATS_KEEP_COMPLETED = 1 << 1

_DETAIL_KEYS = {
    "memory_remaining": "remaining_bytes", "memory_dirty_rate": "dirty_rate",
    "downtime": "expected_downtime_ms", "memory_iteration": "iteration",
    "memory_bps": "memory_bps", "disk_bps": "disk_bps", "disk_temp_used": "disk_temp_used",
    "disk_temp_total": "disk_temp_total", "setup_time": "setup_time_ms",
}


def operation_of(stats: dict[str, Any], default: JobOperation = JobOperation.UNKNOWN) -> JobOperation:
    try:
        return JobOperation(int(stats.get("operation", default)))
    except ValueError:
        return default


def figures(stats: dict[str, Any]) -> tuple[int, int | None, dict[str, float]] | None:
    """(processed, total, details) from libvirt's typed job parameters.

    ``data_*`` (everything) wins, then ``disk_*`` (backup, storage copy), then
    ``memory_*`` (save, migration); a group whose total is 0 (say, the disk figures
    of a migration without storage copy) does not count.
    """
    details = {ours: float(stats[key]) for key, ours in _DETAIL_KEYS.items() if key in stats}
    fallback = None
    for prefix in ("data", "disk", "memory"):
        total = stats.get(f"{prefix}_total")
        processed = stats.get(f"{prefix}_processed")
        remaining = stats.get(f"{prefix}_remaining")
        if processed is None and total is not None and remaining is not None:
            processed = total - remaining
        if total:
            return int(processed or 0), int(total), details
        if processed and fallback is None:
            fallback = (int(processed), None, details)
    return fallback


class Tracked:
    __slots__ = ("job", "get_vdom", "watch", "completed_params", "completed")

    def __init__(self, job: Job, get_vdom: Callable[[], Any], watch: bool) -> None:
        self.job = job
        self.get_vdom = get_vdom
        self.watch = watch  # True: finished when libvirt says so; False: when our call returns
        self.completed_params: dict[str, Any] | None = None
        self.completed = threading.Event()  # JOB_COMPLETED seen


class JobTracker:
    """Running libvirt jobs of one connection and the thread that polls them."""

    def __init__(self, table: JobTable, name: str) -> None:
        self.table = table
        self.lock = threading.RLock()  # held across 'libvirt call + track' so events wait
        self._tracked: dict[int, Tracked] = {}
        self._recent: dict[str, tuple[float, Job]] = {}  # uuid -> (when, job) untracked lately
        self._completions: list[tuple[str, str, dict[str, Any], Callable[[], Any]]] = []
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"libvirt-jobs {name}", daemon=True)
        self._thread.start()
        self.stats_supported = True
        self.paused = False  # set while the connection is lost

    # -- registration -------------------------------------------------------
    def track(self, job: Job, get_vdom: Callable[[], Any], watch: bool = False) -> Tracked:
        with self.lock:
            tracked = Tracked(job, get_vdom, watch)
            self._tracked[job.id] = tracked
        self._wake.set()
        return tracked

    def untrack(self, job: Job) -> None:
        with self.lock:
            tracked = self._tracked.pop(job.id, None)
            if tracked is not None and not tracked.completed.is_set():  # its JOB_COMPLETED may trail
                self._recent[job.domain_uuid] = (time.monotonic(), job)

    def _recently_ended(self, uuid: str, params: dict[str, Any]) -> bool:
        """A JOB_COMPLETED that arrives just after vmgui's own call returned is that job's."""
        entry = self._recent.get(uuid)
        if entry is None or time.monotonic() - entry[0] > RECENT_S:
            return False
        if operation_of(params) not in (JobOperation.UNKNOWN, entry[1].operation):
            return False
        del self._recent[uuid]  # one completion per job
        return True

    def tracked_for(self, uuid: str) -> Tracked | None:
        with self.lock:
            for tracked in self._tracked.values():
                if tracked.job.domain_uuid == uuid:
                    return tracked
        return None

    def job_completed(self, uuid: str, name: str, params: dict[str, Any],
                      get_vdom: Callable[[], Any]) -> None:
        """libvirt's JOB_COMPLETED event (called on the libvirt event-loop thread)."""
        with self.lock:
            self._completions.append((uuid, name, dict(params), get_vdom))
        self._wake.set()

    def close(self) -> None:
        self._stop = True
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    # -- finishing ------------------------------------------------------------
    @staticmethod
    def apply(job: Job, stats: dict[str, Any]) -> None:
        got = figures(stats)
        if got is not None:
            processed, total, details = got
            job.progress(processed, total, **details)

    def final_stats(self, vdom: Any) -> dict[str, Any]:
        """libvirt's statistics of the domain's last finished job ({} when unknown)."""
        if not self.stats_supported or vdom is None:
            return {}
        try:
            return dict(vdom.jobStats(STATS_COMPLETED | STATS_KEEP_COMPLETED))
        except Exception as exc:  # noqa: BLE001 - figures are a bonus, never a failure
            from .errors import libvirt_code
            if libvirt_code(exc) in (3, 84):
                self.stats_supported = False
            return {}

    def final_for(self, tracked: Tracked, vdom: Any, wait: float = 1.0) -> dict[str, Any]:
        """Final figures of a job whose call just returned: the JOB_COMPLETED event's,
        else libvirt's completed-job stats, else (the domain may be gone, e.g. migrated
        away) the event's after all, which may trail the call by a moment."""
        final = tracked.completed_params or self.final_stats(vdom)
        if not final and self.stats_supported and tracked.completed.wait(wait):
            final = tracked.completed_params or {}
        return final

    def finish_watched(self, tracked: Tracked, stats: dict[str, Any]) -> None:
        job = tracked.job
        self.untrack(job)
        if stats:
            self.apply(job, stats)
        success = stats.get("success")
        kind = stats.get("type")
        error: DriverError | None = None
        if success is False or kind in (JOB_FAILED, JOB_CANCELLED):
            text = stats.get("errmsg") or "the job failed"
            if job.cancel_requested or kind == JOB_CANCELLED:
                error = DriverError(ErrorCode.OPERATION_ABORTED, f"{text} (canceled by client)"
                                    if "cancel" not in text.lower() else text)
            else:
                error = DriverError(ErrorCode.OPERATION_FAILED, text)
        elif success is None and job.cancel_requested:
            error = DriverError(ErrorCode.OPERATION_ABORTED, "canceled by client")
        self.table.end(job, error)

    # -- the poller -----------------------------------------------------------
    def _run(self) -> None:
        interval = 1.0 / POLL_HZ
        while not self._stop:
            with self.lock:
                busy = bool(self._tracked) or bool(self._completions)
            self._wake.wait(interval if busy else 5.0)
            self._wake.clear()
            if self._stop:
                return
            if self.paused:
                continue
            try:
                self._handle_completions()
                self._poll_once()
            except Exception:
                log.exception("libvirt job poller failed")

    def _handle_completions(self) -> None:
        with self.lock:
            completions, self._completions = self._completions, []
            for uuid, name, params, _get_vdom in completions:
                tracked = self.tracked_for(uuid)
                if tracked is not None and tracked.watch:
                    tracked.completed.set()
                    self.finish_watched(tracked, params)
                elif tracked is not None:
                    tracked.completed_params = params  # our call returns soon and uses them
                    tracked.completed.set()
                elif self._recently_ended(uuid, params):
                    continue
                else:
                    self._record_foreign(uuid, name, params)

    def _record_foreign(self, uuid: str, name: str, params: dict[str, Any]) -> None:
        """A job another client ran: keep it, finished, with libvirt's figures."""
        if self.table.current(uuid) is not None:
            return
        job = self.table.begin(uuid, name, operation_of(params), "run a job on")
        self.finish_watched(Tracked(job, lambda: None, True), params)

    def _poll_once(self) -> None:
        with self.lock:
            items = list(self._tracked.values())
        for tracked in items:
            if tracked.job.state.finished:
                self.untrack(tracked.job)
                continue
            if not self.stats_supported:
                continue
            try:
                vdom = tracked.get_vdom()
                if vdom is None:  # not connected right now: nothing to learn
                    continue
                stats = dict(vdom.jobStats(0))
            except DriverError as exc:
                if exc.code is ErrorCode.NO_SUPPORT:
                    self.stats_supported = False
                elif tracked.watch and exc.code is ErrorCode.NO_DOMAIN:
                    self.finish_watched(tracked, {"success": False, "errmsg": "the domain went away"})
                continue
            except Exception as exc:  # noqa: BLE001 - libvirtError
                from .errors import libvirt_code
                if libvirt_code(exc) in (3, 84):
                    self.stats_supported = False
                elif tracked.watch and libvirt_code(exc) == 42:
                    self.finish_watched(tracked, {"success": False, "errmsg": "the domain went away"})
                continue
            kind = stats.get("type", JOB_NONE)
            if kind in (JOB_BOUNDED, JOB_UNBOUNDED):
                self.apply(tracked.job, stats)
            elif tracked.watch:
                with self.lock:
                    if tracked.job.id not in self._tracked:
                        continue
                    time.sleep(0)  # let a queued JOB_COMPLETED win if it is already here
                    if self._completions:
                        continue
                    self.finish_watched(tracked, self.final_stats(vdom))
