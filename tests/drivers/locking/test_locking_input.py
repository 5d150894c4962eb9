"""Bad input is refused with INVALID_ARG (or NO_SUPPORT for known-but-unsupported kinds)."""
from __future__ import annotations

import os

import pytest

from drivers.errors import DriverError, ErrorCode
from drivers.locking import LeaseMode, LockManager, Lockspace
from drivers.locking.modes import parse_mode

UUID = "6f1e1c9a-3c0b-4a53-9a7f-0c2f1f9b6e10"


def code_of(fn, *args, **kw) -> ErrorCode:
    with pytest.raises(DriverError) as info:
        fn(*args, **kw)
    assert info.value.message  # always a message a person can act on
    return info.value.code


@pytest.fixture
def mgr(tmp_path) -> LockManager:
    return LockManager(UUID, "vm", Lockspace(tmp_path / "ls"), runtime_dir=tmp_path / "run")


@pytest.mark.parametrize("path", ["", "disk.img", "./disk.img", "../x", "a\0b", 42, None, b"/x"])
def test_bad_paths(mgr, path):
    assert code_of(mgr.add_resource, path) is ErrorCode.INVALID_ARG
    assert mgr.resources == []


@pytest.mark.parametrize("kind", ["floppy", "", None, 0, "DISK"])
def test_unknown_resource_types(mgr, kind):
    assert code_of(mgr.add_resource, "/tmp/x.img", kind=kind) is ErrorCode.INVALID_ARG


def test_known_but_unsupported_type(mgr):
    assert code_of(mgr.add_resource, "/tmp/x.img", kind="lease") is ErrorCode.NO_SUPPORT


@pytest.mark.parametrize("flags", [4, 8, 1 << 31, -1, 3, "bogus", 1.5, True, object()])
def test_flags_out_of_range(mgr, flags):
    assert code_of(mgr.add_resource, "/tmp/x.img", flags) is ErrorCode.INVALID_ARG


@pytest.mark.parametrize("flags,mode", [(0, LeaseMode.EXCLUSIVE), (1, LeaseMode.READONLY), (2, LeaseMode.SHARED),
                                        ("shared", LeaseMode.SHARED), (LeaseMode.READONLY, LeaseMode.READONLY)])
def test_flags_in_range(flags, mode):
    assert parse_mode(flags) is mode


@pytest.mark.parametrize("readonly,shareable,mode", [(False, False, LeaseMode.EXCLUSIVE),
                                                     (False, True, LeaseMode.SHARED),
                                                     (True, False, LeaseMode.READONLY),
                                                     (True, True, LeaseMode.READONLY)])
def test_a_disk_is_leased_in_the_mode_its_flags_say(readonly, shareable, mode):
    """A read-only disk is never written, so it takes no write lease even when shareable."""
    assert LeaseMode.for_disk(readonly=readonly, shareable=shareable) is mode


@pytest.mark.parametrize("vm_uuid", ["", "not-a-uuid", None, 12, "6f1e1c9a-3c0b-4a53-9a7f"])
def test_bad_uuid(tmp_path, vm_uuid):
    assert code_of(LockManager, vm_uuid, "vm", Lockspace(tmp_path)) is ErrorCode.INVALID_ARG


@pytest.mark.parametrize("name", ["", "   ", "a\nb", None, 3])
def test_bad_name(tmp_path, name):
    assert code_of(LockManager, UUID, name, Lockspace(tmp_path)) is ErrorCode.INVALID_ARG


def test_uuid_is_canonicalised(tmp_path):
    assert LockManager(UUID.upper(), "vm", Lockspace(tmp_path)).uuid == UUID


@pytest.mark.parametrize("argv", [[], "sleep 1", None, ["sleep", None], ["sle\0ep"]])
def test_bad_vm_argv(mgr, argv):
    assert code_of(mgr.supervisor_command, argv) is ErrorCode.INVALID_ARG
    assert code_of(mgr.launch, argv) is ErrorCode.INVALID_ARG


def test_program_not_found(mgr):
    assert code_of(mgr.launch, ["no-such-vm-program-xyz"]) is ErrorCode.INVALID_ARG


def test_same_resource_twice(mgr, tmp_path):
    disk = tmp_path / "d.img"
    disk.touch()
    first = mgr.add_resource(str(disk))
    assert mgr.add_resource(str(disk)) is first  # same mode: no-op
    os.link(disk, tmp_path / "hard.img")
    assert code_of(mgr.add_resource, str(tmp_path / "hard.img"), LeaseMode.SHARED) is ErrorCode.INVALID_ARG
    assert mgr.resources == [first]


def test_supervisor_command_shape(mgr, tmp_path):
    mgr.add_resource(str(tmp_path / "d.img"), LeaseMode.SHARED)
    cmd = mgr.supervisor_command(["qemu-system-x86_64", "-S"], register_only=True)
    assert cmd[1:3] == ["-m", "drivers.locking.supervisor"]
    assert cmd[-3:] == ["--", "qemu-system-x86_64", "-S"]
    assert "--register-only" in cmd
    assert f"shared:disk:{tmp_path / 'd.img'}" in cmd


def test_bad_lockspace():
    assert code_of(Lockspace, "") is ErrorCode.INVALID_ARG
    assert code_of(LockManager, UUID, "vm", "/tmp/not-a-lockspace-object") is ErrorCode.INVALID_ARG
