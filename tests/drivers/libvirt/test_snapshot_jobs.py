"""libvirt bridge: snapshot revert and delete with JobFlags.ASYNC run as vmgui jobs
(libvirt's test driver through libvirt-python; its calls are synchronous)."""
from __future__ import annotations

import contextlib
import threading

import pytest
from jobwait import domain_job_end as finished

import drivers
from drivers import ErrorCode, EventType, JobFlags, JobOperation, JobState
from drivers.flags import SnapshotEventDetail

pytestmark = pytest.mark.libvirt
ASYNC = JobFlags.ASYNC
REVERT_RUNNING, REVERT_PAUSED = 1, 2  # virDomainSnapshotRevertFlags


def test_async_revert_and_delete_are_jobs_with_their_events(lvconn):
    events = []
    lvconn.register_event_callback(lambda c, d, e: events.append(e))
    dom = lvconn.lookup_by_name("run2")  # two snapshots: s0 <- s1
    first, second = dom.snapshot_lookup("s0"), dom.snapshot_lookup("s1")
    job_id = first.revert(ASYNC)
    assert isinstance(job_id, int) and not isinstance(job_id, bool) and job_id > 0
    info = finished(dom, job_id)
    assert info.operation is JobOperation.SNAPSHOT_REVERT and info.state is JobState.COMPLETED, info.error
    assert first.is_current()
    job_id = second.delete(ASYNC)
    info = finished(dom, job_id)
    assert info.operation is JobOperation.SNAPSHOT_DELETE and info.state is JobState.COMPLETED, info.error
    assert [s.name for s in dom.list_all_snapshots()] == ["s0"]
    lvconn.wait_events()
    assert [(e.detail, e.message) for e in events if e.type is EventType.SNAPSHOT] == [
        (SnapshotEventDetail.REVERTED, "s0"), (SnapshotEventDetail.DELETED, "s1")]
    ours = {j.id: j for j in lvconn.list_all_jobs() if j.domain == "run2"}
    assert [j.operation for j in ours.values()] == [JobOperation.SNAPSHOT_REVERT, JobOperation.SNAPSHOT_DELETE]


def test_synchronous_calls_start_no_job(lvconn):
    dom = lvconn.lookup_by_name("run2")
    assert dom.snapshot_lookup("s0").revert() is None
    assert dom.snapshot_lookup("s1").delete() is None
    assert dom.snapshot_count() == 1
    assert not [j for j in lvconn.list_all_jobs() if j.domain == "run2"]


def test_libvirt_refusing_inside_the_job_ends_it_failed(lvconn):
    dom = lvconn.lookup_by_name("run2")
    dom.snapshot_lookup("s1").revert()
    job_id = dom.snapshot_lookup("s0").revert(ASYNC | REVERT_RUNNING | REVERT_PAUSED)  # exclusive flags
    info = finished(dom, job_id)
    assert info.state is JobState.FAILED and info.operation is JobOperation.SNAPSHOT_REVERT
    assert "revert to snapshot 's0'" in (info.error or "")
    assert dom.snapshot_lookup("s1").is_current()  # libvirt changed nothing
    with pytest.raises(drivers.DriverError) as err:  # unknown bits never reach libvirt
        dom.snapshot_lookup("s0").delete(ASYNC | 1 << 8)
    assert err.value.code is ErrorCode.INVALID_ARG


@contextlib.contextmanager
def held_revert(conn, monkeypatch):
    """While inside, libvirt's revert call is held (as a large guest's revert takes a while)."""
    entered, release = threading.Event(), threading.Event()
    plain_call = conn.call

    def slow_call(what, fn, *args):
        if what.startswith("revert to snapshot"):
            entered.set()
            release.wait(20)
        return plain_call(what, fn, *args)

    monkeypatch.setattr(conn, "call", slow_call)
    try:
        yield entered
    finally:
        release.set()


def test_the_busy_rule_holds_while_libvirt_reverts(lvconn, monkeypatch):
    dom = lvconn.lookup_by_name("run2")
    with held_revert(lvconn, monkeypatch) as entered:
        job_id = dom.snapshot_lookup("s0").revert(ASYNC)
        assert entered.wait(10)
        assert dom.get_job_info(0).id == job_id and dom.get_job_info(0).state is JobState.RUNNING
        for call in (dom.suspend, lambda: dom.snapshot_create("other"),
                     lambda: dom.snapshot_lookup("s1").delete(ASYNC)):
            with pytest.raises(drivers.DriverError) as err:
                call()
            assert err.value.code is ErrorCode.OPERATION_INVALID
            assert f"snapshot revert job {job_id}" in err.value.message
    assert finished(dom, job_id).state is JobState.COMPLETED
    assert not dom.is_active()  # the snapshot was taken shut off
    dom.snapshot_create("other")  # free again


def test_abort_of_a_revert_is_refused_as_on_the_other_drivers(lvconn, monkeypatch):
    dom = lvconn.lookup_by_name("run2")
    with held_revert(lvconn, monkeypatch) as entered:
        job_id = dom.snapshot_lookup("s0").revert(ASYNC)
        assert entered.wait(10)
        with pytest.raises(drivers.DriverError) as err:
            dom.abort_job(0)
        assert err.value.code is ErrorCode.OPERATION_INVALID and "cannot be cancelled" in err.value.message
    assert finished(dom, job_id).state is JobState.COMPLETED


@pytest.mark.slow
def test_a_real_libvirtd_reverts_and_deletes_as_jobs(qconn, libvirtd, unique):
    """libvirt's qemu driver runs revert and delete under an async job of its own: the
    vmgui job ends when the call returns, with libvirt's completed figures if any."""
    disk = libvirtd.disk(f"sj-{unique}", 64)
    dom = qconn.define_xml(libvirtd.domain_xml(f"sj-{unique}", disk))
    dom.create()
    snap = dom.snapshot_create("first")
    info = finished(dom, snap.revert(ASYNC))
    assert info.operation is JobOperation.SNAPSHOT_REVERT and info.state is JobState.COMPLETED, info.error
    assert dom.is_active() and snap.is_current()
    info = finished(dom, snap.delete(ASYNC))
    assert info.operation is JobOperation.SNAPSHOT_DELETE and info.state is JobState.COMPLETED, info.error
    assert dom.snapshot_count() == 0
    dom.destroy()
    dom.undefine()
    disk.unlink()
