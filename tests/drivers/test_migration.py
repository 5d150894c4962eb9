"""Migration through the coordinator: negotiation, phases, flags, failure and cancel."""
from __future__ import annotations

import time

import pytest

import drivers
from drivers import DomainState, ErrorCode, EventType, Feature, JobFlags, JobOperation, JobState, MigrateFlags
from drivers.migration import choose_protocol

from nodegen import node_xml


@pytest.fixture
def dest(tmp_path):
    path = tmp_path / "dest.xml"
    path.write_text(node_xml([{"name": "resident", "runstate": 1}]))
    with drivers.open(f"test://{path}?rate=4096") as c:
        yield c


def open_dest(tmp_path, query):
    path = tmp_path / f"dest-{query}.xml"
    path.write_text(node_xml([]))
    return drivers.open(f"test://{path}?{query}")


def test_live_migration_moves_a_running_guest(conn, dest):
    src_dom = conn.lookup_by_name("test")
    new = src_dom.migrate(dest, MigrateFlags.LIVE)
    assert new.connection is dest and new.uuid == src_dom.uuid
    assert new.state()[0] is DomainState.RUNNING and not new.is_persistent()
    assert src_dom.state()[0] is DomainState.SHUTOFF and src_dom.is_persistent()
    job = conn.list_all_jobs()[-1]
    assert job.operation is JobOperation.MIGRATION_OUT and job.state is JobState.COMPLETED
    assert job.detail("iteration") >= 2 and job.detail("remaining_bytes") == 0
    assert [j.operation for j in dest.list_all_jobs()] == [JobOperation.MIGRATION_IN]


def test_persist_dest_undefine_source_and_paused(conn, dest):
    src_dom = conn.lookup_by_name("test")
    new = src_dom.migrate(dest, MigrateFlags.LIVE | MigrateFlags.PERSIST_DEST | MigrateFlags.UNDEFINE_SOURCE
                          | MigrateFlags.PAUSED)
    assert new.is_persistent() and new.state()[0] is DomainState.PAUSED
    with pytest.raises(drivers.DriverError):
        conn.lookup_by_name("test")


def test_events_on_both_sides(conn, dest):
    seen = {"src": [], "dst": []}
    conn.register_event_callback(lambda c, d, e: seen["src"].append(e.type))
    dest.register_event_callback(lambda c, d, e: seen["dst"].append(e.type))
    conn.lookup_by_name("test").migrate(dest, MigrateFlags.LIVE)
    conn.host.bus.flush()
    dest.host.bus.flush()
    lifecycle = {EventType.STARTED, EventType.SUSPENDED, EventType.RESUMED, EventType.STOPPED}
    assert [t for t in seen["src"] if t in lifecycle] == [EventType.SUSPENDED, EventType.STOPPED]
    assert [t for t in seen["dst"] if t in lifecycle] == [EventType.STARTED, EventType.RESUMED]


@pytest.mark.parametrize("src_q,dst_q,expected", [
    ("migration=v3", "migration=v3", "v3"), ("migration=v3", "migration=v2", "v2"),
    ("migration=v2", "migration=v2", "v2"), ("migration=v3", "migration=none", None),
    ("migration=none", "migration=v3", None)])
def test_negotiation_picks_the_newest_common_protocol(tmp_path, src_q, dst_q, expected):
    with open_dest(tmp_path, src_q) as a, open_dest(tmp_path, dst_q) as b:
        if expected:
            assert choose_protocol(a, b) == expected
        else:
            with pytest.raises(drivers.DriverError) as info:
                choose_protocol(a, b)
            assert info.value.code is ErrorCode.NO_SUPPORT


def test_v2_migration_works_end_to_end(node_file, tmp_path):
    with drivers.open(f"test://{node_file}?rate=4096&migration=v2") as src, \
            open_dest(tmp_path, "rate=4096&migration=v3") as dst:
        assert not src.supports_feature(Feature.MIGRATION_V3)
        new = src.lookup_by_name("test").migrate(dst, MigrateFlags.LIVE)
        assert new.is_active()


def test_no_common_protocol_fails_before_touching_anything(node_file, tmp_path):
    with drivers.open(f"test://{node_file}?migration=none") as src, open_dest(tmp_path, "rate=64") as dst:
        dom = src.lookup_by_name("test")
        with pytest.raises(drivers.DriverError) as info:
            dom.migrate(dst)
        assert info.value.code is ErrorCode.NO_SUPPORT
        assert dom.state()[0] is DomainState.RUNNING
        assert src.list_all_jobs() == [] and dst.list_all_domains() == []


def test_same_host_is_refused(conn):
    with pytest.raises(drivers.DriverError) as info:
        conn.lookup_by_name("test").migrate(conn)
    assert info.value.code is ErrorCode.INVALID_ARG


def test_inactive_domain_cannot_migrate_live(conn, dest):
    with pytest.raises(drivers.DriverError) as info:
        conn.lookup_by_name("win11").migrate(dest)
    assert info.value.code is ErrorCode.OPERATION_INVALID


def test_name_taken_on_destination_fails_and_source_keeps_running(conn, tmp_path):
    path = tmp_path / "clash.xml"
    path.write_text(node_xml([{"name": "test", "runstate": 5}]))  # same name, other uuid
    with drivers.open(f"test://{path}") as dst:
        dom = conn.lookup_by_name("test")
        with pytest.raises(drivers.DriverError) as info:
            dom.migrate(dst)
        assert info.value.code is ErrorCode.OPERATION_FAILED
        assert dom.state()[0] is DomainState.RUNNING
        assert not dst.lookup_by_name("test").is_active()


def test_cancelled_migration_leaves_source_running_and_destination_clean(slow_conn, dest):
    dom = slow_conn.lookup_by_name("test")
    job_id = dom.migrate(dest, MigrateFlags.LIVE | JobFlags.ASYNC)
    time.sleep(0.3)
    info = dom.get_job_info(job_id)
    assert info.state is JobState.RUNNING and info.detail("dirty_rate") > 0
    assert info.detail("expected_downtime_ms") > 0
    dom.abort_job(job_id)
    deadline = time.monotonic() + 5
    while not dom.get_job_info(job_id).finished:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert dom.get_job_info(job_id).state is JobState.CANCELLED
    assert dom.state()[0] is DomainState.RUNNING
    assert [d.name for d in dest.list_all_domains()] == ["resident"]
    assert dest.list_all_jobs()[-1].state is JobState.CANCELLED


def test_incoming_migration_cannot_be_aborted_on_the_destination(slow_conn, dest):
    dom = slow_conn.lookup_by_name("test")
    job_id = dom.migrate(dest, MigrateFlags.LIVE | JobFlags.ASYNC)
    try:
        time.sleep(0.1)
        incoming = dest.lookup_by_name("test")
        with pytest.raises(drivers.DriverError) as info:
            incoming.abort_job(0)
        assert info.value.code is ErrorCode.OPERATION_INVALID and "destroy" in info.value.message
    finally:
        dom.abort_job(job_id)


def test_unknown_and_unsupported_flags(conn, dest):
    dom = conn.lookup_by_name("test")
    with pytest.raises(drivers.DriverError) as info:
        dom.migrate(dest, 1 << 25)
    assert info.value.code is ErrorCode.INVALID_ARG
    with pytest.raises(drivers.DriverError) as info:
        dom.migrate(dest, MigrateFlags.PEER2PEER)
    assert info.value.code is ErrorCode.NO_SUPPORT
    with pytest.raises(drivers.DriverError) as info:
        dom.migrate("not a connection")
    assert info.value.code is ErrorCode.INVALID_ARG
