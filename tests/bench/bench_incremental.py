#!/usr/bin/env python3
"""Incremental backup benchmark: time and bytes of an incremental backup against the full one; prints figures.

    python tests/bench/bench_incremental.py [--runs N] [--disk-mib M] [--changed-percent P]

A real Linux guest (``tests/linuxguest``) runs on a qcow2 disk of M MiB (default 1024)
full of data. A full backup with a checkpoint goes into a catalogued folder; then, for each
run, the guest's shell rewrites P % (default 1) of the disk's 64 KiB clusters, spread over
the whole disk (``dd`` from /dev/urandom, synced), and an incremental backup since the last
checkpoint copies them (QEMU's ``sync=bitmap`` over a persistent dirty bitmap). Each backup
is timed from ``backup_begin`` to the job's end plus a ``sync``; bytes are the image's
allocated size on disk and the bytes QEMU's job copied. Target: the incremental takes at
most 10 % of the full's time and of its bytes. Not collected by pytest (no test_ functions).
Needs qemu-system-x86_64, qemu-img and apt-get download access for the guest (cached).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

CLUSTER = 64 << 10


def _xml(name: str, guest, serial: Path, disk: str) -> str:
    return (f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>"
            f"<os><type arch='x86_64' machine='q35'>hvm</type><kernel>{guest.kernel}</kernel>"
            f"<initrd>{guest.initrd}</initrd><cmdline>{guest.cmdline()}</cmdline></os><devices>"
            f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>"
            f"<target dev='vda' bus='virtio'/></disk><serial type='file'><source path='{serial}'/></serial>"
            "</devices></domain>")


def _backup_xml(target: str, since: str | None) -> str:
    inc = f"<incremental>{since}</incremental>" if since else ""
    return (f"<domainbackup mode='push'>{inc}<disks><disk name='vda' type='file'><target file='{target}'/>"
            "<driver type='qcow2'/></disk></disks></domainbackup>")


def _wait_serial(path: Path, word: bytes, count: int = 1, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(word) >= count:
            return
        time.sleep(0.05)
    raise SystemExit(f"the guest did not print {word!r} within {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--disk-mib", type=int, default=1024)
    ap.add_argument("--changed-percent", type=float, default=1.0)
    args = ap.parse_args(argv)
    if not shutil.which("qemu-system-x86_64") or not shutil.which("qemu-img"):
        print("qemu-system-x86_64 and qemu-img are needed (Debian: qemu-system-x86 qemu-utils)")
        return 2
    import linuxguest
    from e2e_helpers import make_qcow2

    base = Path(tempfile.mkdtemp(prefix="vqi-", dir="/tmp"))
    os.chmod(base, 0o700)
    (base / "run").mkdir(mode=0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(base / "run")
    os.environ["VMGUI_LOCKSPACE"] = str(base / "lockspace")
    import drivers
    from drivers import backupcatalog

    clusters = args.disk_mib * (1 << 20) // CLUSTER
    step = max(1, round(100 / args.changed_percent))
    changed = len(range(0, clusters, step))
    try:
        guest = linuxguest.build()
        disk = make_qcow2(base / "src.qcow2", size_mib=args.disk_mib, fill_mib=args.disk_mib)
        serial = base / "guest.serial"
        conn = drivers.open(f"qemu:///embed?root={base / 'root'}")
        try:
            dom = conn.define_xml(_xml("bench-inc", guest, serial, disk))
            dom.create()
            _wait_serial(serial, b"VMGUI READY")
            console = dom.open_console()

            def backup(run: str, since: str | None) -> tuple[float, int, int]:
                folder = base / "backups" / run
                folder.mkdir(parents=True)
                subprocess.run(["sync"], check=True)
                t0 = time.perf_counter()
                job = dom.backup_begin(_backup_xml(str(folder / "vda.qcow2"), since), 0,
                                       f"<domaincheckpoint><name>{run}</name></domaincheckpoint>")
                while not (info := dom.get_job_info(job)).finished:
                    time.sleep(0.005)
                subprocess.run(["sync"], check=True)
                took = time.perf_counter() - t0
                assert info.state == drivers.JobState.COMPLETED, info.error
                made = backupcatalog.read(str(folder))
                assert made.kind == ("incremental" if since else "full"), (made.kind, made.full_reason)
                return took, os.stat(folder / "vda.qcow2").st_blocks * 512, info.processed

            full = backup("full", None)
            incs: list[tuple[float, int, int]] = []
            since = "full"
            for run in range(args.runs):
                done = f"VMGUI CHANGED {run}"
                console.write((f"for i in $(seq 0 {step} {clusters - 1}); do dd if=/dev/urandom of=/dev/vda "
                               f"bs={CLUSTER} seek=$i count=1 conv=notrunc 2>/dev/null; done; sync; "
                               f"echo '{done}'\n").encode())
                _wait_serial(serial, done.encode(), count=2)  # the echoed command line, then the output
                incs.append(backup(f"inc-{run}", since))
                since = f"inc-{run}"
            console.close()
            dom.destroy()
        finally:
            conn.close()
        t_inc = statistics.median(i[0] for i in incs)
        b_inc = statistics.median(i[1] for i in incs)
        c_inc = statistics.median(i[2] for i in incs)
        print(f"disk: {args.disk_mib} MiB of data (qcow2, 64 KiB clusters); {changed} of {clusters} clusters "
              f"({100 * changed / clusters:.2f} %) rewritten before each of {args.runs} incrementals; medians; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"full:        {full[0] * 1000:8.0f} ms  {full[1] / (1 << 20):8.1f} MiB on disk  "
              f"{full[2] / (1 << 20):8.1f} MiB copied")
        print(f"incremental: {t_inc * 1000:8.0f} ms  {b_inc / (1 << 20):8.1f} MiB on disk  "
              f"{c_inc / (1 << 20):8.1f} MiB copied")
        for what, ratio in (("time", t_inc / full[0]), ("bytes", b_inc / full[1])):
            verdict = "OK" if ratio <= 0.10 else "MISSED"
            print(f"incremental/full {what}: {100 * ratio:5.1f} %  target <= 10 %: {verdict}")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
