"""The bridge against libvirt's own test driver (in-process, no daemon)."""
from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
from jobwait import domain_job_end as _wait_job

import drivers
from drivers import DriverError, ErrorCode, EventType, Feature, JobFlags, ListFlags
from drivers.domaindelete import DEFAULT_UNDEFINE, delete_domain
from drivers.flags import LIST_GROUPS, SnapshotEventDetail
from drivers.listfilter import compile_filter
from drivers.registry import DRIVERS

pytestmark = pytest.mark.libvirt

import sys  # noqa: E402

_nodes = sys.modules["vmgui_libvirt_tests_nodes"]  # loaded by conftest.py
NODE_AUTOSTART, NODE_DOMAINS = _nodes.NODE_AUTOSTART, _nodes.NODE_DOMAINS


def names(doms) -> set[str]:
    return {d.name for d in doms}


def expected_bits(name: str) -> int:
    runstate, transient, managed, snapshots = NODE_DOMAINS[name]
    from drivers.records import filter_bits
    return filter_bits(runstate != 5, not transient, runstate, managed, name in NODE_AUTOSTART, snapshots > 0)


def expected(flags: int) -> set[str]:
    accepts = compile_filter(flags)
    return {n for n in NODE_DOMAINS if accepts(expected_bits(n))}


# -- URIs and registry -------------------------------------------------------------

def test_libvirt_prefix_goes_to_libvirt_test_driver():
    with drivers.open("libvirt:test:///default") as conn:
        assert type(conn).__module__.startswith("drivers.libvirt")
        assert conn.uri == "libvirt:test:///default"
        assert conn.libvirt_uri == "test:///default"
        assert conn.driver_type == "TEST"
        assert "test" in names(conn.list_all_domains())


@pytest.mark.parametrize("uri", ["qemu:///system", "qemu:///session", "qemu+ssh://user@host/system",
                                 "qemu+tls://host/system", "xen:///system", "libvirt:qemu:///embed"])
def test_registry_sends_other_libvirt_uris_here(uri):
    claimed = [d.name for d in DRIVERS if d.claims(uri)]
    assert claimed and claimed[0] == "libvirt"


def test_embedded_uris_stay_embedded():
    assert [d.name for d in DRIVERS if d.claims("qemu:///embed")][0] == "qemu"
    assert [d.name for d in DRIVERS if d.claims("test:///default")][0] == "test"


def test_empty_libvirt_uri_is_invalid():
    with pytest.raises(DriverError) as err:
        drivers.open("libvirt:")
    assert err.value.code is ErrorCode.INVALID_ARG


def test_bad_uri_keeps_libvirts_message(tmp_path):
    with pytest.raises(DriverError) as err:
        drivers.open(f"libvirt:test://{tmp_path}/missing.xml")
    assert "missing.xml" in err.value.message
    assert err.value.code is not ErrorCode.NO_SUPPORT


# -- listing and filters -------------------------------------------------------------

def test_list_all_domains_unfiltered(lvconn):
    assert names(lvconn.list_all_domains()) == set(NODE_DOMAINS)
    assert names(lvconn.list_all_domains(ListFlags(0))) == set(NODE_DOMAINS)
    assert names(lvconn.list_all_domains(0)) == set(NODE_DOMAINS)


@pytest.mark.parametrize("bit", list(ListFlags))
def test_every_single_filter_bit(lvconn, bit):
    assert names(lvconn.list_all_domains(bit)) == expected(bit), bit.name
    assert {r.name for r in lvconn.get_all_domain_stats(bit)} == expected(bit), bit.name


def test_filter_groups_and_within_or_across(lvconn):
    flags = ListFlags.RUNNING | ListFlags.PAUSED | ListFlags.PERSISTENT
    assert names(lvconn.list_all_domains(flags)) == {"run1", "run2", "pause1"}
    assert names(lvconn.list_all_domains(ListFlags.ACTIVE | ListFlags.INACTIVE)) == set(NODE_DOMAINS)
    assert names(lvconn.list_all_domains(ListFlags.OTHER)) == {"crash1"}
    # impossible combination: empty, not an error
    assert lvconn.list_all_domains(ListFlags.INACTIVE | ListFlags.TRANSIENT) == []
    assert lvconn.get_all_domain_stats(ListFlags.INACTIVE | ListFlags.TRANSIENT) == []


def test_random_filter_combinations_match_the_core_rules(lvconn):
    rng = random.Random(6)
    records = lvconn.get_all_domain_stats()
    for _ in range(400):
        flags = 0
        for group in LIST_GROUPS:
            if rng.random() < 0.5:
                flags |= int(group) & rng.randrange(1, 1 << 14)
        want = expected(flags)
        assert names(lvconn.list_all_domains(flags)) == want, hex(flags)
        assert {r.name for r in lvconn.get_all_domain_stats(flags)} == want, hex(flags)
        accepts = compile_filter(flags)
        assert {r.name for r in records if accepts(r.bits)} == want, hex(flags)


def test_unknown_filter_bits_are_invalid(lvconn):
    for bad in (1 << 14, 1 << 20, -1):
        with pytest.raises(DriverError) as err:
            lvconn.list_all_domains(bad)
        assert err.value.code is ErrorCode.INVALID_ARG
        with pytest.raises(DriverError):
            lvconn.get_all_domain_stats(bad)


def test_stats_records_carry_every_column(lvconn):
    recs = {r.name: r for r in lvconn.get_all_domain_stats()}
    assert set(recs) == set(NODE_DOMAINS)
    run1 = recs["run1"]
    assert run1.id is not None and run1.state is drivers.DomainState.RUNNING
    assert run1.persistent and run1.autostart and not run1.managed_save
    assert run1.max_memory_kib == 64 * 1024 and run1.memory_kib == 48 * 1024 and run1.vcpus == 2
    assert recs["off1"].id is None and recs["off1"].state is drivers.DomainState.SHUTOFF
    assert recs["saved1"].managed_save and recs["saved1"].autostart
    assert recs["run2"].snapshot_count == 2 and recs["off2"].snapshot_count == 1
    assert not recs["trans1"].persistent
    for name, rec in recs.items():
        assert rec.bits == expected_bits(name), name
        dom = lvconn.lookup_by_name(name)
        assert rec == dom.record()._replace(cpu_time_ns=rec.cpu_time_ns), name


def test_lookup(lvconn):
    dom = lvconn.lookup_by_name("run1")
    assert lvconn.lookup_by_uuid(dom.uuid) == dom
    assert lvconn.lookup_by_uuid(dom.uuid.upper()) == dom
    with pytest.raises(DriverError) as err:
        lvconn.lookup_by_name("nope")
    assert err.value.code is ErrorCode.NO_DOMAIN
    assert "nope" in err.value.message and "Domain not found" in err.value.message


# -- lifecycle --------------------------------------------------------------------

def test_lifecycle_and_events(lvconn):
    events = []
    handle = lvconn.register_event_callback(lambda c, d, e: events.append((d.name if d else None, e)))
    dom = lvconn.lookup_by_name("off1")
    assert not dom.is_active() and dom.id is None
    dom.create()
    assert dom.is_active() and dom.id is not None
    assert dom.state()[0] is drivers.DomainState.RUNNING
    dom.suspend()
    assert dom.state()[0] is drivers.DomainState.PAUSED
    dom.resume()
    dom.reboot()
    dom.reset()
    assert dom.state()[0] is drivers.DomainState.RUNNING
    dom.shutdown()
    assert dom.state()[0] is drivers.DomainState.SHUTOFF
    dom.create()
    dom.destroy()
    assert not dom.is_active()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len([e for n, e in events if n == "off1"]) < 6:
        lvconn.wait_events()
        time.sleep(0.02)
    got = [(e.type, e.detail) for n, e in events if n == "off1"]
    # libvirt's test driver: reboot with on_reboot=restart emits nothing
    assert got == [(EventType.STARTED, 0), (EventType.SUSPENDED, 0), (EventType.RESUMED, 0),
                   (EventType.STOPPED, 0), (EventType.STARTED, 0), (EventType.STOPPED, 1)], got
    assert all(e.domain_uuid == dom.uuid and e.timestamp > 0 for n, e in events if n == "off1")
    lvconn.deregister_event_callback(handle)
    with pytest.raises(DriverError):
        lvconn.deregister_event_callback(handle)


def test_wrong_state_errors_keep_libvirts_message(lvconn):
    dom = lvconn.lookup_by_name("off1")
    with pytest.raises(DriverError) as err:
        dom.destroy()
    assert err.value.code is ErrorCode.OPERATION_INVALID
    assert "not running" in err.value.message
    with pytest.raises(DriverError) as err:
        lvconn.lookup_by_name("run1").create()
    assert "already running" in err.value.message


def test_define_undefine_and_xml(lvconn):
    xml = lvconn.lookup_by_name("off1").xml_desc()
    new_xml = xml.replace("<name>off1</name>", "<name>fresh</name>")
    import re
    new_xml = re.sub(r"<uuid>[^<]+</uuid>", "", new_xml)
    dom = lvconn.define_xml(new_xml)
    assert dom.name == "fresh" and dom.is_persistent() and not dom.is_active()
    assert "<name>fresh</name>" in dom.xml_desc()
    dom.autostart = True
    assert dom.autostart
    dom.undefine()
    with pytest.raises(DriverError) as err:
        lvconn.lookup_by_name("fresh")
    assert err.value.code is ErrorCode.NO_DOMAIN


def test_create_xml_is_transient_and_running(lvconn):
    xml = ("<domain type='test'><name>tr</name><memory>65536</memory><os><type>hvm</type></os></domain>")
    dom = lvconn.create_xml(xml)
    assert dom.is_active() and not dom.is_persistent()
    dom.destroy()
    assert "tr" not in names(lvconn.list_all_domains())


def test_hostile_and_broken_xml_is_refused(lvconn):
    evil = ("<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
            "<domain type='test'><name>&x;</name><memory>1</memory><os><type>hvm</type></os></domain>")
    for xml in (evil, "<domain>", "<notadomain/>"):
        with pytest.raises(DriverError) as err:
            lvconn.define_xml(xml)
        assert err.value.code is ErrorCode.INVALID_XML
    with pytest.raises(DriverError) as err:  # well-formed but libvirt says no: libvirt's words
        lvconn.define_xml("<domain type='test'><name>x</name></domain>")
    assert err.value.code is ErrorCode.INVALID_XML


# -- snapshots, managed save, save/restore ---------------------------------------------

def test_snapshots(lvconn):
    events = []
    lvconn.register_event_callback(lambda c, d, e: events.append(e))
    dom = lvconn.lookup_by_name("run1")
    snap = dom.snapshot_create("first")
    assert snap.name == "first" and snap.is_current()
    second = dom.snapshot_create("<domainsnapshot><name>second</name><description>d</description>"
                                 "</domainsnapshot>")
    assert second.parent_name() == "first" and snap.parent_name() is None
    assert {s.name for s in dom.list_all_snapshots()} == {"first", "second"}
    assert dom.snapshot_count() == 2
    assert "<name>second</name>" in second.xml_desc()
    assert dom.snapshot_lookup("first") == snap
    snap.revert()
    assert snap.is_current()
    second.delete()
    assert dom.snapshot_count() == 1
    with pytest.raises(DriverError) as err:
        dom.snapshot_lookup("second")
    assert err.value.code is ErrorCode.NO_SNAPSHOT
    lvconn.wait_events()
    snap_events = [(e.detail, e.message) for e in events if e.type is EventType.SNAPSHOT]
    assert snap_events == [(SnapshotEventDetail.CREATED, "first"), (SnapshotEventDetail.CREATED, "second"),
                           (SnapshotEventDetail.REVERTED, "first"), (SnapshotEventDetail.DELETED, "second")]
    jobs = [j for j in lvconn.list_all_jobs() if j.domain == "run1"]
    assert [j.operation for j in jobs] == [drivers.JobOperation.SNAPSHOT] * 2
    assert all(j.state is drivers.JobState.COMPLETED for j in jobs)


def test_managed_save(lvconn):
    dom = lvconn.lookup_by_name("run1")
    assert dom.managed_save() is None
    assert dom.has_managed_save() and not dom.is_active()
    assert dom.state() == (drivers.DomainState.SHUTOFF, 5)
    assert "run1" in names(lvconn.list_all_domains(ListFlags.MANAGEDSAVE))
    dom.managed_save_remove()
    assert not dom.has_managed_save()
    dom.create()
    job_id = dom.managed_save(JobFlags.ASYNC)
    assert isinstance(job_id, int) and job_id > 0
    info = _wait_job(dom, job_id)
    assert info.state is drivers.JobState.COMPLETED and info.operation is drivers.JobOperation.SAVE
    assert dom.has_managed_save()


def test_save_and_restore(lvconn, tmp_path):
    dom = lvconn.lookup_by_name("run1")
    path = str(tmp_path / "run1.save")
    job_id = dom.save(path, JobFlags.ASYNC)
    assert _wait_job(dom, job_id).state is drivers.JobState.COMPLETED
    assert not dom.is_active() and Path(path).exists()
    lvconn.restore(path)
    assert dom.is_active()
    restores = [j for j in lvconn.list_all_jobs() if j.operation is drivers.JobOperation.RESTORE]
    assert len(restores) == 1 and restores[0].state is drivers.JobState.COMPLETED
    with pytest.raises(DriverError) as err:
        dom.save("relative.save")
    assert err.value.code is ErrorCode.INVALID_ARG


# -- what the test driver cannot do ------------------------------------------------------

def test_features_come_from_libvirt(lvconn):
    for feature in (Feature.MIGRATION_V2, Feature.MIGRATION_V3, Feature.MIGRATION_PARAMS,
                    Feature.JOBS, Feature.BACKUP):
        assert not lvconn.supports_feature(feature), feature
    for feature in (Feature.TYPED_PARAM_STRING, Feature.SNAPSHOTS, Feature.MANAGED_SAVE, Feature.DEFINE):
        assert lvconn.supports_feature(feature), feature
    assert not lvconn.supports_feature(9999)


def test_no_job_apis_on_the_test_driver(lvconn):
    dom = lvconn.lookup_by_name("run1")
    with pytest.raises(DriverError) as err:
        dom.get_job_info()
    assert err.value.code is ErrorCode.NO_JOB
    with pytest.raises(DriverError) as err:
        dom.abort_job()
    assert err.value.code is ErrorCode.OPERATION_INVALID
    with pytest.raises(DriverError) as err:
        dom.backup_begin("<domainbackup mode='push'><disks><disk name='vda' type='file'>"
                         "<target file='/tmp/x.qcow2'/></disk></disks></domainbackup>")
    assert err.value.code is ErrorCode.NO_SUPPORT
    assert "not supported" in err.value.message


def test_migration_without_support_touches_nothing(lvconn, node_path, tmp_path):
    other_path = tmp_path / "other.xml"
    other_path.write_text("<node/>")
    with drivers.open(f"libvirt:test://{other_path}") as other:
        dom = lvconn.lookup_by_name("run1")
        with pytest.raises(DriverError) as err:
            dom.migrate(other)
        assert err.value.code is ErrorCode.NO_SUPPORT
        assert dom.is_active() and lvconn.list_all_jobs() == [] and other.list_all_jobs() == []


def test_migration_between_libvirt_and_embedded_is_refused_first(lvconn, tmp_path):
    plain = tmp_path / "plain.xml"  # vmgui's test driver reads snapshots in node files differently
    plain.write_text(_nodes.node_xml({"run1": (1, False, False, 0)}))
    with drivers.open(f"test://{plain}") as embedded:
        dom = lvconn.lookup_by_name("run1")
        with pytest.raises(DriverError) as err:
            dom.migrate(embedded)
        assert err.value.code is ErrorCode.NO_SUPPORT
        emb_dom = embedded.lookup_by_name("run1")
        with pytest.raises(DriverError) as err:
            emb_dom.migrate(lvconn)
        assert err.value.code is ErrorCode.NO_SUPPORT
        assert dom.is_active() and emb_dom.is_active()
        assert lvconn.list_all_jobs() == [] and embedded.list_all_jobs() == []


def test_closed_connection(node_path):
    conn = drivers.open(f"libvirt:test://{node_path}")
    conn.close()
    conn.close()
    with pytest.raises(DriverError) as err:
        conn.list_all_domains()
    assert err.value.code is ErrorCode.OPERATION_INVALID
    assert not conn.supports_feature(Feature.SNAPSHOTS)


def test_thread_safety_of_listing_while_domains_change(lvconn):
    stop = threading.Event()
    errors = []

    def churn():
        dom = lvconn.lookup_by_name("off1")
        while not stop.is_set():
            try:
                dom.create()
                dom.destroy()
            except DriverError as exc:
                errors.append(exc)

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for _ in range(200):
            recs = lvconn.get_all_domain_stats()
            assert len({r.uuid for r in recs}) == len(recs) == len(NODE_DOMAINS)
    finally:
        stop.set()
        worker.join()
    assert errors == []


def test_the_delete_flags_undefine_a_domain_without_a_variable_store(lvconn):
    """libvirt's test driver refuses VIR_DOMAIN_UNDEFINE_NVRAM: it goes only with a domain that has <nvram>."""
    dom = lvconn.lookup_by_name("off1")
    delete_domain(dom, DEFAULT_UNDEFINE)
    with pytest.raises(DriverError) as err:
        lvconn.lookup_by_name("off1")
    assert err.value.code is ErrorCode.NO_DOMAIN
