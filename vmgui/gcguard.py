"""Run Python's cyclic garbage collector on the UI thread only.

Automatic collection runs in whichever thread happens to allocate when a
threshold is crossed: with worker and driver threads that may be one of them,
and freeing a Qt object there crashes or makes Qt warn that timers cannot be
stopped from another thread. So automatic collection is switched off and a
timer on the UI thread collects instead, generation by generation, as the
interpreter itself would.

With 10,000 domains a full collection walks a million objects (~50 ms, a
visible stall), almost all of them long-lived (the driver's definitions, the
table's rows). So survivors of a full collection are frozen (``gc.freeze``)
and later full collections only walk what is newer; every
:data:`THAW_EVERY_S` the freeze is lifted once so garbage among old objects
is still reclaimed.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import time

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 250
THAW_EVERY_S = 600.0


def _malloc_trim() -> None:
    """Give freed heap pages back to the OS (glibc): loading a big host leaves ~15 MB of holes."""


try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    if hasattr(_libc, "malloc_trim"):
        def _malloc_trim() -> None:
            _libc.malloc_trim(0)
except OSError:  # not glibc: nothing to trim
    pass


class MainThreadGC(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._threshold = gc.get_threshold()
        self._thawed_at = time.monotonic()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self._threshold[generation]:
                if generation == 2:
                    if time.monotonic() - self._thawed_at > THAW_EVERY_S:
                        gc.unfreeze()
                        self._thawed_at = time.monotonic()
                    gc.collect(2)
                    gc.freeze()
                    _malloc_trim()
                else:
                    gc.collect(generation)
                return

    def settle_soon(self, delay_ms: int = 200) -> None:
        """After a big load: freeze what exists (long-lived by now) and trim the heap."""
        QTimer.singleShot(delay_ms, self, self.settle)

    def settle(self) -> None:
        # No collection here: at 10,000 domains a full one costs ~100 ms. Freezing is cheap,
        # and garbage among frozen objects is reclaimed at the next thaw (THAW_EVERY_S).
        gc.freeze()
        _malloc_trim()

    def stop(self) -> None:
        """Hand collection back to the interpreter (after the last Qt object is gone)."""
        self._timer.stop()
        gc.unfreeze()
        gc.collect()
        if self._was_enabled:
            gc.enable()
