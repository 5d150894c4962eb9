"""The bridge against a real libvirtd (private, unprivileged) running TCG guests."""
from __future__ import annotations

import os
import shutil
import threading
import time

import pytest
from jobwait import domain_job_end as wait_job
from qemuversion import binary_version, live_copy_sentence

import drivers
from drivers import DriverError, ErrorCode, EventType, Feature, JobFlags, JobOperation, JobState, ListFlags
from drivers.domxml import DomainXML
from drivers.flags import DeviceModifyFlags, DomainXMLFlags, JobEventDetail, MigrateFlags

pytestmark = [pytest.mark.libvirt, pytest.mark.slow]


def backup_xml(target: str) -> str:
    return (f"<domainbackup mode='push'><disks><disk name='vda' type='file'><target file='{target}'/>"
            f"<driver type='qcow2'/></disk></disks></domainbackup>")


class Recorder:
    def __init__(self, conn):
        self.events = []
        self.lock = threading.Lock()
        self.conn = conn
        conn.register_event_callback(self)

    def __call__(self, conn, dom, event):
        with self.lock:
            self.events.append(event)

    def of(self, type_, name=None):
        with self.lock:
            return [e for e in self.events if e.type is type_ and (name is None or e.domain_name == name)]

    def wait_for(self, pred, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if any(pred(e) for e in self.events):
                    return True
            time.sleep(0.02)
        return False


@pytest.fixture(scope="module")
def big_disk(libvirtd):
    """A 1 GiB qcow2 full of data: a push backup of it takes about a second to watch and cancel."""
    path = libvirtd.disk("big", 1024, data_mib=1024)
    yield path
    path.unlink(missing_ok=True)


def test_features_reported_by_libvirt(qconn):
    assert qconn.driver_type == "QEMU"
    for feature in (Feature.MIGRATION_V3, Feature.MIGRATION_V2, Feature.MIGRATION_PARAMS,
                    Feature.MIGRATION_OFFLINE, Feature.PROGRAM_KEEPALIVE):
        assert qconn.supports_feature(feature), feature
    assert not qconn.supports_feature(Feature.MIGRATION_V1)
    for feature in (Feature.JOBS, Feature.BACKUP, Feature.MANAGED_SAVE, Feature.SNAPSHOTS):
        assert qconn.supports_feature(feature)


def test_tcg_lifecycle_stats_and_events(qconn, libvirtd, unique):
    rec = Recorder(qconn)
    dom = qconn.define_xml(libvirtd.domain_xml(f"life-{unique}"))
    assert not dom.is_active()
    t0 = time.monotonic()
    dom.create()
    started_in = time.monotonic() - t0
    assert dom.is_active() and dom.id is not None
    stats = {r.name: r for r in qconn.get_all_domain_stats()}
    me = stats[dom.name]
    assert me.state is drivers.DomainState.RUNNING and me.max_memory_kib == 32 * 1024 and me.vcpus == 1
    assert me.persistent and not me.autostart and not me.managed_save
    single = dom.record()
    assert single._replace(cpu_time_ns=0, memory_kib=0, memory_used_kib=0) == \
        me._replace(cpu_time_ns=0, memory_kib=0, memory_used_kib=0)
    assert dom.name in {d.name for d in qconn.list_all_domains(ListFlags.RUNNING | ListFlags.PERSISTENT)}
    assert dom.name not in {d.name for d in qconn.list_all_domains(ListFlags.SHUTOFF)}
    dom.suspend()
    assert dom.state()[0] is drivers.DomainState.PAUSED
    assert dom.name in {r.name for r in qconn.get_all_domain_stats(ListFlags.PAUSED)}
    dom.resume()
    dom.destroy()
    assert not dom.is_active() and dom.id is None
    assert rec.wait_for(lambda e: e.type is EventType.STOPPED and e.domain_name == dom.name)
    kinds = [e.type for e in rec.events if e.domain_name == dom.name]
    wanted = [EventType.DEFINED, EventType.STARTED, EventType.SUSPENDED, EventType.RESUMED, EventType.STOPPED]
    it = iter(kinds)
    assert all(k in it for k in wanted), kinds  # in this order (QEMU adds RESUMED at boot, SHUTDOWN)
    dom.undefine()
    assert started_in < 20


def test_backup_with_progress_and_completed_stats(qconn, libvirtd, big_disk, unique):
    rec = Recorder(qconn)
    dom = qconn.create_xml(libvirtd.domain_xml(f"bk-{unique}", big_disk))
    target = str(libvirtd.images / f"bk-{unique}.qcow2")
    job_id = dom.backup_begin(backup_xml(target))
    assert job_id > 0
    assert "backup='yes'" in dom.backup_get_xml_desc(job_id) or target in dom.backup_get_xml_desc(job_id)
    # the busy rule: state changes wait for the job, queries do not
    running = dom.get_job_info(0)
    if not running.finished:
        assert running.id == job_id and running.operation is JobOperation.BACKUP
        with pytest.raises(DriverError) as err:
            dom.suspend()
        assert err.value.code is ErrorCode.OPERATION_INVALID and str(job_id) in err.value.message
    info = wait_job(dom, job_id)
    assert info.state is JobState.COMPLETED, info
    assert info.total == info.processed and info.total >= 1024 ** 3 and info.percent == 100.0
    assert os.path.exists(target)
    assert dom.is_active()
    assert target in dom.backup_get_xml_desc(job_id)
    assert rec.wait_for(lambda e: e.type is EventType.JOB and e.detail == JobEventDetail.FINISHED)
    job_events = [e for e in rec.of(EventType.JOB) if e.job.id == job_id]
    details = [e.detail for e in job_events]
    assert details[0] == JobEventDetail.STARTED and details[-1] == JobEventDetail.FINISHED
    progress = [e.job for e in job_events if e.detail == JobEventDetail.PROGRESS]
    if info.elapsed > 0.8:  # polled at 3 Hz: a backup that ran this long was seen moving
        assert progress, "no progress events while a 1 GiB backup ran"
        assert any(p.total == info.total for p in progress)
        assert all(0 <= p.processed <= p.total for p in progress)
    assert [j for j in qconn.list_all_jobs() if j.id == job_id][0].state is JobState.COMPLETED
    # an existing target is refused; nothing changes
    with pytest.raises(DriverError) as err:
        dom.backup_begin(backup_xml(target))
    assert "exists" in err.value.message
    os.unlink(target)
    dom.destroy()


def test_backup_abort_leaves_no_target(qconn, libvirtd, big_disk, unique):
    dom = qconn.create_xml(libvirtd.domain_xml(f"ab-{unique}", big_disk))
    target = str(libvirtd.images / f"ab-{unique}.qcow2")
    job_id = dom.backup_begin(backup_xml(target))
    t0 = time.monotonic()
    try:
        dom.abort_job(job_id)
    except DriverError:
        if dom.get_job_info(job_id).state is JobState.COMPLETED:
            pytest.skip("this machine backs up 1 GiB before a cancel can reach it")
        raise
    info = wait_job(dom, job_id, 10)
    assert time.monotonic() - t0 < 5
    assert info.state is JobState.CANCELLED, info
    assert info.error
    assert not os.path.exists(target)
    assert dom.is_active()
    with pytest.raises(DriverError) as err:
        dom.abort_job(job_id)
    assert err.value.code is ErrorCode.OPERATION_INVALID
    with pytest.raises(DriverError) as err:
        dom.abort_job()
    assert err.value.code is ErrorCode.OPERATION_INVALID
    dom.destroy()


def test_job_started_by_another_client_gets_an_id(qconn, libvirtd, big_disk, unique):
    import libvirt
    dom = qconn.create_xml(libvirtd.domain_xml(f"fj-{unique}", big_disk))
    target = str(libvirtd.images / f"fj-{unique}.qcow2")
    other = libvirt.open(libvirtd.uri)  # think: virsh on the same host
    try:
        other.lookupByUUIDString(dom.uuid).backupBegin(backup_xml(target), None, 0)
        info = dom.get_job_info(0)
        if not info.finished:
            assert info.id > 0 and info.operation is JobOperation.BACKUP
            assert dom.get_job_info(info.id).id == info.id
        final = wait_job(dom, info.id)
        assert final.state is JobState.COMPLETED and final.total
    finally:
        other.close()
    os.unlink(target)
    dom.destroy()


def test_managed_save_and_restore_on_start(qconn, libvirtd, unique):
    dom = qconn.define_xml(libvirtd.domain_xml(f"ms-{unique}"))
    dom.create()
    job_id = dom.managed_save(JobFlags.ASYNC)
    info = wait_job(dom, job_id)
    assert info.state is JobState.COMPLETED and info.operation is JobOperation.SAVE
    assert info.total and info.processed == info.total
    assert dom.has_managed_save() and dom.state() == (drivers.DomainState.SHUTOFF, 5)
    assert dom.name in {d.name for d in qconn.list_all_domains(ListFlags.MANAGEDSAVE)}
    assert {r.name: r for r in qconn.get_all_domain_stats()}[dom.name].managed_save
    dom.create()  # libvirt's qemu driver restores the image
    assert dom.state() == (drivers.DomainState.RUNNING, 3)  # running (restored)
    assert not dom.has_managed_save()
    dom.destroy()
    dom.undefine()


def test_save_restore_file(qconn, libvirtd, unique):
    dom = qconn.create_xml(libvirtd.domain_xml(f"sv-{unique}"))
    path = str(libvirtd.images / f"sv-{unique}.save")
    dom.save(path)
    assert os.path.exists(path)
    with pytest.raises(DriverError) as err:
        qconn.lookup_by_uuid(dom.uuid)  # transient: gone while saved
    assert err.value.code is ErrorCode.NO_DOMAIN
    job_id = qconn.restore(path, JobFlags.ASYNC)
    restored = qconn.lookup_by_name(dom.name) if _wait_restore(qconn, job_id) else None
    assert restored is not None and restored.is_active()
    job = [j for j in qconn.list_all_jobs() if j.id == job_id][0]
    assert job.operation is JobOperation.RESTORE and job.state is JobState.COMPLETED and job.domain == dom.name
    restored.destroy()
    os.unlink(path)


def _wait_restore(conn, job_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = [j for j in conn.list_all_jobs() if j.id == job_id][0]
        if job.finished:
            return job.state is JobState.COMPLETED
        time.sleep(0.05)
    return False


def test_snapshot_of_a_running_guest_is_a_job(qconn, libvirtd, unique):
    disk = libvirtd.disk(f"sn-{unique}", 64)
    dom = qconn.define_xml(libvirtd.domain_xml(f"sn-{unique}", disk))
    dom.create()
    snap = dom.snapshot_create("first")
    assert snap.is_current() and dom.snapshot_count() == 1
    assert {r.name: r for r in qconn.get_all_domain_stats()}[dom.name].snapshot_count == 1
    assert dom.name in {d.name for d in qconn.list_all_domains(ListFlags.HAS_SNAPSHOT)}
    jobs = [j for j in qconn.list_all_jobs() if j.domain == dom.name]
    assert jobs[-1].operation is JobOperation.SNAPSHOT and jobs[-1].state is JobState.COMPLETED
    snap.revert()
    assert dom.is_active()
    snap.delete()
    dom.destroy()
    dom.undefine()
    disk.unlink()


def test_errors_map_with_libvirts_message(qconn, libvirtd, unique):
    dom = qconn.define_xml(libvirtd.domain_xml(f"er-{unique}"))
    with pytest.raises(DriverError) as err:
        dom.suspend()
    assert err.value.code is ErrorCode.OPERATION_INVALID and "not running" in err.value.message
    with pytest.raises(DriverError) as err:
        dom.backup_begin(backup_xml("/nonexistent/x.qcow2"))
    assert err.value.code in (ErrorCode.NO_SUPPORT, ErrorCode.OPERATION_INVALID)
    with pytest.raises(DriverError) as err:
        dom.get_job_info(12345)
    assert err.value.code is ErrorCode.NO_JOB
    with pytest.raises(DriverError) as err:
        qconn.define_xml("<domain type='qemu'><name>x</name><memory>1024</memory>"
                         "<os><type arch='nosucharch'>hvm</type></os></domain>")
    assert err.value.code in (ErrorCode.NO_SUPPORT, ErrorCode.INVALID_XML, ErrorCode.INVALID_ARG)
    dom.undefine()


# -- migration between two daemons ------------------------------------------------------

MIGRATE_PARAMS = {"migrate_uri": "tcp://127.0.0.1"}


def test_the_bridge_names_the_qemu_that_loses_live_writes(qconn, libvirtd, unique):
    dom = qconn.create_xml(libvirtd.domain_xml(f"ask-{unique}"))  # type='qemu': TCG
    assert dom.live_migration_problem() == live_copy_sentence(binary_version(shutil.which("qemu-system-x86_64")))
    dom.destroy()


def test_migration_between_two_libvirtds(qconn, qconn2, libvirtd, unique):
    rec_src, rec_dst = Recorder(qconn), Recorder(qconn2)
    dom = qconn.define_xml(libvirtd.domain_xml(f"mig-{unique}"))
    dom.create()
    problem = dom.live_migration_problem()
    new = dom.migrate(qconn2, MigrateFlags.LIVE, MIGRATE_PARAMS)
    assert isinstance(new, drivers.Domain) and new.connection is qconn2
    assert new.uuid == dom.uuid and new.is_active() and not new.is_persistent()
    assert dom.state() == (drivers.DomainState.SHUTOFF, 4)  # shut off (migrated), still defined
    assert dom.is_persistent()
    out = [j for j in qconn.list_all_jobs() if j.domain == dom.name][-1]
    assert out.operation is JobOperation.MIGRATION_OUT and out.state is JobState.COMPLETED and out.total
    assert out.detail("paused_copy") == (1.0 if problem else None), "a live copy only where it loses nothing"
    incoming = [j for j in qconn2.list_all_jobs() if j.domain == dom.name][-1]
    assert incoming.operation is JobOperation.MIGRATION_IN and incoming.state is JobState.COMPLETED
    assert rec_src.wait_for(lambda e: e.type is EventType.STOPPED and e.domain_name == dom.name)
    assert rec_dst.wait_for(lambda e: e.type is EventType.RESUMED and e.domain_name == dom.name)
    # and back, asynchronously, persistent on the destination, undefined here
    job_id = new.migrate(qconn, MigrateFlags.LIVE | MigrateFlags.PERSIST_DEST | MigrateFlags.UNDEFINE_SOURCE
                         | JobFlags.ASYNC, MIGRATE_PARAMS)
    assert isinstance(job_id, int) and job_id > 0
    info = wait_job(new, job_id)
    assert info.state is JobState.COMPLETED, info
    back = qconn.lookup_by_uuid(dom.uuid)
    assert back.is_active() and back.is_persistent()
    with pytest.raises(DriverError) as err:
        qconn2.lookup_by_uuid(dom.uuid)
    assert err.value.code is ErrorCode.NO_DOMAIN
    back.destroy()
    back.undefine()


def test_migration_abort(qconn, qconn2, libvirtd, unique):
    dom = qconn.create_xml(libvirtd.domain_xml(f"mab-{unique}", memory_mib=128))
    params = dict(MIGRATE_PARAMS, bandwidth=1)  # 1 MiB/s: slow enough to cancel
    rec = Recorder(qconn)
    job_id = dom.migrate(qconn2, MigrateFlags.LIVE | JobFlags.ASYNC, params)
    running = dom.get_job_info(job_id)
    assert running.operation is JobOperation.MIGRATION_OUT
    try:
        dom.abort_job(job_id)
    except DriverError:
        if dom.get_job_info(job_id).state is JobState.COMPLETED:
            pytest.skip("the guest (all zero pages) migrated before a cancel could reach it")
        raise
    info = wait_job(dom, job_id, 20)
    if info.state is JobState.COMPLETED:
        pytest.skip("the guest (all zero pages) migrated before the cancel took effect")
    assert info.state is JobState.CANCELLED, info
    assert info.error
    assert dom.is_active() and dom.state()[0] is drivers.DomainState.RUNNING
    with pytest.raises(DriverError) as err:
        qconn2.lookup_by_uuid(dom.uuid)
    assert err.value.code is ErrorCode.NO_DOMAIN
    incoming = [j for j in qconn2.list_all_jobs() if j.domain == dom.name][-1]
    assert incoming.operation is JobOperation.MIGRATION_IN and incoming.finished
    assert incoming.state is not JobState.COMPLETED
    assert rec.wait_for(lambda e: e.type is EventType.JOB and e.job.id == job_id and e.job.finished)
    dom.destroy()


def test_migration_progress_is_polled(qconn, qconn2, libvirtd, unique):
    dom = qconn.create_xml(libvirtd.domain_xml(f"mpr-{unique}", memory_mib=64))
    rec = Recorder(qconn)
    job_id = dom.migrate(qconn2, MigrateFlags.LIVE | JobFlags.ASYNC, dict(MIGRATE_PARAMS, bandwidth=2))
    info = wait_job(dom, job_id, 120)
    assert info.state is JobState.COMPLETED and info.total and info.processed == info.total
    progress = [e.job for e in rec.of(EventType.JOB) if e.job.id == job_id and e.detail == JobEventDetail.PROGRESS]
    if info.elapsed > 1.0:
        assert progress and all(p.operation is JobOperation.MIGRATION_OUT for p in progress)
        assert any(p.detail("memory_bps") is not None or p.processed for p in progress)
    qconn2.lookup_by_uuid(dom.uuid).destroy()


def test_migration_to_the_same_daemon_is_refused(qconn, libvirtd, unique):
    dom = qconn.create_xml(libvirtd.domain_xml(f"same-{unique}"))
    with drivers.open(f"libvirt:{libvirtd.uri}") as again:
        with pytest.raises(DriverError) as err:
            dom.migrate(again, MigrateFlags.LIVE, MIGRATE_PARAMS)
        assert err.value.code is ErrorCode.INVALID_ARG
    assert dom.is_active()
    dom.destroy()


def test_migration_to_embedded_or_test_driver_is_refused_before_anything(qconn, libvirtd, unique, tmp_path):
    dom = qconn.create_xml(libvirtd.domain_xml(f"emb-{unique}"))
    jobs_before = qconn.list_all_jobs()
    with drivers.open("test:///default") as embedded:
        with pytest.raises(DriverError) as err:
            dom.migrate(embedded)
        assert err.value.code is ErrorCode.NO_SUPPORT
    node = tmp_path / "empty.xml"
    node.write_text("<node/>")
    with drivers.open(f"libvirt:test://{node}") as lvtest:
        with pytest.raises(DriverError) as err:
            dom.migrate(lvtest)
        assert err.value.code is ErrorCode.NO_SUPPORT
        assert lvtest.list_all_domains() == []
    assert qconn.list_all_jobs() == jobs_before and dom.is_active()
    dom.destroy()


def test_table_costs_a_constant_number_of_round_trips(qconn, libvirtd, unique, monkeypatch):
    import libvirt
    for i in range(12):
        qconn.define_xml(libvirtd.domain_xml(f"rt{i}-{unique}"))
    calls = []
    for cls, names in ((libvirt.virConnect, ("getAllDomainStats", "listAllDomains", "lookupByUUIDString")),
                       (libvirt.virDomain, ("info", "state", "isPersistent", "autostart", "hasManagedSaveImage",
                                            "snapshotNum", "XMLDesc", "isActive"))):
        for name in names:
            original = getattr(cls, name)

            def counting(self, *args, _original=original, _name=name):
                calls.append(_name)
                return _original(self, *args)
            monkeypatch.setattr(cls, name, counting)
    records = qconn.get_all_domain_stats()
    assert len(records) >= 12
    assert sorted(calls) == ["getAllDomainStats"] + ["listAllDomains"] * 4, calls


def test_reboot_and_job_events(qconn, libvirtd, big_disk, unique):
    import libvirt
    rec = Recorder(qconn)
    dom = qconn.create_xml(libvirtd.domain_xml(f"ev-{unique}", big_disk))
    dom.vdom().reset(0)  # QEMU's RESET: libvirt's REBOOT event
    assert rec.wait_for(lambda e: e.type is EventType.REBOOT and e.domain_name == dom.name)
    # a backup another client starts and finishes without vmgui asking: recorded once, finished
    target = str(libvirtd.images / f"ev-{unique}.qcow2")
    other = libvirt.open(libvirtd.uri)
    try:
        t0 = time.monotonic()
        other.lookupByUUIDString(dom.uuid).backupBegin(backup_xml(target), None, 0)
        assert rec.wait_for(lambda e: e.type is EventType.JOB and e.job.finished and e.domain_name == dom.name,
                            timeout=60)
        took = time.monotonic() - t0
    finally:
        other.close()
    time.sleep(0.5)
    jobs = [j for j in qconn.list_all_jobs() if j.domain == dom.name]
    assert len(jobs) == 1, jobs
    assert jobs[0].operation is JobOperation.BACKUP and jobs[0].state is JobState.COMPLETED
    assert jobs[0].total and jobs[0].processed == jobs[0].total
    # vmgui's own backup: progress events at most ~4 Hz
    os.unlink(target)
    job_id = dom.backup_begin(backup_xml(target))
    info = wait_job(dom, job_id)
    assert rec.wait_for(lambda e: e.type is EventType.JOB and e.job.id == job_id and e.job.finished)
    progress = [e for e in rec.of(EventType.JOB) if e.job.id == job_id and e.detail == JobEventDetail.PROGRESS]
    assert len(progress) <= 4 * info.elapsed + 2, (len(progress), info.elapsed)
    stamps = [e.timestamp for e in progress]
    assert all(b - a >= 0.2 for a, b in zip(stamps, stamps[1:], strict=False)), stamps
    assert took < 60
    os.unlink(target)
    dom.destroy()


def test_peer_to_peer_migration(qconn, qconn2, libvirtd, libvirtd2, unique):
    dom = qconn.create_xml(libvirtd.domain_xml(f"p2p-{unique}"))
    # the source daemon itself connects to the destination, and libvirt wants a host in that
    # URI (a host-less one reads as "the same host"): the second daemon also listens on TCP
    dest_uri = libvirtd2.tcp_uri
    with pytest.raises(DriverError) as err:
        dom.migrate(qconn2, MigrateFlags.LIVE | MigrateFlags.PEER2PEER, MIGRATE_PARAMS)
    assert err.value.code is ErrorCode.INVALID_ARG and "same host" in err.value.message
    assert dom.is_active()
    new = dom.migrate(qconn2, MigrateFlags.LIVE | MigrateFlags.PEER2PEER, dict(MIGRATE_PARAMS, dest_uri=dest_uri))
    assert new.connection is qconn2 and new.is_active() and new.uuid == dom.uuid
    with pytest.raises(DriverError) as err:
        qconn.lookup_by_uuid(dom.uuid)
    assert err.value.code is ErrorCode.NO_DOMAIN
    out = [j for j in qconn.list_all_jobs() if j.domain == dom.name][-1]
    assert out.operation is JobOperation.MIGRATION_OUT and out.state is JobState.COMPLETED
    new.destroy()


def test_many_threads_one_connection(qconn, libvirtd, unique):
    doms = [qconn.define_xml(libvirtd.domain_xml(f"mt{i}-{unique}")) for i in range(4)]
    errors = []

    def lifecycle(dom):
        try:
            for _ in range(2):
                dom.create()
                dom.suspend()
                dom.resume()
                dom.destroy()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    def reader():
        try:
            for _ in range(30):
                recs = qconn.get_all_domain_stats()
                assert len({r.uuid for r in recs}) == len(recs)
                qconn.list_all_domains(ListFlags.ACTIVE)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=lifecycle, args=(d,)) for d in doms]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert all(not d.is_active() for d in doms)


def test_embedded_to_libvirt_migration_is_refused_before_anything(qconn, tmp_path):
    nodes = __import__("sys").modules["vmgui_libvirt_tests_nodes"]
    node = tmp_path / "emb.xml"
    node.write_text(nodes.node_xml({"emb1": (1, False, False, 0)}))
    with drivers.open(f"test://{node}") as embedded:
        assert qconn.supports_feature(Feature.MIGRATION_V3)  # libvirt's answer, for everyone else
        dom = embedded.lookup_by_name("emb1")
        with pytest.raises(DriverError) as err:
            dom.migrate(qconn)
        assert err.value.code is ErrorCode.NO_SUPPORT
        assert embedded.list_all_jobs() == [] and dom.is_active()
        assert qconn.list_all_jobs() == [] and "emb1" not in {d.name for d in qconn.list_all_domains()}


def test_a_cd_is_changed_through_libvirts_update_device(qconn, libvirtd, unique):
    """CURRENT on a shut-off domain is its definition, on a running one the live domain; an eject keeps the drive."""
    assert qconn.supports_feature(Feature.CHANGE_MEDIA)
    isos = []
    for name in ("one", "two"):
        iso = libvirtd.images / f"{name}-{unique}.iso"
        iso.write_bytes(name.encode() * 8192)
        libvirtd._own(iso)
        isos.append(str(iso))
    drive = "<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>{}<target dev='sda' bus='sata'/></disk>"
    xml = libvirtd.domain_xml(f"cd-{unique}").replace("</devices>", drive.format("") + "</devices>")
    dom = qconn.define_xml(xml.replace("<type arch='x86_64'>", "<type arch='x86_64' machine='q35'>"))

    def medium(flags: int = 0) -> str | None:
        return DomainXML.parse(dom.xml_desc(flags)).disk("sda").source

    dom.update_device_flags(drive.format(f"<source file='{isos[0]}'/>"))
    assert medium() == isos[0]
    dom.create()
    dom.update_device_flags(drive.format(f"<source file='{isos[1]}'/>"))
    assert medium() == isos[1] and medium(DomainXMLFlags.INACTIVE) == isos[0]
    dom.update_device_flags(drive.format(""), DeviceModifyFlags.LIVE | DeviceModifyFlags.CONFIG)
    assert medium() is None and medium(DomainXMLFlags.INACTIVE) is None
    with pytest.raises(DriverError) as err:
        dom.update_device_flags(drive.format(f"<source file='{libvirtd.images}/gone-{unique}.iso'/>"))
    assert "gone-" in err.value.message and medium() is None
    dom.destroy()
    dom.undefine()
