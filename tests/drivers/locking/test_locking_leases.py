"""Lease semantics in-process: the mode matrix, all-or-nothing, idempotent release, naming."""
from __future__ import annotations

import itertools

import pytest

from drivers.errors import DriverError, ErrorCode
from drivers.locking import LeaseHolder, LeaseMode, Lockspace, Resource, inspect

E, S, R = LeaseMode.EXCLUSIVE, LeaseMode.SHARED, LeaseMode.READONLY
COMPATIBLE = {(S, S), (S, R), (R, S), (R, R)}


def holder(ls: Lockspace, n: int, name: str | None = None) -> LeaseHolder:
    h = LeaseHolder(ls, f"00000000-0000-0000-0000-{n:012d}", name or f"vm{n}", "hostA")
    h.register()
    return h


@pytest.fixture
def ls(tmp_path) -> Lockspace:
    return Lockspace(tmp_path / "ls")


@pytest.mark.parametrize("first,second", list(itertools.product(LeaseMode, LeaseMode)))
def test_mode_matrix(ls, tmp_path, first, second):
    disk = str(tmp_path / "d.img")
    a, b = holder(ls, 1, "alpha"), holder(ls, 2)
    a.acquire([Resource.make(disk, first)])
    if (first, second) in COMPATIBLE:
        b.acquire([Resource.make(disk, second)])
        assert sorted(h.name for h in inspect(disk, ls).holders) == ["alpha", "vm2"]
    else:
        with pytest.raises(DriverError) as info:
            b.acquire([Resource.make(disk, second)])
        err = info.value
        assert err.code is ErrorCode.RESOURCE_BUSY
        assert disk in err.message and "'alpha'" in err.message and "hostA" in err.message
        assert f"as {first.value}" in err.message
    a.close()
    b.close()
    assert inspect(disk, ls).free


def test_third_party_shared_and_readonly_block_exclusive(ls, tmp_path):
    disk = str(tmp_path / "d.img")
    s, r, e = holder(ls, 1, "sharer"), holder(ls, 2, "reader"), holder(ls, 3)
    s.acquire([Resource.make(disk, S)])
    r.acquire([Resource.make(disk, R)])
    with pytest.raises(DriverError) as info:
        e.acquire([Resource.make(disk, E)])
    assert "'sharer'" in info.value.message
    s.release()
    with pytest.raises(DriverError) as info:
        e.acquire([Resource.make(disk, E)])
    assert "'reader'" in info.value.message  # read-only excludes an exclusive writer too
    r.release()
    e.acquire([Resource.make(disk, E)])
    assert inspect(disk, ls).mode is E
    for h in (s, r, e):
        h.close()


def test_all_or_nothing(ls, tmp_path):
    disks = [str(tmp_path / f"d{i}.img") for i in range(4)]
    a, b = holder(ls, 1), holder(ls, 2)
    a.acquire([Resource.make(disks[2])])
    b.acquire([Resource.make(disks[3], S)])
    with pytest.raises(DriverError):
        b.acquire([Resource.make(d) for d in disks])
    assert [r.path for r in b.held] == [disks[3]]  # what it held before is untouched
    assert inspect(disks[0], ls).free and inspect(disks[1], ls).free
    assert inspect(disks[3], ls).mode is S
    a.close(), b.close()


def test_one_holder_may_list_a_disk_twice(ls, tmp_path):
    disk = str(tmp_path / "d.img")
    a = holder(ls, 1)
    a.acquire([Resource.make(disk, S), Resource.make(disk, R)])  # no conflict with itself
    a.release([a.held[0]])
    assert inspect(disk, ls).mode is R
    a.close()
    assert inspect(disk, ls).free


def test_release_is_idempotent(ls, tmp_path):
    disk = str(tmp_path / "d.img")
    a = holder(ls, 1)
    res = Resource.make(disk)
    a.acquire([res])
    assert a.release([res]) == [res]
    assert a.release([res]) == []
    assert a.release() == []
    a.close()
    a.close()
    assert inspect(disk, ls).free


def test_one_holder_per_uuid_per_host(ls):
    a = holder(ls, 1)
    with pytest.raises(DriverError) as info:
        holder(ls, 1)
    assert info.value.code is ErrorCode.RESOURCE_BUSY
    other_host = LeaseHolder(ls, a.record.uuid, "vm1", "hostB")
    other_host.register()  # migration: the same VM on two hosts
    other_host.close()
    a.close()


def test_holder_without_a_record_is_still_refused(ls, tmp_path, monkeypatch):
    """A lock taken by something that keeps no record (another tool) still blocks."""
    import os

    from drivers.locking import leases, ofd
    monkeypatch.setattr(leases, "NAME_RETRY_S", 0.1)
    disk = str(tmp_path / "d.img")
    res = Resource.make(disk, S)
    fd = ls.ensure().open_lease(res.keys[0].name)
    assert ofd.try_lock(fd, E)
    a = holder(ls, 1)
    with pytest.raises(DriverError) as info:
        a.acquire([res])
    assert info.value.code is ErrorCode.RESOURCE_BUSY and "without a record" in info.value.message
    assert inspect(disk, ls).mode is E and inspect(disk, ls).holders == []
    os.close(fd)
    a.acquire([res])
    a.close()
