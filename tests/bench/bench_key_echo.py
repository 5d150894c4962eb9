#!/usr/bin/env python3
"""Key press to echo on the display: from a key event into the screen widget to the frame that shows the
guest's echo of it; prints median and 95th percentile.

    python tests/bench/bench_key_echo.py [--keys N]

Boots the Linux test guest (1024x768 framebuffer console, a shell on tty1) on a private qemu:///embed
host and starts the real window (offscreen) with the guest's display window open. Its text cursor is
hidden and does not blink, so the only change a key makes on screen is its echo. Each trial sends one
key press and release into the display widget (as Qt delivers a typed key) and waits for the first
frame the window takes in which more than a handful of pixels differ from the frame before the key:
the character the guest's shell echoed. The time includes the guest (under TCG here), QEMU's VNC
update interval, the RFB client and the hand-over to the UI thread; the last part, vmgui's own, is
printed too. Alone, QEMU's VNC server lengthens its update interval by 50 ms each time it finds
nothing changed (up to 3 s), so a key after a pause would wait longer for QEMU to look; the qemu
driver's D-Bus display beside it keeps the refresh at 30 ms. Keys come at a typist's pace (0.15 s
after the echo) and after a second of nothing. Target: at most 50 ms.
Not collected by pytest.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "tests"))
sys.path.insert(2, str(REPO / "tests" / "bench"))

from bench_display import type_into  # noqa: E402
from bench_display_gui import run_with_guest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

import drivers  # noqa: E402

#: letters with many lit pixels in the console font: an echo changes far more than ECHO_PIXELS
KEYS = "mwqgbdpkhae"
ECHO_PIXELS = 12
LINE = 60  # keys typed on one line before it is cleared (Ctrl+U), so the echo never wraps


def changed_pixels(a: QImage, b: QImage) -> int:
    """Pixels that differ (rows compared whole first: only the few rows an echo touches are counted)."""
    if a.size() != b.size():
        return a.width() * a.height()
    bytes_a, bytes_b = bytes(a.constBits()), bytes(b.constBits())
    if bytes_a == bytes_b:
        return 0
    stride = a.bytesPerLine()
    count = 0
    for row in range(a.height()):
        ra, rb = bytes_a[row * stride:(row + 1) * stride], bytes_b[row * stride:(row + 1) * stride]
        if ra != rb:
            count += sum(1 for i in range(0, stride, 4) if ra[i:i + 3] != rb[i:i + 3])
    return count


async def settle(pane, quiet: float = 0.5, timeout: float = 10.0) -> None:
    """Until no frame came for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    frames = pane.model.frames
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        if pane.model.frames != frames:
            frames, quiet_since = pane.model.frames, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet:
            return


class Arrivals:
    """When the reader thread last handed an update to the model (the model's own entry point, wrapped)."""

    def __init__(self, model) -> None:
        self.last = 0.0
        inner = model._damaged

        def damaged(damage) -> None:
            self.last = time.perf_counter()
            inner(damage)
        model._damaged = damaged


async def one_key(pane, arrivals: Arrivals, char: str, timeout: float = 10.0) -> tuple[float, float]:
    """(key to the frame on the UI thread, of which the hand-over from the reader thread) in seconds."""
    view = pane.view
    before = view.framebuffer_image().copy()
    seen = asyncio.get_running_loop().create_future()
    start_at = 0.0

    def frame(_rect) -> None:
        now, arrived = time.perf_counter(), arrivals.last  # before the comparison, which is the bench's own cost
        if not seen.done() and changed_pixels(view.framebuffer_image(), before) > ECHO_PIXELS:
            seen.set_result((now - start_at, now - arrived))
    pane.model.frameChanged.connect(frame)
    try:
        start_at = time.perf_counter()
        QTest.keyClick(view, char)
        return await asyncio.wait_for(seen, timeout)
    finally:
        pane.model.frameChanged.disconnect(frame)


def summary(values_s: list[float]) -> str:
    ms = sorted(v * 1000 for v in values_s)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"median {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms  min {ms[0]:6.1f}  max {ms[-1]:6.1f}"


async def scenario(window, uri: str, dom: drivers.Domain, keys: int) -> None:
    key = (uri, dom.uuid)
    while window.session.domains.get(key) is None:
        await asyncio.sleep(0.05)
    win = window.commands.open_display(key)
    pane = win.pane
    while not (pane.model is not None and pane.model.open and not pane.view.framebuffer_image().isNull()):
        await asyncio.sleep(0.05)
    # from the serial shell: no blinking, no cursor on the framebuffer console
    type_into(dom, "echo 0 > /sys/class/graphics/fbcon/cursor_blink; printf '\\033[?25l' > /dev/tty1")
    pane.view.setFocus()
    await settle(pane, quiet=1.0)
    arrivals = Arrivals(pane.model)
    print(f"{keys} keys each; the pause is the time from one echo to the next key")
    for pause in (0.15, 1.0):  # a typist's pace; a key after a second of nothing
        totals, handovers = [], []
        for i in range(keys):
            if i and i % LINE == 0:
                QTest.keyClick(pane.view, "u", Qt.KeyboardModifier.ControlModifier)
                await settle(pane)
            total, handover = await one_key(pane, arrivals, KEYS[i % len(KEYS)])
            totals.append(total)
            handovers.append(handover)
            await asyncio.sleep(pause)
        QTest.keyClick(pane.view, "u", Qt.KeyboardModifier.ControlModifier)
        await settle(pane)
        load = Path("/proc/loadavg").read_text().split()[0]
        print(f"pause {pause:4.2f} s  key press to echo in a frame: {summary(totals)}   (load {load})")
        print(f"{'':13}of which reader thread to UI thread: {summary(handovers)}")
    win.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=100)
    args = parser.parse_args(argv)
    return run_with_guest("vqk-", lambda window, uri, dom: scenario(window, uri, dom, args.keys))


if __name__ == "__main__":
    sys.exit(main())
