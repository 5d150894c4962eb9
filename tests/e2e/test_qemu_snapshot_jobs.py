"""Real QEMU: snapshot revert and delete as jobs, on a running guest and a shut-off one."""
from __future__ import annotations

import subprocess
import time

import e2e_helpers as h
import pytest
from jobwait import domain_job_end as _finished

from drivers import DomainState, ErrorCode, EventType, JobFlags, JobOperation, JobState

pytestmark = pytest.mark.qemu
ASYNC = JobFlags.ASYNC


def _disk_snapshots(path: str) -> str:
    """qemu-img's list of the internal snapshots (-U: the image may be in use)."""
    return subprocess.run([h.QEMU_IMG, "snapshot", "-U", "-l", path], capture_output=True, text=True,
                          check=True).stdout


def test_revert_and_delete_of_a_running_guest_are_jobs(env):
    conn = env.open()
    disk = h.make_qcow2(env.base / "run.qcow2")
    dom = conn.define_xml(env.xml("runner", disks=[{"path": disk}]))
    dom.create()
    serial = env.serial("runner")
    h.wait_heartbeat(serial, 3)
    warm = dom.snapshot_create("warm")
    at_snapshot = h.heartbeat(serial)
    h.wait_heartbeat(serial, at_snapshot + 6)
    jobs: list = []
    conn.register_event_callback(lambda c, d, e: jobs.append(e.job) if e.type is EventType.JOB else None)

    with conn.host.lock:  # the job cannot end while we hold the host: check the busy rule meanwhile
        job_id = warm.revert(ASYNC)
        assert isinstance(job_id, int) and job_id > 0
        running = dom.get_job_info(0)
        assert running.id == job_id and running.operation is JobOperation.SNAPSHOT_REVERT
        assert running.state is JobState.RUNNING
        for call in (dom.suspend, lambda: dom.snapshot_create("other"), lambda: warm.delete(ASYNC)):
            with h.refused(ErrorCode.OPERATION_INVALID) as err:
                call()
            assert f"snapshot revert job {job_id}" in err.value.message
        with h.refused(ErrorCode.OPERATION_INVALID):  # it cannot stop half-way
            dom.abort_job(job_id)
    info = _finished(dom, job_id)
    assert info.state is JobState.COMPLETED, info.error
    assert dom.state()[0] is DomainState.RUNNING and warm.is_current()
    time.sleep(0.3)
    assert h.heartbeat(serial) <= at_snapshot + 5  # back in time, not rebooted
    assert h.boots(serial) == 1
    assert [j.state for j in jobs if j.id == job_id][-1] is JobState.COMPLETED

    job_id = warm.delete(ASYNC)  # QMP snapshot-delete while the guest runs
    info = _finished(dom, job_id)
    assert info.operation is JobOperation.SNAPSHOT_DELETE and info.state is JobState.COMPLETED, info.error
    assert dom.snapshot_count() == 0 and "warm" not in _disk_snapshots(disk)
    assert dom.state()[0] is DomainState.RUNNING
    assert {j.id for j in conn.list_all_jobs()} >= {job_id, info.id}


def test_revert_and_delete_of_a_shut_off_guest_are_jobs(env):
    conn = env.open()
    disk = h.make_qcow2(env.base / "off.qcow2")
    dom = conn.define_xml(env.xml("sleeper", disks=[{"path": disk}]))
    cold = dom.snapshot_create("cold")  # qemu-img, the guest is shut off
    dom.create()
    serial = env.serial("sleeper")
    h.wait_heartbeat(serial, 3)
    warm = dom.snapshot_create("warm")
    at_snapshot = h.heartbeat(serial)
    dom.destroy()

    info = _finished(dom, cold.revert(ASYNC))  # qemu-img snapshot -a on the shut-off disk
    assert info.operation is JobOperation.SNAPSHOT_REVERT and info.state is JobState.COMPLETED, info.error
    assert dom.state()[0] is DomainState.SHUTOFF and cold.is_current()

    info = _finished(dom, warm.revert(ASYNC))  # shut off -> the live snapshot: QEMU starts from its memory
    assert info.state is JobState.COMPLETED, info.error
    assert dom.state()[0] is DomainState.RUNNING and warm.is_current()
    h.wait_heartbeat(serial, at_snapshot)
    assert h.heartbeat(serial) <= at_snapshot + 5 and h.boots(serial) == 1
    dom.destroy()

    info = _finished(dom, cold.delete(ASYNC))  # qemu-img snapshot -d
    assert info.operation is JobOperation.SNAPSHOT_DELETE and info.state is JobState.COMPLETED, info.error
    assert [s.name for s in dom.list_all_snapshots()] == ["warm"]
    assert warm.parent_name() is None and "cold" not in _disk_snapshots(disk)
    assert warm.delete() is None  # without ASYNC: waits for its job, as before
    assert dom.snapshot_count() == 0 and dom.get_job_info(0).operation is JobOperation.SNAPSHOT_DELETE


def test_a_failed_revert_job_keeps_the_error(env):
    conn = env.open()
    disk = h.make_qcow2(env.base / "gone.qcow2")
    dom = conn.define_xml(env.xml("loser", disks=[{"path": disk}]))
    snap = dom.snapshot_create("cold")
    subprocess.run([h.QEMU_IMG, "snapshot", "-d", "cold", disk], check=True)  # behind the driver's back
    info = _finished(dom, snap.revert(ASYNC))
    assert info.state is JobState.FAILED and info.operation is JobOperation.SNAPSHOT_REVERT
    assert "cold" in (info.error or "")
    assert dom.state()[0] is DomainState.SHUTOFF
    dom.create()  # the domain is free again
    assert dom.is_active()
