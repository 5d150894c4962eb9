"""Test helpers for the RFB client: run it on a thread, and compare what it drew with QEMU's screendump."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from PySide6.QtGui import QImage

from drivers.base import Screenshot
from vmgui.rfb import Rect, RfbClient, RfbError, RfbListener


def ppm_rgb(shot: Screenshot) -> bytes:
    """The R, G, B bytes of a binary PPM screendump (its header has exactly four fields)."""
    header = f"P6\n{shot.width} {shot.height}\n255\n".encode()
    assert shot.data.startswith(header), shot.data[:32]
    return shot.data[len(header):]


def bgrx_to_rgb(data: bytes | bytearray) -> bytes:
    """Framebuffer pixels (B, G, R, X) as R, G, B."""
    out = bytearray(len(data) // 4 * 3)
    out[0::3], out[1::3], out[2::3] = data[2::4], data[1::4], data[0::4]
    return bytes(out)


def differing_pixels(a: bytes, b: bytes) -> int:
    if len(a) != len(b):
        return max(len(a), len(b)) // 3
    return sum(1 for i in range(0, len(a), 3) if a[i:i + 3] != b[i:i + 3])


class Watcher(RfbListener):
    """Runs ``client`` on a daemon thread; counts the updates it applied and keeps how it ended."""

    def __init__(self, client: RfbClient) -> None:
        self.client = client
        self.updates = 0
        self.last_update = time.monotonic()
        self.resizes: list[tuple[int, int]] = []
        self.error: RfbError | None = None
        self.done = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="rfb-test-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.client.run(self)
        except RfbError as exc:
            self.error = exc
        finally:
            self.done.set()

    def on_update(self, damage: list[Rect]) -> None:
        with self._changed:
            self.updates += 1
            if damage:
                self.last_update = time.monotonic()
            self._changed.notify_all()

    def on_resize(self, width: int, height: int) -> None:
        self.resizes.append((width, height))

    def wait_updates(self, count: int, timeout: float = 30) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.updates >= count or self.done.is_set(), timeout), \
                f"only {self.updates} framebuffer updates within {timeout} s"
        assert self.error is None, self.error

    def frame_rgb(self) -> tuple[int, int, bytes]:
        with self.client.lock:
            fb = self.client.framebuffer
            return fb.width, fb.height, bgrx_to_rgb(fb.data)

    def stop(self) -> None:
        self.client.close()
        self._thread.join(10)


def wait_until_equal(frame: Callable[[], tuple[int, int, bytes]], screenshot: Callable[[], Screenshot],
                     quiet_since: Callable[[], float], timeout: float = 60,
                     sleep: Callable[[float], None] = time.sleep) -> int:
    """Take screendumps until one equals the client's frame pixel for pixel; returns the attempts.

    Between a screendump and the comparison the client is given time to receive what changed
    (it must go 0.3 s without a drawing update); a screen that keeps changing fails the test.
    ``sleep`` lets a Qt test keep its event loop running meanwhile.
    """
    deadline = time.monotonic() + timeout
    attempts, worst = 0, ""
    while time.monotonic() < deadline:
        attempts += 1
        shot = screenshot()
        settle = time.monotonic() + 5
        while time.monotonic() - quiet_since() < 0.3 and time.monotonic() < settle:
            sleep(0.05)
        sleep(0.1)
        width, height, rgb = frame()
        want = ppm_rgb(shot)
        if (width, height) == (shot.width, shot.height) and rgb == want:
            return attempts
        worst = (f"{width}x{height} frame vs {shot.width}x{shot.height} screendump, "
                 f"{differing_pixels(rgb, want)} pixels differ")
    raise AssertionError(f"the client's frame never equalled QEMU's screendump in {attempts} tries: {worst}")


def qimage_rgb(image: QImage) -> tuple[int, int, bytes]:
    """(width, height, R, G, B bytes) of a QImage, row padding dropped."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = rgb.width(), rgb.height(), rgb.bytesPerLine()
    data = bytes(rgb.constBits())[:bpl * h]
    return w, h, b"".join(data[r * bpl:r * bpl + w * 3] for r in range(h))
