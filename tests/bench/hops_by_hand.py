#!/usr/bin/env python3
"""Live migration hops of the RAM-checking Linux guest with QEMU and QMP only; prints counts.

    python tests/bench/hops_by_hand.py [--runs R] [--hops H] [--vcpus N] [--mem MiB]
        [--paused] [--disk] [--vga] [--qemu BINARY] [--first-after S] [--extra "QEMU ARGS"]

Each run boots the guest of tests/linuxguest (``vmgui.work=ram``) with the argument
list ``drivers.qemu.cmdline`` builds, then moves it between two QEMU processes on
loopback as the driver does (destination ``-incoming defer``, ``migrate-incoming``,
``migrate``, wait for both ends, ``cont``, ``quit`` the source), and after each hop
waits for another passing RAM check. A hop is *damaged* when the guest prints a
failed check or kernel trouble (list_del corruption, Oops, ...), *hung* when no
check passes within two minutes; a run stops at its first bad hop.

``--paused`` stops the source before the copy; ``--extra "-m 262152k"`` gives the
guest 8 KiB more than 256 MiB, a RAM size QEMU 7.2 syncs page by page (the path
that resets TCG's TLB dirty state), which tells its dirty tracking bug apart.

Not collected by pytest. Needs qemu-system-x86_64, qemu-img and the Debian packages
tests/linuxguest downloads.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import linuxguest  # noqa: E402
from linuxguest.serial import GuestSerial  # noqa: E402
from qemu.qmp.legacy import QEMUMonitorProtocol  # noqa: E402
from qemu.qmp.protocol import ConnectError  # noqa: E402

from drivers.domxml import DomainXML  # noqa: E402
from drivers.qemu import cmdline  # noqa: E402

UUID = "6f1c9a1e-3c1b-4f3e-9a57-0d5c2b0e7a11"


class Guest:
    """One run: the guest's serial log and the QEMU processes started for it."""

    def __init__(self, args: argparse.Namespace, guest: linuxguest.LinuxGuest, where: Path) -> None:
        self.args = args
        self.where = where
        self.serial = GuestSerial(where / "serial.log")
        self.disk = None
        if args.disk:
            self.disk = str(where / "disk.qcow2")
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", self.disk, "16M"], check=True)
        self.definition = DomainXML.parse(self._xml(guest))
        self.processes: list[subprocess.Popen] = []

    def _xml(self, g: linuxguest.LinuxGuest) -> str:
        a = self.args
        disk = (f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{self.disk}'/>"
                "<target dev='vda' bus='virtio'/></disk>") if self.disk else ""
        vga = "<video><model type='vga'/></video>" if a.vga else ""
        return (f"<domain type='qemu'><name>hops</name><uuid>{UUID}</uuid><memory unit='MiB'>{a.mem}</memory>"
                f"<vcpu>{a.vcpus}</vcpu><os><type arch='x86_64' machine='q35'>hvm</type><kernel>{g.kernel}</kernel>"
                f"<initrd>{g.initrd}</initrd><cmdline>{g.cmdline('ram', ram_mib=24)}</cmdline></os>"
                f"<devices>{disk}<serial type='file'><source path='{self.serial.path}'/></serial>{vga}</devices>"
                "</domain>")

    def launch(self, n: int, incoming: bool) -> QEMUMonitorProtocol:
        sock = str(self.where / f"q{n}.qmp")
        argv = cmdline.build(self.definition, qmp_socket=sock, incoming="defer" if incoming else None,
                             binary=self.args.qemu).argv + self.args.extra.split()
        with open(self.where / f"q{n}.log", "wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            qmp = QEMUMonitorProtocol(sock)
            try:
                qmp.connect()
                return qmp
            except (ConnectError, OSError):  # the socket is not there or not listening yet
                time.sleep(0.05)
        raise RuntimeError(f"QEMU did not start: {(self.where / f'q{n}.log').read_text()[-800:]}")

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def qmp(monitor: QEMUMonitorProtocol, command: str, args: dict | None = None) -> dict:
    reply = monitor.cmd_raw(command, args)
    if "error" in reply:
        raise RuntimeError(f"{command}: {reply['error']}")
    return reply["return"]


def close(monitor: QEMUMonitorProtocol, quit_qemu: bool = False) -> None:
    """Disconnect (after ``quit``: QEMU hangs up first, which the client reports as EOF)."""
    try:
        if quit_qemu:
            qmp(monitor, "quit")
        monitor.close()
    except EOFError:
        pass


def hop(src: QEMUMonitorProtocol, dst: QEMUMonitorProtocol, paused: bool) -> dict:
    """One migration the driver's way; returns the source's final query-migrate."""
    for monitor in (src, dst):
        qmp(monitor, "migrate-set-capabilities", {"capabilities": [{"capability": "events", "state": True}]})
    qmp(src, "migrate-set-parameters", {"max-bandwidth": 1 << 40})
    qmp(dst, "migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
    port = next(a["port"] for a in qmp(dst, "query-migrate")["socket-address"] if a["type"] == "inet")
    if paused:
        qmp(src, "stop")
    qmp(src, "migrate", {"uri": f"tcp:127.0.0.1:{port}"})
    while (info := qmp(src, "query-migrate"))["status"] not in ("completed", "failed", "cancelled"):
        time.sleep(0.05)
    if info["status"] != "completed":
        raise RuntimeError(f"migration {info['status']}: {info.get('error-desc')}")
    while qmp(dst, "query-migrate").get("status") != "completed" or qmp(dst, "query-status")["status"] == "inmigrate":
        time.sleep(0.02)
    qmp(dst, "cont")
    return info


def verdict(serial: GuestSerial, timeout: float = 120.0) -> tuple[str, str]:
    """'ok' once one more RAM check passed; 'damaged' (with what the guest said) or 'hung'."""
    start = serial.ram_checks()[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ok, bad = serial.ram_checks()
        trouble = serial.kernel_trouble()
        if bad or trouble:
            return "damaged", f"{bad} failed RAM checks; {trouble[:2]}"
        if ok > start:
            return "ok", ""
        time.sleep(0.05)
    return "hung", serial.text()[-200:].decode(errors="replace")


def run(args: argparse.Namespace, guest: linuxguest.LinuxGuest, where: Path, number: int) -> list[tuple[str, int]]:
    """The hops of one run: (verdict, dirty-sync passes) each."""
    g = Guest(args, guest, where)
    try:
        src = g.launch(0, incoming=False)
        g.serial.wait_for(b"VMGUI READY", timeout=180)
        if verdict(g.serial, 180)[0] != "ok" or g.serial.boots() != 1:
            print(f"run {number}: the guest did not boot cleanly; skipped", flush=True)
            return []
        time.sleep(args.first_after)
        hops = []
        for n in range(1, args.hops + 1):
            dst = g.launch(n, incoming=True)
            started = time.monotonic()
            info = hop(src, dst, args.paused)
            took = time.monotonic() - started
            close(src, quit_qemu=True)
            src = dst
            result, said = verdict(g.serial)
            passes = int(info.get("ram", {}).get("dirty-sync-count") or 0)
            hops.append((result, passes))
            print(f"run {number} hop {n}: {result} in {took:.1f} s, {passes} passes {said}", flush=True)
            if result != "ok":
                break
        close(src)
        return hops
    finally:
        g.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--hops", type=int, default=4)
    p.add_argument("--vcpus", type=int, default=1)
    p.add_argument("--mem", type=int, default=256, help="guest MiB")
    p.add_argument("--paused", action="store_true", help="stop the source before the copy")
    p.add_argument("--disk", action="store_true", help="a virtio disk")
    p.add_argument("--vga", action="store_true", help="a VGA adapter")
    p.add_argument("--qemu", default=shutil.which("qemu-system-x86_64"), help="the QEMU binary")
    p.add_argument("--first-after", type=float, default=0.0, help="seconds of running before the first hop")
    p.add_argument("--extra", default="", help="more QEMU arguments (split on spaces)")
    args = p.parse_args()
    guest = linuxguest.build()
    hops: list[tuple[str, int]] = []
    bad_runs = 0
    with tempfile.TemporaryDirectory(prefix="hops-", dir="/tmp") as tmp:
        for number in range(args.runs):
            where = Path(tmp) / f"run{number}"
            where.mkdir()
            found = run(args, guest, where, number)
            hops += found
            bad_runs += any(r != "ok" for r, _ in found)
    by_passes = Counter((passes, result) for result, passes in hops)
    print(f"{os.path.basename(args.qemu)} {' '.join(sys.argv[1:])}: {len(hops)} hops, "
          f"{sum(r != 'ok' for r, _ in hops)} bad ({bad_runs} of {args.runs} runs); "
          f"by passes: {dict(sorted(by_passes.items()))}", flush=True)


if __name__ == "__main__":
    main()
