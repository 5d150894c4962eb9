#!/usr/bin/env python3
"""Benchmark of the embedded display's RFB client against real QEMU; prints figures.

    python tests/bench/bench_display.py [--seconds S]

The Linux test guest boots with ``vga=0x318`` (a 1024x768 VESA framebuffer) and a
shell on its console; the client connects through ``Domain.open_graphics``.

* full-screen updates: the guest copies random bytes to /dev/fb0 in a loop, so every
  frame changes every pixel (nothing compresses). Frames/s and megapixels/s the client
  applied, its CPU and QEMU's CPU, once with Raw preferred and once with ZRLE preferred.
* text: the guest prints text to its console in a loop (the console scrolls: large,
  mostly flat updates that ZRLE compresses well); same figures.
* idle: the guest does nothing; the client's and QEMU's CPU while connected.
* the UI's share: one QImage copy of a 1024x768 frame (what the model does per frame it hands over).

Not collected by pytest (no test_ functions). Needs qemu-system-x86_64 and qemu-img.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "tests"))

import linuxguest  # noqa: E402
from embedhost import private_embed_host  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

import drivers  # noqa: E402
from drivers.qemu.domain import QemuDomain  # noqa: E402
from vmgui.rfb import Rect, RfbClient, RfbError, RfbListener  # noqa: E402
from vmgui.rfb.client import DEFAULT_ENCODINGS, ZRLE_FIRST  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Counter(RfbListener):
    def __init__(self) -> None:
        self.frames = 0
        self.pixels = 0
        self.lock = threading.Lock()

    def on_update(self, damage: list[Rect]) -> None:
        with self.lock:
            if damage:
                self.frames += 1
                self.pixels += sum(r.width * r.height for r in damage)


def measure(dom: QemuDomain, encodings: tuple[int, ...], seconds: float) -> dict[str, float]:
    """Connect, let the first full frame pass, then count for ``seconds``."""
    client = RfbClient(dom.open_graphics(), encodings)
    init = client.handshake()
    counter = Counter()
    reader = threading.Thread(target=_run, args=(client, counter), daemon=True)
    reader.start()
    time.sleep(1.0)
    qemu_pid = dom.qemu_pid()
    assert qemu_pid is not None, "the guest is running"
    with counter.lock:
        frames0, pixels0 = counter.frames, counter.pixels
    cpu0, q0, t0 = time.process_time(), process_cpu_s(qemu_pid), time.monotonic()
    time.sleep(seconds)
    with counter.lock:
        frames, pixels = counter.frames - frames0, counter.pixels - pixels0
    wall = time.monotonic() - t0
    cpu, qcpu = time.process_time() - cpu0, process_cpu_s(qemu_pid) - q0
    client.close()
    reader.join(10)
    return {"width": init.width, "height": init.height, "fps": frames / wall, "mpix": pixels / wall / 1e6,
            "client_cpu": 100 * cpu / wall, "qemu_cpu": 100 * qcpu / wall}


def _run(client: RfbClient, listener: RfbListener) -> None:
    try:
        client.run(listener)
    except RfbError:
        pass


def type_into(dom: drivers.Domain, line: str) -> None:
    with dom.open_console() as console:
        console.write(line.encode() + b"\n")


def report(label: str, figures: dict[str, float]) -> None:
    print(f"{label:<34} {figures['width']}x{figures['height']}  {figures['fps']:7.1f} frames/s  "
          f"{figures['mpix']:7.1f} Mpixel/s  client CPU {figures['client_cpu']:5.1f} %  "
          f"QEMU CPU {figures['qemu_cpu']:5.1f} %")


def qimage_copy_ms(width: int = 1024, height: int = 768, runs: int = 50) -> float:
    data = bytearray(width * height * 4)
    start = time.perf_counter()
    for _ in range(runs):
        QImage(data, width, height, width * 4, QImage.Format.Format_RGB32).copy()
    return (time.perf_counter() - start) / runs * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    if not shutil.which("qemu-system-x86_64"):
        print("qemu-system-x86_64 is not installed")
        return 1
    guest = linuxguest.build()
    with private_embed_host("vqd-") as (base, conn):
        return _bench(args, guest, base, conn)


def _bench(args: argparse.Namespace, guest: linuxguest.LinuxGuest, base: Path, conn: drivers.Connection) -> int:
    """Boot the guest on ``conn`` and print the figures of each scene."""
    serial = base / "serial.log"
    cmdline = guest.cmdline("tty1", extra="vga=0x318")
    xml = (f"<domain type='qemu'><name>bench-display</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>"
           f"<os><type arch='x86_64' machine='q35'>hvm</type><kernel>{guest.kernel}</kernel>"
           f"<initrd>{guest.initrd}</initrd><cmdline>{cmdline}</cmdline></os>"
           f"<devices><serial type='file'><source path='{serial}'/></serial><graphics type='vnc'/></devices>"
           f"</domain>")
    dom = conn.create_xml(xml)
    assert isinstance(dom, QemuDomain)
    deadline = time.monotonic() + 120
    while b"VMGUI READY" not in (serial.read_bytes() if serial.exists() else b""):
        if time.monotonic() > deadline:
            print("the guest did not boot")
            return 1
        time.sleep(0.2)
    time.sleep(1.0)
    print(f"QImage copy of a 1024x768 frame: {qimage_copy_ms():.2f} ms")
    shot = dom.screenshot()
    print(f"guest screen {shot.width}x{shot.height}; {args.seconds:.0f} s a figure; unix socket pair to QEMU")
    for label, enc in (("idle, Raw preferred", DEFAULT_ENCODINGS), ("idle, ZRLE preferred", ZRLE_FIRST)):
        report(label, measure(dom, enc, args.seconds))
    type_into(dom, "while :; do cat /dev/urandom > /dev/fb0 2>/dev/null; done &")
    time.sleep(1.0)
    for label, enc in (("full-screen random, Raw preferred", DEFAULT_ENCODINGS),
                       ("full-screen random, ZRLE preferred", ZRLE_FIRST)):
        report(label, measure(dom, enc, args.seconds))
    type_into(dom, "kill %1; while :; do cat /proc/cpuinfo > /dev/tty1; done &")
    time.sleep(1.0)
    for label, enc in (("scrolling text, Raw preferred", DEFAULT_ENCODINGS),
                       ("scrolling text, ZRLE preferred", ZRLE_FIRST)):
        report(label, measure(dom, enc, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
