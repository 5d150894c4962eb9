#!/usr/bin/env python3
"""The window while a display streams: how long the UI thread stalls; prints figures.

    python tests/bench/bench_display_gui.py [--seconds S]

Boots the Linux test guest with a 1024x768 framebuffer on a private qemu:///embed
host, starts the real window (offscreen) on it, opens the guest's display window
(Display) and measures, for each workload, the longest gap between ticks of a
10 ms timer on the UI thread (the stall a user would feel), the frames the window
took per second, and this process's CPU. Workloads: idle; scrolling text on the
console; random bytes copied to /dev/fb0 in a loop (every pixel changes). Target:
the longest stall under 50 ms. Not collected by pytest.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "tests"))

import linuxguest  # noqa: E402
import qasync  # noqa: E402
from bench_display import type_into  # noqa: E402
from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import drivers  # noqa: E402
from vmgui.app import start  # noqa: E402


def boot(base: Path) -> tuple[str, drivers.Domain]:
    guest = linuxguest.build()
    serial = base / "serial.log"
    xml = (f"<domain type='qemu'><name>bench-gui</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>"
           f"<os><type arch='x86_64' machine='q35'>hvm</type><kernel>{guest.kernel}</kernel>"
           f"<initrd>{guest.initrd}</initrd><cmdline>{guest.cmdline('tty1', extra='vga=0x318')}</cmdline></os>"
           f"<devices><serial type='file'><source path='{serial}'/></serial><graphics type='vnc'/>"
           f"<input type='tablet' bus='usb'/></devices></domain>")
    uri = f"qemu:///embed?root={base / 'root'}"
    dom = drivers.open(uri).create_xml(xml)
    deadline = time.monotonic() + 120
    while b"VMGUI READY" not in (serial.read_bytes() if serial.exists() else b""):
        if time.monotonic() > deadline:
            raise SystemExit("the guest did not boot")
        time.sleep(0.2)
    return uri, dom


async def measure(window, key, seconds: float) -> dict[str, float]:
    pane = window.commands.display_windows[key].pane
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    frames0, cpu0 = pane.model.frames, time.process_time()
    timer.start()
    await asyncio.sleep(seconds)
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    return {"stall_ms": max(gaps) * 1000 if gaps else float("nan"),
            "fps": (pane.model.frames - frames0) / seconds,
            "cpu": (time.process_time() - cpu0) / seconds * 100}


async def scenario(window, uri: str, dom: drivers.Domain, seconds: float) -> None:
    key = (uri, dom.uuid)
    while window.session.domains.get(key) is None:
        await asyncio.sleep(0.05)
    win = window.commands.open_display(key)
    while not (win.pane.model is not None and win.pane.model.open):
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    print(f"display window {win.width()}x{win.height()}, scaled to fit; {seconds:.0f} s a figure")
    for label, line in (("idle", ""), ("scrolling text", "while :; do cat /proc/cpuinfo > /dev/tty1; done &"),
                        ("full-screen random", "kill %1; while :; do cat /dev/urandom > /dev/fb0 2>/dev/null; done &")):
        if line:
            type_into(dom, line)
            await asyncio.sleep(1.0)
        f = await measure(window, key, seconds)
        print(f"{label:20} longest UI stall {f['stall_ms']:6.1f} ms  {f['fps']:5.1f} frames/s taken  "
              f"vmgui CPU {f['cpu']:5.1f} %")


def run_with_guest(prefix: str, scenario: Callable[[object, str, drivers.Domain], Awaitable[None]]) -> int:
    """Boot the guest on a private host, start the window (offscreen) on it, run ``scenario(window, uri,
    dom)`` in its event loop, then clean up. Shared by the display benches that need the real window."""
    if not shutil.which("qemu-system-x86_64"):
        print("qemu-system-x86_64 is not installed")
        return 1
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(base, 0o700)
    (base / "run").mkdir(mode=0o700)
    os.environ.update(XDG_RUNTIME_DIR=str(base / "run"), VMGUI_LOCKSPACE=str(base / "lockspace"))
    uri, dom = boot(base)
    app = QApplication([sys.argv[0]])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = start([uri], QSettings(str(base / "settings.ini"), QSettings.Format.IniFormat))
    window.show()
    try:
        with loop:
            loop.run_until_complete(scenario(window, uri, dom))
    finally:
        dom.destroy()
        window.session.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args(argv)
    return run_with_guest("vqg-", lambda window, uri, dom: scenario(window, uri, dom, args.seconds))


if __name__ == "__main__":
    sys.exit(main())
