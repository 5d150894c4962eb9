"""Save/restore, managed save, snapshots and backup on the test driver."""
from __future__ import annotations

import os
import time

import pytest

import drivers
from drivers import DomainState, ErrorCode, JobFlags, JobOperation, JobState
from drivers.flags import RunningReason, SaveFlags, ShutoffReason

BACKUP = """<domainbackup mode='push'><disks>
  <disk name='vda' type='file'><target file='{path}'/><driver type='qcow2'/></disk>
</disks></domainbackup>"""


def test_save_and_restore_return_the_guest_in_its_saved_state(conn, tmp_path):
    dom = conn.lookup_by_name("test")
    dom.suspend()
    image = tmp_path / "test.img"
    dom.save(str(image))
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SAVED) and image.stat().st_size > 0
    conn.restore(str(image))
    assert dom.state()[0] is DomainState.PAUSED
    dom.destroy()
    conn.restore(str(image), SaveFlags.RUNNING)
    assert dom.state() == (DomainState.RUNNING, RunningReason.RESTORED)


def test_restore_of_a_transient_domain_brings_it_back(conn, tmp_path):
    dom = conn.lookup_by_name("ci-runner-7")
    dom.save(str(tmp_path / "ci.img"))
    assert "ci-runner-7" not in {d.name for d in conn.list_all_domains()}
    job_id = conn.restore(str(tmp_path / "ci.img"), JobFlags.ASYNC)
    assert isinstance(job_id, int) and job_id > 0
    deadline = time.monotonic() + 10
    while not any(j.id == job_id and j.finished for j in conn.list_all_jobs()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert conn.lookup_by_name("ci-runner-7").is_active()


@pytest.mark.parametrize("content", [b"", b"garbage", b"VMGUI-TestSave\x00{not json"])
def test_restore_rejects_bad_images(conn, tmp_path, content):
    bad = tmp_path / "bad.img"
    bad.write_bytes(content)
    with pytest.raises(drivers.DriverError) as info:
        conn.restore(str(bad))
    assert info.value.code is ErrorCode.INVALID_ARG


def test_save_needs_an_absolute_path_in_an_existing_folder(conn, tmp_path):
    dom = conn.lookup_by_name("test")
    for bad in ("relative.img", str(tmp_path / "missing" / "x.img"), ""):
        with pytest.raises(drivers.DriverError) as info:
            dom.save(bad)
        assert info.value.code is ErrorCode.INVALID_ARG
    assert dom.is_active()


def test_managed_save_is_refused_for_transient_domains(conn):
    with pytest.raises(drivers.DriverError) as info:
        conn.lookup_by_name("ci-runner-7").managed_save()
    assert info.value.code is ErrorCode.OPERATION_INVALID


def test_managed_save_remove(conn):
    win = conn.lookup_by_name("win11")
    win.managed_save_remove()
    assert not win.has_managed_save()
    win.create()
    assert win.state() == (DomainState.RUNNING, RunningReason.BOOTED)


def test_snapshot_tree_create_revert_delete(conn):
    dom = conn.lookup_by_name("web01")
    assert [s.name for s in dom.list_all_snapshots()] == ["before-upgrade", "after-upgrade"]
    snap = dom.snapshot_create("<domainsnapshot><name>third</name><description>d</description></domainsnapshot>")
    assert snap.is_current() and snap.parent_name() == "after-upgrade"
    assert "<description>d</description>" in snap.xml_desc()
    with pytest.raises(drivers.DriverError) as info:
        dom.snapshot_create("third")
    assert info.value.code is ErrorCode.OPERATION_INVALID
    dom.snapshot_lookup("after-upgrade").delete()
    assert dom.snapshot_lookup("third").parent_name() == "before-upgrade"
    dom.destroy()
    dom.snapshot_lookup("third").revert()  # taken while running: comes back running
    assert dom.state() == (DomainState.RUNNING, RunningReason.FROM_SNAPSHOT)
    with pytest.raises(drivers.DriverError) as info:
        dom.snapshot_lookup("nope")
    assert info.value.code is ErrorCode.NO_SNAPSHOT


def test_snapshot_as_a_job(slow_conn):
    dom = slow_conn.lookup_by_name("test")
    job_id = dom.snapshot_create("live", JobFlags.ASYNC)
    info = dom.get_job_info(job_id)
    assert info.operation is JobOperation.SNAPSHOT and info.state is JobState.RUNNING
    dom.abort_job(job_id)
    dom.get_job_info(job_id)
    deadline = time.monotonic() + 5
    while not dom.get_job_info(job_id).finished:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert dom.snapshot_count() == 0


def test_backup_creates_the_target_and_reports_its_xml(conn, tmp_path):
    dom = conn.lookup_by_name("test")
    target = tmp_path / "vda.qcow2"
    job_id = dom.backup_begin(BACKUP.format(path=target))
    assert f"file=\"{target}\"" in dom.backup_get_xml_desc(job_id)
    deadline = time.monotonic() + 10
    while not dom.get_job_info(job_id).finished:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    info = dom.get_job_info(job_id)
    assert info.state is JobState.COMPLETED and info.operation is JobOperation.BACKUP
    assert target.exists()


def test_cancelled_backup_leaves_no_target(slow_conn, tmp_path):
    dom = slow_conn.lookup_by_name("test")
    target = tmp_path / "vda.qcow2"
    job_id = dom.backup_begin(BACKUP.format(path=target))
    time.sleep(0.2)
    dom.abort_job(0)
    deadline = time.monotonic() + 5
    while not dom.get_job_info(job_id).finished:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert dom.get_job_info(job_id).state is JobState.CANCELLED
    assert os.listdir(tmp_path) == ["node.xml"]


@pytest.mark.parametrize("xml,code", [
    ("<domainbackup mode='pull'><disks/></domainbackup>", ErrorCode.NO_SUPPORT),
    ("<domainbackup><disks><disk name='vdz'><target file='/tmp/x'/></disk></disks></domainbackup>",
     ErrorCode.INVALID_XML),
    ("<domainbackup><disks><disk name='vda'><target file='rel.qcow2'/></disk></disks></domainbackup>",
     ErrorCode.INVALID_ARG),
    ("<domainbackup><disks><disk name='vda'/></disks></domainbackup>", ErrorCode.INVALID_XML),
    ("<domainbackup><disks><disk name='vda'><driver type='vmdk'/><target file='/tmp/vmgui-never.vmdk'/>"
     "</disk></disks></domainbackup>", ErrorCode.INVALID_XML),
    ("<domainbackup>", ErrorCode.INVALID_XML),
])
def test_bad_backup_requests(conn, xml, code):
    with pytest.raises(drivers.DriverError) as info:
        conn.lookup_by_name("test").backup_begin(xml)
    assert info.value.code is code
    assert conn.list_all_jobs() == []


def test_backup_refuses_an_existing_target(conn, tmp_path):
    target = tmp_path / "exists.qcow2"
    target.write_bytes(b"precious")
    with pytest.raises(drivers.DriverError) as info:
        conn.lookup_by_name("test").backup_begin(BACKUP.format(path=target))
    assert info.value.code is ErrorCode.OPERATION_INVALID
    assert target.read_bytes() == b"precious"


def test_backup_needs_a_running_domain(conn, tmp_path):
    with pytest.raises(drivers.DriverError) as info:
        conn.lookup_by_name("win11").backup_begin(BACKUP.format(path=tmp_path / "x.qcow2"))
    assert info.value.code is ErrorCode.OPERATION_INVALID
