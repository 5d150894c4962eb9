"""The issue-8 contract additions as the base classes define them (drivers without support)."""
from __future__ import annotations

import pytest

import drivers
from drivers import DiskCreateFlags, DomainRecord, DomainState, ErrorCode, Feature
from drivers.base import Connection, Domain
from drivers.qemu import PREALLOCATE


class Bare(Connection):
    """A driver that implements nothing: what callers see from an older or foreign driver."""


def test_preallocate_is_one_flag_under_both_names():
    assert PREALLOCATE is DiskCreateFlags.PREALLOCATE and int(PREALLOCATE) == 1


def test_a_driver_without_the_new_calls_fails_no_support_with_advice():
    conn = Bare("bare:///")
    with pytest.raises(drivers.DriverError) as info:
        conn.create_disk("/tmp/x.qcow2", 1 << 20)
    assert info.value.code is ErrorCode.NO_SUPPORT and "on the host" in info.value.message
    with pytest.raises(drivers.DriverError) as info:
        Domain(conn, "vm", "u").rename("vm2")
    assert info.value.code is ErrorCode.NO_SUPPORT
    assert not conn.supports_feature(Feature.RENAME)


def test_a_driver_that_cannot_tell_answers_none_for_every_path():
    conn = Bare("bare:///")
    assert conn.storage_visible(["/a", "/b"]) == {"/a": None, "/b": None}
    conn.close()
    with pytest.raises(drivers.DriverError) as info:
        conn.storage_visible(["/a"])
    assert info.value.code is ErrorCode.OPERATION_INVALID


def test_records_built_positionally_keep_working_and_default_the_new_figures():
    rec = DomainRecord("vm", "u", None, DomainState.SHUTOFF, 0, True, False, False, 0, 1024, 2048, 1, 0)
    assert rec.started_at is None and rec.memory_used_kib is None and rec.title == "" and rec.problem == ""
    moved = rec._replace(started_at=5.0, memory_used_kib=512)
    assert (moved.started_at, moved.memory_used_kib, moved.problem) == (5.0, 512, "")
