"""Processes racing for shared disks: never two exclusive holders, never exclusive beside
shared or read-only, and every refusal is RESOURCE_BUSY naming a real holder.

Each holder bumps a shared table *after* its locks are taken and un-bumps it *before*
they drop, so any overlap the locks allowed would show up in the table.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import random
import re
import time
import uuid
from pathlib import Path

import pytest

from drivers.errors import DriverError, ErrorCode
from drivers.locking import LeaseHolder, LeaseMode, LockManager, Lockspace, Resource

MODES = [LeaseMode.EXCLUSIVE, LeaseMode.SHARED, LeaseMode.READONLY]
STRENGTH = {LeaseMode.READONLY: 0, LeaseMode.SHARED: 1, LeaseMode.EXCLUSIVE: 2}
NAMED = re.compile(r"in use by VM '(w\d+)' \(uuid [0-9a-f-]{36}, (?:supervisor )?pid \d+, host \w+\) as (\w+)")


def make_pool(root: Path) -> list[tuple[str, int]]:
    """(path, disk index): 4 disks, reachable also via a symlink, '..' and a hard link."""
    (root / "sub").mkdir()
    disks = []
    for i in range(4):
        (root / f"d{i}.img").touch()
        disks.append((str(root / f"d{i}.img"), i))
    os.symlink(root / "d0.img", root / "sym0.img")
    os.link(root / "d1.img", root / "sub" / "hard1.img")
    disks += [(str(root / "sym0.img"), 0), (str(root / "sub" / "hard1.img"), 1),
              (str(root / "sub" / ".." / "d2.img"), 2)]
    return disks


def check_and_add(table, guard, mine: dict[int, LeaseMode], sign: int) -> str | None:
    """Add (sign=+1) or remove (-1) our holdings; on add, report any incompatibility."""
    with guard:
        problem = None
        for disk, mode in mine.items():
            excl, shared, ro = table[disk * 3], table[disk * 3 + 1], table[disk * 3 + 2]
            if sign > 0:
                if excl or (mode is LeaseMode.EXCLUSIVE and (shared or ro)):
                    problem = f"disk {disk}: {mode.value} granted beside excl={excl} shared={shared} ro={ro}"
            table[disk * 3 + MODES.index(mode)] += sign
        return problem


def lease_worker(idx: int, ls_path: str, pool, rounds: int, seed: int, table, guard, out) -> None:
    rng = random.Random(seed + idx)
    holder = LeaseHolder(Lockspace(ls_path), str(uuid.UUID(int=idx + 1)), f"w{idx}", "race")
    holder.register()
    stats = {"granted": 0, "busy": 0, "errors": []}
    for _ in range(rounds):
        picks = rng.sample(pool, rng.randint(1, 3))
        resources = [Resource.make(path, rng.choice(MODES)) for path, _ in picks]
        mine: dict[int, LeaseMode] = {}
        for (_, disk), res in zip(picks, resources, strict=False):
            if disk not in mine or STRENGTH[res.mode] > STRENGTH[mine[disk]]:
                mine[disk] = res.mode
        try:
            holder.acquire(resources)
        except DriverError as err:
            stats["busy"] += 1
            match = NAMED.search(err.message)
            if err.code is not ErrorCode.RESOURCE_BUSY or not match or match.group(1) == f"w{idx}":
                stats["errors"].append(f"bad refusal: {err!r}")
            continue
        stats["granted"] += 1
        problem = check_and_add(table, guard, mine, +1)
        if problem:
            stats["errors"].append(problem)
        if rng.random() < 0.3:
            time.sleep(rng.random() * 0.001)
        check_and_add(table, guard, mine, -1)
        holder.release()
    holder.close()
    out.put(stats)


def run_workers(target, args_for, n: int) -> list[dict]:
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_for(i, ctx), out)) for i in range(n)]
    for p in procs:
        p.start()
    try:
        results = [out.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs)
    return results


def test_lease_race_thousands_of_rounds(tmp_path):
    pool = make_pool(tmp_path)
    ctx = mp.get_context("fork")
    table, guard = ctx.Array("i", 3 * 4, lock=False), ctx.Lock()
    seed = int(os.environ.get("VMGUI_RACE_SEED", "20240611"))
    rounds = 1000
    results = run_workers(lease_worker,
                          lambda i, _: (i, str(tmp_path / "ls"), pool, rounds, seed, table, guard), n=4)
    errors = [e for r in results for e in r["errors"]]
    assert not errors, errors[:5]
    assert sum(r["granted"] + r["busy"] for r in results) == 4 * rounds
    assert sum(r["granted"] for r in results) > 100 and sum(r["busy"] for r in results) > 100
    assert list(table) == [0] * 12


def launch_worker(idx: int, root: str, pool, rounds: int, seed: int, table, guard, out) -> None:
    """Start real VMs under supervisors; a refused start must leave no trace of its VM."""
    rng = random.Random(seed * 7 + idx)
    ls = Lockspace(Path(root) / "ls")
    stats = {"granted": 0, "busy": 0, "errors": []}
    for n in range(rounds):
        picks = rng.sample(pool, rng.randint(1, 2))
        mgr = LockManager(str(uuid.uuid4()), f"w{idx}", ls, host="race", runtime_dir=Path(root) / "run")
        mine: dict[int, LeaseMode] = {}
        for path, disk in picks:
            if disk in mine:
                continue
            mine[disk] = rng.choice(MODES)
            mgr.add_resource(path, mine[disk])
        marker = Path(root) / f"ran-{idx}-{n}"
        try:
            sup = mgr.launch(["sh", "-c", f": > {marker}; exec sleep 30"])
        except DriverError as err:
            stats["busy"] += 1
            match = NAMED.search(err.message)
            if err.code is not ErrorCode.RESOURCE_BUSY or not match:
                stats["errors"].append(f"bad refusal: {err!r}")
            time.sleep(0.05)
            if marker.exists():
                stats["errors"].append(f"refused VM ran: {marker}")
            continue
        stats["granted"] += 1
        problem = check_and_add(table, guard, mine, +1)
        if problem:
            stats["errors"].append(problem)
        time.sleep(0.05 + rng.random() * 0.2)
        check_and_add(table, guard, mine, -1)
        status = sup.shutdown(timeout=5)
        if not status.requested:
            stats["errors"].append(f"unexpected end {status}")
    out.put(stats)


@pytest.mark.slow
def test_supervisor_race(tmp_path):
    pool = [(path, disk) for path, disk in make_pool(tmp_path) if disk < 2]  # two disks, four names
    ctx = mp.get_context("fork")
    table, guard = ctx.Array("i", 3 * 4, lock=False), ctx.Lock()
    seed = int(os.environ.get("VMGUI_RACE_SEED", "20240611"))
    results = run_workers(launch_worker, lambda i, _: (i, str(tmp_path), pool, 8, seed, table, guard), n=3)
    errors = [e for r in results for e in r["errors"]]
    assert not errors, errors[:5]
    assert sum(r["granted"] for r in results) > 3 and sum(r["busy"] for r in results) > 3
    assert list(table) == [0] * 12

