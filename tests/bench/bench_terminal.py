#!/usr/bin/env python3
"""Benchmark of the serial console's terminal against a real Linux guest; prints figures.

    python tests/bench/bench_terminal.py [--keys N] [--lines N]

The Linux test guest boots under QEMU (qemu:///embed in a private directory) with its
root shell on ttyS0; the real console window (offscreen Qt, the session's bridge and
reader thread) shows it.

* key press to echo: a key is pressed on the terminal widget until the guest's echo of
  it is on the terminal's screen and painted (median, p95, max over N keys);
* the window's longest stall while the guest runs ``yes | head -N``: the longest gap
  between ticks of a 10 ms timer on the UI thread, with the bytes/s that reached the
  screen and how many times the widget painted.

Not collected by pytest (no test_ functions). Needs qemu-system-x86_64.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "tests"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import linuxguest  # noqa: E402
import qasync  # noqa: E402
from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import drivers  # noqa: E402
from vmgui.gcguard import MainThreadGC  # noqa: E402
from vmgui.models.console import ConsoleModel  # noqa: E402
from vmgui.models.session import Session  # noqa: E402
from vmgui.views.console import ConsoleDialog  # noqa: E402


class Longest:
    """Wraps a method of one object and keeps its longest run (where a stall comes from)."""

    def __init__(self, owner: object, name: str) -> None:
        self.ms = 0.0
        real = getattr(owner, name)

        def timed(*args):
            start = time.perf_counter()
            try:
                return real(*args)
            finally:
                self.ms = max(self.ms, (time.perf_counter() - start) * 1000)
        setattr(owner, name, timed)


def domain_xml(base: Path, guest: linuxguest.LinuxGuest) -> str:
    return (f"<domain type='qemu'><name>bench</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>"
            f"<os><type arch='x86_64' machine='q35'>hvm</type><kernel>{guest.kernel}</kernel>"
            f"<initrd>{guest.initrd}</initrd><cmdline>{guest.cmdline()}</cmdline></os>"
            f"<devices><serial type='file'><source path='{base / 'bench.serial'}'/></serial></devices></domain>")


async def until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


def lines(dialog: ConsoleDialog) -> list[str]:
    """The rows on screen (cheap: the whole scrollback as text would cost the UI thread itself)."""
    return [row.rstrip() for row in dialog.model.terminal.display()]


async def run(keys: int, count: int, base: Path) -> dict[str, float]:
    uri = f"qemu:///embed?root={base / 'root'}"
    conn = drivers.open(uri)
    dom = conn.define_xml(domain_xml(base, linuxguest.build()))
    dom.create()
    session = Session()
    try:
        assert await session.open(uri), "cannot open the connection"
        model = ConsoleModel(session.bridge, session.spawn, uri, dom.uuid, "bench")
        dialog = ConsoleDialog(model)
        dialog.show()
        model.start()
        term = dialog.terminal
        await until(lambda: "VMGUI READY" in lines(dialog), 180, "the guest to boot")
        await asyncio.sleep(1.0)
        QTest.keyClick(term, Qt.Key.Key_Return)
        await until(lambda: term.model.terminal.display()[term.model.terminal.cursor[1]].startswith("/ #"), 30,
                    "a prompt")
        await asyncio.sleep(0.5)

        latencies = []
        screen = model.terminal
        for i in range(keys):
            letter = "abcdefghijklmnopqrstuvwxyz"[i % 26]
            x, y, _shown = screen.cursor
            painted = term.repaints
            start = time.perf_counter()
            QTest.keyClicks(term, letter)
            await until(lambda x=x, y=y, c=letter, n=painted: screen.screen.buffer[y][x].data == c
                        and term.repaints > n, 30, "the echo")
            latencies.append((time.perf_counter() - start) * 1000)
            if x > 60:
                QTest.keyClick(term, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)  # clear the line
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.05)
        QTest.keyClick(term, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)
        await asyncio.sleep(0.3)

        state = {"last": time.perf_counter(), "worst": 0.0}

        def tick() -> None:
            now = time.perf_counter()
            state["worst"] = max(state["worst"], now - state["last"])
            state["last"] = now
        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(tick)
        feed, paint = Longest(model, "_feed"), Longest(term, "paintEvent")
        before, start = term.repaints, time.perf_counter()
        timer.start()
        for key in f"yes | head -{count}; echo YES-$((40+2))-DONE":
            QTest.keyClicks(term, key)
        QTest.keyClick(term, Qt.Key.Key_Return)
        await until(lambda: "YES-42-DONE" in lines(dialog), 900, "yes to finish")
        seconds = time.perf_counter() - start
        timer.stop()
        dialog.close()
        return {
            "echo_median_ms": statistics.median(latencies),
            "echo_p95_ms": statistics.quantiles(latencies, n=20)[18],
            "echo_max_ms": max(latencies),
            "yes_s": seconds,
            "yes_bytes_per_s": count * 2 / seconds,
            "yes_max_stall_ms": state["worst"] * 1000,
            "yes_repaints": term.repaints - before,
            "yes_longest_feed_ms": feed.ms,
            "yes_longest_paint_ms": paint.ms,
        }
    finally:
        session.stop()
        dom.destroy()
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=60)
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="vb-", dir="/tmp"))
    os.chmod(base, 0o700)
    (base / "run").mkdir(mode=0o700)
    os.environ.update(XDG_RUNTIME_DIR=str(base / "run"), VMGUI_LOCKSPACE=str(base / "lockspace"),
                      XDG_DATA_HOME=str(base / "data"))
    app = QApplication([])
    collector = MainThreadGC()  # as the application runs: collection on the UI thread, old objects frozen
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            figures = loop.run_until_complete(run(args.keys, args.lines, base))
    finally:
        collector.stop()
        shutil.rmtree(base, ignore_errors=True)
    print(f"vmgui terminal benchmark, {os.cpu_count()} CPUs, offscreen, real QEMU (TCG) Linux guest\n")
    print(f"key press to echo on screen and painted ({args.keys} keys):")
    print(f"  median {figures['echo_median_ms']:.1f} ms, p95 {figures['echo_p95_ms']:.1f} ms, "
          f"max {figures['echo_max_ms']:.1f} ms")
    print(f"yes | head -{args.lines} in the guest:")
    print(f"  {figures['yes_s']:.1f} s ({figures['yes_bytes_per_s'] / 1024:.0f} KiB/s on screen), "
          f"longest UI stall {figures['yes_max_stall_ms']:.1f} ms, {figures['yes_repaints']} repaints")
    print(f"  longest screen update slice {figures['yes_longest_feed_ms']:.1f} ms, "
          f"longest paint {figures['yes_longest_paint_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
