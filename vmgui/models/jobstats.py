"""Rate, ETA and elapsed time of one job, from the snapshots its JOB events carry.

Drivers usually give a rate and a remaining time; when they do not, a rolling
average over the last few seconds of samples stands in. Unknown stays unknown
(``None``): an honest dash beats an absurd first figure.
"""
from __future__ import annotations

from collections import deque

from drivers import JobInfo

WINDOW_S = 3.0
MIN_SPAN_S = 0.4


class JobStats:
    """Figures of one job; call :meth:`update` with each new JobInfo."""

    def __init__(self, info: JobInfo, now: float) -> None:
        self._samples: deque[tuple[float, int]] = deque()
        self.info = info
        self.received = now
        self.update(info, now)

    def update(self, info: JobInfo, now: float) -> None:
        self.info = info
        self.received = now
        if not info.finished:
            self._samples.append((now, info.processed))
            while len(self._samples) > 2 and now - self._samples[1][0] >= WINDOW_S:
                self._samples.popleft()

    def rate(self) -> float | None:
        if not self.info.in_bytes:
            return None  # steps done per second is no transfer rate
        if self.info.rate is not None:
            return self.info.rate
        if len(self._samples) < 2:
            return None
        (t0, p0), (t1, p1) = self._samples[0], self._samples[-1]
        if t1 - t0 < MIN_SPAN_S:
            return None
        return max(0.0, (p1 - p0) / (t1 - t0))

    def elapsed(self, now: float) -> float:
        """Keeps counting between events while the job runs."""
        if self.info.finished:
            return self.info.elapsed
        return self.info.elapsed + max(0.0, now - self.received)

    def eta(self, now: float) -> float | None:
        info = self.info
        if info.finished:
            return None
        if info.remaining is not None:
            return max(0.0, info.remaining - max(0.0, now - self.received))
        rate = self.rate()
        if info.total is None or not rate:
            return None
        return max(0.0, (info.total - info.processed) / rate)

    def percent(self) -> float | None:
        info = self.info
        if info.percent is not None:
            return info.percent
        if info.total:
            return min(100.0, 100.0 * info.processed / info.total)
        return None
