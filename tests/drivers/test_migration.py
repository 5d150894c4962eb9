"""Migration through the coordinator: negotiation, phases, flags, failure and cancel."""
from __future__ import annotations

import time

import pytest
from jobwait import connection_job_end
from nodegen import node_xml

import drivers
from drivers import DomainState, ErrorCode, EventType, Feature, JobFlags, JobOperation, JobState, MigrateFlags
from drivers.migration import choose_protocol


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


# -- offline migration: only the persistent definition moves (libvirt's VIR_MIGRATE_OFFLINE) --------------

OFFLINE = MigrateFlags.OFFLINE | MigrateFlags.PERSIST_DEST


def lifecycle_events(conn):
    """Every non-JOB event of ``conn`` as (type, domain name), recorded from now on."""
    seen = []
    conn.register_event_callback(lambda c, d, e: seen.append((e.type, d.name if d else None))
                                 if e.type is not EventType.JOB else None)
    return seen


def test_offline_migration_defines_a_shut_off_copy_and_copies_no_memory(conn, dest):
    assert conn.supports_feature(Feature.MIGRATION_OFFLINE) and dest.supports_feature(Feature.MIGRATION_OFFLINE)
    src_dom = conn.lookup_by_name("backup-store")
    new = src_dom.migrate(dest, OFFLINE)
    assert new.connection is dest and new.name == "backup-store" and new.uuid == src_dom.uuid
    assert new.state()[0] is DomainState.SHUTOFF and new.is_persistent() and new.id is None
    assert dest.lookup_by_uuid(src_dom.uuid).xml_desc().strip() == src_dom.xml_desc().strip()
    assert src_dom.state()[0] is DomainState.SHUTOFF and src_dom.is_persistent()  # still defined here
    [job] = conn.list_all_jobs()
    assert job.operation is JobOperation.MIGRATION_OUT and job.state is JobState.COMPLETED
    assert job.processed == 0 and job.detail("iteration") is None and job.detail("remaining_bytes") is None
    assert dest.list_all_jobs() == []  # nothing incoming: no guest was started there


def test_offline_migration_undefines_the_source_when_asked(conn, dest):
    src_dom = conn.lookup_by_name("backup-store")
    src_dom.migrate(dest, OFFLINE | MigrateFlags.UNDEFINE_SOURCE)
    with pytest.raises(drivers.DriverError) as info:
        conn.lookup_by_name("backup-store")
    assert info.value.code is ErrorCode.NO_DOMAIN
    assert dest.lookup_by_name("backup-store").is_persistent()


def test_offline_migration_events_define_and_undefine_only(conn, dest):
    src_seen, dst_seen = lifecycle_events(conn), lifecycle_events(dest)
    conn.lookup_by_name("backup-store").migrate(dest, OFFLINE | MigrateFlags.UNDEFINE_SOURCE)
    conn.host.bus.flush()
    dest.host.bus.flush()
    assert src_seen == [(EventType.UNDEFINED, "backup-store")]
    assert dst_seen == [(EventType.DEFINED, "backup-store")]


def test_offline_migration_requires_persist_dest_and_support_on_both_ends(conn, dest, tmp_path):
    dom = conn.lookup_by_name("backup-store")
    with pytest.raises(drivers.DriverError) as info:
        dom.migrate(dest, MigrateFlags.OFFLINE)
    assert info.value.code is ErrorCode.INVALID_ARG and "PERSIST_DEST" in info.value.message
    with open_dest(tmp_path, "migration=none") as none:
        assert not any(none.supports_feature(f) for f in (Feature.MIGRATION_OFFLINE, Feature.MIGRATION_V3,
                                                          Feature.MIGRATION_V2))
        with pytest.raises(drivers.DriverError) as info:
            dom.migrate(none, OFFLINE)
        assert info.value.code is ErrorCode.NO_SUPPORT and none.list_all_domains() == []
    with pytest.raises(drivers.DriverError) as info:  # a shut-off domain cannot move live
        dom.migrate(dest, MigrateFlags.LIVE | MigrateFlags.PERSIST_DEST)
    assert info.value.code is ErrorCode.OPERATION_INVALID
    assert conn.list_all_jobs() == [] and [d.name for d in dest.list_all_domains()] == ["resident"]


UUID_OTHER = "99999999-0000-4000-8000-000000000001"


@pytest.mark.parametrize("resident,code", [
    ({"name": "backup-store", "runstate": 5, "uuid": UUID_OTHER}, ErrorCode.OPERATION_FAILED),  # name taken
    ({"name": "archive", "runstate": 5, "uuid": "same"}, ErrorCode.OPERATION_FAILED),  # uuid under another name
    ({"name": "backup-store", "runstate": 1, "uuid": "same"}, ErrorCode.OPERATION_INVALID),  # running there
])
def test_offline_clash_on_the_destination_fails_before_anything_changes(conn, tmp_path, resident, code):
    src_dom = conn.lookup_by_name("backup-store")
    resident = {**resident, "uuid": src_dom.uuid if resident["uuid"] == "same" else resident["uuid"]}
    path = tmp_path / "clash.xml"
    path.write_text(node_xml([resident]))
    with drivers.open(f"test://{path}") as dst:
        before = [(d.name, d.uuid, d.state()) for d in dst.list_all_domains()]
        dst_seen = lifecycle_events(dst)
        with pytest.raises(drivers.DriverError) as info:
            src_dom.migrate(dst, OFFLINE | MigrateFlags.UNDEFINE_SOURCE)
        assert info.value.code is code
        dst.host.bus.flush()
        assert [(d.name, d.uuid, d.state()) for d in dst.list_all_domains()] == before and dst_seen == []
        assert src_dom.is_persistent() and src_dom.state()[0] is DomainState.SHUTOFF
        assert conn.list_all_jobs()[-1].state is JobState.FAILED


def test_offline_migration_replaces_an_inactive_definition_of_the_same_domain(conn, tmp_path):
    src_dom = conn.lookup_by_name("backup-store")
    path = tmp_path / "stale.xml"
    path.write_text(node_xml([{"name": "backup-store", "runstate": 5, "uuid": src_dom.uuid, "memory": 32}]))
    with drivers.open(f"test://{path}") as dst:
        dst_seen = lifecycle_events(dst)
        new = src_dom.migrate(dst, OFFLINE)
        dst.host.bus.flush()
        assert new.info().max_memory_kib == src_dom.info().max_memory_kib != 32 * 1024
        assert dst_seen == [(EventType.DEFINED, "backup-store")] and len(dst.list_all_domains()) == 1


def test_offline_migration_of_a_running_domain_copies_its_definition_and_leaves_it_running(conn, dest):
    """libvirt: OFFLINE moves the definition "without stopping it on the source host"."""
    src_seen = lifecycle_events(conn)
    src_dom = conn.lookup_by_name("web01")
    new = src_dom.migrate(dest, OFFLINE | MigrateFlags.UNDEFINE_SOURCE)
    conn.host.bus.flush()
    assert new.state()[0] is DomainState.SHUTOFF and new.is_persistent()
    assert src_dom.state()[0] is DomainState.RUNNING and src_dom.is_persistent()  # an active source stays
    assert src_seen == [] and dest.list_all_jobs() == []


@pytest.mark.parametrize("protocol", ["v3", "v2"])
def test_offline_migration_of_a_transient_domain_is_refused(node_file, tmp_path, protocol):
    with drivers.open(f"test://{node_file}?rate=4096&migration={protocol}") as src, \
            open_dest(tmp_path, "rate=4096") as dst:
        dom = src.lookup_by_name("ci-runner-7")
        with pytest.raises(drivers.DriverError) as info:
            dom.migrate(dst, OFFLINE)
        assert info.value.code is ErrorCode.OPERATION_INVALID and "no definition to move" in info.value.message
        assert dom.state()[0] is DomainState.RUNNING and dst.list_all_domains() == []


def test_offline_migration_over_v2_and_as_a_job(node_file, tmp_path):
    with drivers.open(f"test://{node_file}?rate=4096&migration=v2") as src, \
            open_dest(tmp_path, "rate=4096&migration=v2") as dst:
        dom = src.lookup_by_name("backup-store")
        job_id = dom.migrate(dst, OFFLINE | MigrateFlags.UNDEFINE_SOURCE | JobFlags.ASYNC)
        assert isinstance(job_id, int) and job_id > 0
        info = connection_job_end(src, job_id, timeout=5)
        assert info.operation is JobOperation.MIGRATION_OUT and info.state is JobState.COMPLETED
        assert not dst.lookup_by_name("backup-store").is_active()
        assert [d.name for d in src.list_all_domains()].count("backup-store") == 0


def test_live_copy_is_unsafe_only_on_tcg_before_qemu_9():
    from drivers.migration import live_copy_problem
    problem = live_copy_problem((7, 2, 22), "tcg")
    assert problem is not None and problem.startswith("QEMU 7.2.22 under TCG emulation loses guest memory writes")
    assert problem.endswith("so the guest is paused during the copy")
    assert live_copy_problem((8, 2, 9), "tcg") is not None
    assert live_copy_problem((9, 0, 0), "tcg") is None and live_copy_problem((10, 0, 13), "tcg") is None
    assert live_copy_problem((7, 2, 22), "kvm") is None  # the kernel tracks dirty pages under KVM


def test_the_test_driver_knows_no_reason_to_copy_paused(conn):
    assert conn.lookup_by_name("web01").live_migration_problem() is None


def test_the_dirty_rate_is_unknown_until_qemu_measured_a_period():
    from drivers.qemu.streams import DirtyRate

    def answer(ms: int, syncs: int, pages: int | None, status: str = "active") -> dict:
        ram = {"dirty-sync-count": syncs, "page-size": 4096}
        if pages is not None:
            ram["dirty-pages-rate"] = pages
        return {"status": status, "total-time": ms, "setup-time": 10, "ram": ram}
    rate = DirtyRate()
    assert rate.read(answer(100, 1, 0)) is None
    assert rate.read(answer(700, 2, 0)) is None  # a pass ended within QEMU's first second: nothing measured
    assert rate.read(answer(1200, 2, 0)) is None
    assert rate.read(answer(1300, 3, 250)) == 250 * 4096  # this pass ended more than a second in
    assert rate.read(answer(1400, 4, 0)) == 0.0  # measured: a real zero
    assert rate.read(answer(1500, 4, None, "completed")) is None  # QEMU drops the figure; the job keeps the last
