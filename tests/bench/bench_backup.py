#!/usr/bin/env python3
"""Backup catalog benchmarks: full backups and restores against ``cp`` + ``sync``; prints figures.

    python tests/bench/bench_backup.py [--runs N] [--disk-mib M]

* full backup of a running VM (an idle guest, and one that keeps a CPU busy) into a catalogued
  folder (QEMU's blockdev-backup, then the checksum (BLAKE3) of the image while the kernel
  writes it back, and the manifest, all inside the job);
* full backup of a shut-off VM (its qcow2 copied as a file and hashed on the way,
  manifest);
* restore to a new VM and onto the shut-off VM (a file copy into ``.part`` files,
  written back while it grows, fsync, rename; the new VM defined);
* the checksum pass alone (BLAKE3, and the SHA-256 of older backups), to show what it adds to a backup.

Each is timed from the call to the job's end plus a ``sync``, against ``cp``
of the same image plus ``sync`` under the same load (the running backup against
a ``cp`` while the guest runs: the bench guest keeps one CPU busy), interleaved
run by run; each ratio is the median of the runs' own ratios. Nothing written is
removed before the end, so every copy lands on blocks the file system never gave
out before: a disk that is fast on blocks just freed and slow on new ones (a
thin-provisioned cloud disk with online discard) otherwise favours whichever case
writes where another just deleted. Target: at least 0.9x.
Not collected by pytest (no test_ functions). Needs qemu-system-x86_64,
qemu-img and gcc (the tiny test guest is built on the fly).
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
from collections.abc import Callable
from pathlib import Path

from bench_qemu import REPO, _wait_job, _wait_serial, _xml

sys.path.insert(0, str(REPO / "tests" / "e2e"))


#: what each case is measured against: cp + sync of the same image under the same load
BASELINES = {"running, idle guest": "cp + sync", "running": "cp + sync, VM running", "shut-off": "cp + sync",
             "to new VM": "cp + sync", "onto VM": "cp + sync"}


def _timed(fn: Callable[[], None]) -> float:
    subprocess.run(["sync"], check=True)
    t0 = time.perf_counter()
    fn()
    subprocess.run(["sync"], check=True)
    return time.perf_counter() - t0


def paired_ratio(baseline: list[float], times: list[float]) -> float:
    """Throughput against the baseline: the median over runs of baseline time / time, run by run."""
    return statistics.median(b / t for b, t in zip(baseline, times, strict=True))


def _cp(src: str, dst: Path) -> Callable[[], None]:
    return lambda: subprocess.run(["cp", src, str(dst)], check=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--disk-mib", type=int, default=512)
    args = ap.parse_args(argv)
    if not shutil.which("qemu-system-x86_64") or not shutil.which("qemu-img"):
        print("qemu-system-x86_64 and qemu-img are needed (Debian: qemu-system-x86 qemu-utils)")
        return 2
    import build_guest
    from e2e_helpers import backup_xml, make_qcow2
    base = Path(tempfile.mkdtemp(prefix="vqc-", dir="/tmp"))
    os.chmod(base, 0o700)
    (base / "run").mkdir(mode=0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(base / "run")
    os.environ["VMGUI_LOCKSPACE"] = str(base / "lockspace")
    import drivers
    from drivers import checksum
    cases = ("running, idle guest", "running", "shut-off", "to new VM", "onto VM", "blake3", "sha256", "cp + sync",
             "cp + sync, VM running")
    figures: dict[str, list[float]] = {k: [] for k in cases}
    try:
        kernel = build_guest.build(str(base / "guest.elf"))
        disk = make_qcow2(base / "src.qcow2", size_mib=args.disk_mib, fill_mib=args.disk_mib)
        conn = drivers.open(f"qemu:///embed?root={base / 'root'}")
        dom = conn.define_xml(_xml("bench-cat", kernel, base / "cat.serial", 32, disk))
        idle = conn.define_xml(_xml("bench-idle", kernel, base / "idle.serial", 32, disk).replace(
            "</kernel>", "</kernel><cmdline>idle</cmdline>"))
        try:
            for run in range(args.runs):
                def backup(folder: Path, of: drivers.Domain = dom) -> Callable[[], None]:
                    def go() -> None:
                        folder.mkdir(parents=True)
                        info = _wait_job(of, of.backup_begin(backup_xml(str(folder / "vda.qcow2")),
                                                             drivers.BackupFlags.SHUT_OFF))
                        assert info.state == drivers.JobState.COMPLETED, info.error
                    return go
                idle.create()
                _wait_serial(base / "idle.serial", b"FILLED")
                figures["running, idle guest"].append(_timed(backup(base / "bk" / f"idle-{run}", idle)))
                idle.destroy()
                dom.create()
                figures["cp + sync, VM running"].append(_timed(_cp(disk, base / f"cp-running-{run}.qcow2")))
                figures["running"].append(_timed(backup(base / "bk" / f"run-{run}")))
                dom.destroy()
                figures["cp + sync"].append(_timed(_cp(disk, base / f"cp-{run}.qcow2")))
                figures["shut-off"].append(_timed(backup(base / "bk" / f"off-{run}")))
                folder = str(base / "bk" / f"run-{run}")
                image = str(Path(folder) / "vda.qcow2")
                for algorithm in ("blake3", "sha256"):
                    figures[algorithm].append(_timed(lambda a=algorithm: checksum.of_file(image, a)))  # noqa: B023

                def restore_new() -> None:
                    job = conn.backup_restore(folder, f"copy-{run}", str(base / "images" / str(run)),  # noqa: B023
                                              drivers.JobFlags.ASYNC)
                    while not (info := next(j for j in conn.list_all_jobs() if j.id == job)).finished:
                        time.sleep(0.005)
                    assert info.state == drivers.JobState.COMPLETED, info.error
                figures["to new VM"].append(_timed(restore_new))

                def restore_onto() -> None:
                    info = _wait_job(dom, conn.backup_restore_onto(folder, "bench-cat", drivers.JobFlags.ASYNC))  # noqa: B023
                    assert info.state == drivers.JobState.COMPLETED, info.error
                figures["onto VM"].append(_timed(restore_onto))
                conn.lookup_by_name(f"copy-{run}").undefine()
        finally:
            conn.close()
        mib = args.disk_mib
        print(f"image: {mib} MiB of data (qcow2), {args.runs} runs, medians; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print("running: a guest that keeps one CPU busy, compared with cp + sync while it runs")
        rates = {name: mib / statistics.median(times) for name, times in figures.items()}
        for name, rate in rates.items():
            times = figures[name]
            spread = f"{min(times) * 1000:.0f}-{max(times) * 1000:.0f} ms"
            baseline = BASELINES.get(name)
            verdict = ""
            if baseline is not None:
                ratio = paired_ratio(figures[baseline], times)
                verdict = f"   {ratio:.2f}x {baseline}  target >= 0.9x: {'OK' if ratio >= 0.9 else 'MISSED'}"
            print(f"{name + ':':<23} {rate:7.0f} MiB/s  ({mib / rate * 1000:.0f} ms, {spread}){verdict}")
        print(f"running against cp + sync with no VM: {paired_ratio(figures['cp + sync'], figures['running']):.2f}x")
        print("ratios: the median of each run's ratio to the baseline timed next to it (a disk whose speed drifts "
              "between runs, a cloud disk's burst credit, moves both alike)")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
