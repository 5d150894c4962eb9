"""Paths that alias one file (symlink, '..', hard link, relative vs absolute) map to one lease."""
from __future__ import annotations

import os

import pytest

from drivers.errors import DriverError, ErrorCode
from drivers.locking import LeaseHolder, LeaseMode, Lockspace, Resource, inspect, lease_keys, lease_name


@pytest.fixture
def files(tmp_path):
    (tmp_path / "sub").mkdir()
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"x")
    os.symlink(disk, tmp_path / "sym.img")
    os.symlink(tmp_path / "sym.img", tmp_path / "sub" / "sym2.img")  # a chain
    os.link(disk, tmp_path / "sub" / "hard.img")
    return tmp_path


def aliases(root) -> list[str]:
    return [str(root / "disk.img"), str(root / "sym.img"), str(root / "sub" / "sym2.img"),
            str(root / "sub" / ".." / "disk.img"), str(root / "sub" / "hard.img"), f"{root}//./disk.img"]


def test_one_lease_name(files):
    names = {lease_name(p) for p in aliases(files)}
    assert len(names) == 1
    assert lease_name("disk.img", cwd=files) in names  # relative, given its directory
    assert lease_name("../disk.img", cwd=files / "sub") in names


def test_symlink_and_dotdot_share_the_path_lease_too(files):
    path_keys = {lease_keys(p)[1][0] for p in aliases(files) if "hard" not in p}
    assert len(path_keys) == 1


def test_not_yet_existing_file(tmp_path):
    (tmp_path / "sub").mkdir()
    assert lease_name(str(tmp_path / "new.img")) == lease_name(str(tmp_path / "sub" / ".." / "new.img"))
    os.symlink(tmp_path / "new.img", tmp_path / "dangling")
    assert lease_name(str(tmp_path / "dangling")) == lease_name(str(tmp_path / "new.img"))


def test_file_created_after_locking_still_conflicts(tmp_path):
    """A lease taken before the file exists (path lease) still excludes a holder after creation."""
    ls = Lockspace(tmp_path / "ls")
    a = LeaseHolder(ls, "00000000-0000-0000-0000-00000000000a", "a", "h")
    b = LeaseHolder(ls, "00000000-0000-0000-0000-00000000000b", "b", "h")
    a.register(), b.register()
    a.acquire([Resource.make(str(tmp_path / "late.img"))])
    (tmp_path / "late.img").touch()
    with pytest.raises(DriverError) as info:
        b.acquire([Resource.make(str(tmp_path / "late.img"))])
    assert info.value.code is ErrorCode.RESOURCE_BUSY
    a.close(), b.close()


@pytest.mark.parametrize("mode", list(LeaseMode))
def test_every_alias_conflicts_with_an_exclusive_holder(files, mode):
    ls = Lockspace(files / "ls")
    owner = LeaseHolder(ls, "00000000-0000-0000-0000-000000000001", "owner", "h")
    owner.register()
    owner.acquire([Resource.make(str(files / "disk.img"))])
    try:
        for i, path in enumerate(aliases(files)):
            other = LeaseHolder(ls, f"00000000-0000-0000-0000-0000000001{i:02d}", f"other{i}", "h")
            other.register()
            with pytest.raises(DriverError) as info:
                other.acquire([Resource.make(path, mode)])
            assert info.value.code is ErrorCode.RESOURCE_BUSY
            assert "'owner'" in info.value.message and "00000000-0000-0000-0000-000000000001" in info.value.message
            assert other.held == []
            other.close()
            held = inspect(path, ls)
            assert held.mode is LeaseMode.EXCLUSIVE and [h.name for h in held.holders] == ["owner"]
    finally:
        owner.close()
    assert all(inspect(p, ls).free for p in aliases(files))


def test_block_device_identity():
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null")
    # character devices use the inode key; block devices (rarely present in CI) use st_rdev
    _, keys = lease_keys("/dev/null")
    assert keys[-1].what.startswith(("inode:", "blockdev:"))
