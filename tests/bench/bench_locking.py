"""Lock-manager latency: ``python tests/bench/bench_locking.py [rounds]``. Prints figures; not a test.

Three layers, each as acquire+release of one resource (target: under 1 ms each way):
the raw fcntl lock, a LeaseHolder (lock + holder record), and a hot-plug through a
running supervisor (socket round trip included). Also the time to launch a VM
under a supervisor (exec'd by LockManager.launch, and forked by a Launcher's fork
server once it is ready), and to shut it down.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from drivers.locking import Launcher, LeaseHolder, LeaseMode, LockManager, Lockspace, Resource, ofd


def figures(name: str, acquire: list[float], release: list[float]) -> None:
    def fmt(xs: list[float]) -> str:
        xs = sorted(xs)
        return (f"median {statistics.median(xs) * 1e6:7.1f} us  p95 {xs[int(len(xs) * 0.95)] * 1e6:7.1f} us"
                f"  max {xs[-1] * 1e6:8.1f} us")
    print(f"{name:34s} acquire {fmt(acquire)}")
    print(f"{'':34s} release {fmt(release)}")


def bench_raw(root: Path, rounds: int) -> None:
    fd = os.open(root / "raw.lease", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    acq, rel = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        ofd.try_lock(fd, LeaseMode.EXCLUSIVE)
        t1 = time.perf_counter()
        ofd.unlock(fd)
        t2 = time.perf_counter()
        acq.append(t1 - t0)
        rel.append(t2 - t1)
    os.close(fd)
    figures(f"fcntl ({'OFD' if ofd.uses_ofd() else 'POSIX'}) lock", acq, rel)


def bench_holder(root: Path, rounds: int) -> None:
    holder = LeaseHolder(Lockspace(root / "ls"), str(uuid.uuid4()), "bench", "bench-host")
    holder.register()
    disk = root / "disk.img"
    disk.touch()
    acq, rel = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        res = Resource.make(str(disk))
        holder.acquire([res])
        t1 = time.perf_counter()
        holder.release([res])
        t2 = time.perf_counter()
        acq.append(t1 - t0)
        rel.append(t2 - t1)
    holder.close()
    figures("LeaseHolder (lock + record)", acq, rel)


def bench_supervisor(root: Path, rounds: int) -> None:
    ls = Lockspace(root / "ls")
    starts, stops, acq, rel = [], [], [], []
    disk = root / "hot.img"
    disk.touch()
    for i in range(5):
        mgr = LockManager(str(uuid.uuid4()), f"bench{i}", ls, runtime_dir=root / "run")
        mgr.add_resource(str(root / f"boot{i}.img"))
        t0 = time.perf_counter()
        sup = mgr.launch(["sleep", "60"])
        starts.append(time.perf_counter() - t0)
        if i == 0:
            for _ in range(rounds):
                t1 = time.perf_counter()
                sup.acquire(disk)
                t2 = time.perf_counter()
                sup.release(disk)
                t3 = time.perf_counter()
                acq.append(t2 - t1)
                rel.append(t3 - t2)
        t4 = time.perf_counter()
        sup.shutdown(timeout=5)
        stops.append(time.perf_counter() - t4)
    figures("supervisor hot-plug (socket)", acq, rel)
    print(f"{'launch (python start + lease)':34s} median {statistics.median(starts) * 1e3:6.1f} ms"
          f"  shutdown median {statistics.median(stops) * 1e3:6.1f} ms")


def bench_launcher(root: Path, launches: int = 10) -> None:
    ls = Lockspace(root / "ls")
    launcher = Launcher()
    launcher.start()
    starts = []
    try:
        for i in range(launches + 1):
            mgr = LockManager(str(uuid.uuid4()), f"fork{i}", ls, runtime_dir=root / "run")
            mgr.add_resource(str(root / f"fork{i}.img"))
            t0 = time.perf_counter()
            sup = launcher.launch(mgr, ["sleep", "60"])
            if i:  # the first one also waits for the fork server's imports
                starts.append(time.perf_counter() - t0)
            sup.shutdown(timeout=5)
        assert launcher.forking, "the fork server failed: the figures are of exec'd supervisors"
    finally:
        launcher.close()
    print(f"{'launch (forked by a Launcher)':34s} median {statistics.median(starts) * 1e3:6.1f} ms"
          f"  max {max(starts) * 1e3:6.1f} ms")


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    root = Path(tempfile.mkdtemp(prefix="vlb"))
    print(f"lock-manager latency, {rounds} rounds, lockspace under {root} ({os.uname().sysname} "
          f"{os.uname().release}, python {sys.version.split()[0]})")
    bench_raw(root, rounds)
    bench_holder(root, rounds)
    try:
        bench_supervisor(root, rounds)
        bench_launcher(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
