"""Cost of the disk-deletion checks: ``python tests/bench/bench_diskdelete.py [domains] [holders]``.

Prints figures; not a test. The Delete dialog asks ``check_delete_disks``
before it opens, so this is what a user waits for: every domain of every open
host is compared with the disk, and every live holder of the lockspace read.
A private test host holds ``domains`` domains (one disk each) and ``holders``
in-process lease holders hold one disk each.
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "vmgui"))

import vmgui_nodes  # noqa: E402

import drivers  # noqa: E402
from drivers.locking import LeaseHolder, LeaseMode, Lockspace, Resource  # noqa: E402


def median_ms(fn, rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return statistics.median(times) * 1e3, times[int(len(times) * 0.95)] * 1e3


def main() -> None:
    domains = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    holders = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    base = Path(tempfile.mkdtemp(prefix="bench-del-"))
    os.environ["VMGUI_LOCKSPACE"] = str(base / "lockspace")
    held = []
    try:
        uri = vmgui_nodes.write_node(str(base / "node.xml"), domains)
        conn = drivers.open(uri)
        for i in range(holders):
            holder = LeaseHolder(Lockspace(), str(uuid.uuid4()), f"vm{i}", "benchhost")
            holder.register()
            disk = base / f"held{i}.qcow2"
            disk.write_bytes(b"x")
            holder.acquire([Resource.make(str(disk), LeaseMode.EXCLUSIVE)])
            held.append(holder)
        own = conn.list_all_domains()[0]
        disk = base / "free.qcow2"
        med, p95 = median_ms(lambda: conn.check_delete_disks([str(disk)], own), 20)
        print(f"check_delete_disks, 1 disk, {domains} domains, {holders} holders:"
              f" median {med:7.1f} ms  p95 {p95:7.1f} ms")

        def delete_one() -> None:
            disk.write_bytes(b"x")
            conn.delete_disks([str(disk)])
        med, p95 = median_ms(delete_one, 20)
        print(f"delete_disks, 1 free disk (checks, lease, unlink):  median {med:7.1f} ms  p95 {p95:7.1f} ms")
        conn.close()
    finally:
        for holder in held:
            holder.close()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
