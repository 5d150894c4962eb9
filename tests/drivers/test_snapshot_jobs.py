"""Snapshot revert and delete as jobs on the test driver: ids, the busy rule, failure, figures."""
from __future__ import annotations

from pathlib import Path

import pytest
from jobwait import connection_job_end as finished
from nodegen import TEST_NS

import drivers
from drivers import DomainState, ErrorCode, EventType, JobFlags, JobOperation, JobState, JobUnit
from drivers.flags import JobEventDetail, RunningReason

ASYNC = JobFlags.ASYNC
GIB = 1024 ** 3


def snapshot_names(dom: drivers.Domain) -> dict[str, str | None]:
    return {s.name: s.parent_name() for s in dom.list_all_snapshots()}


def current(dom: drivers.Domain) -> str | None:
    return next((s.name for s in dom.list_all_snapshots() if s.is_current()), None)


def test_async_revert_is_a_job_that_loads_the_memory(conn):
    dom = conn.lookup_by_name("web01")  # running, 2 GiB; both snapshots were taken running
    jobs = []
    conn.register_event_callback(lambda c, d, e: jobs.append(e.job) if e.type is EventType.JOB else None)
    job_id = dom.snapshot_lookup("before-upgrade").revert(ASYNC)
    assert isinstance(job_id, int) and not isinstance(job_id, bool) and job_id > 0
    info = finished(conn, job_id)
    assert info.operation is JobOperation.SNAPSHOT_REVERT and info.state is JobState.COMPLETED
    assert info.domain == "web01" and info.total == 2 * GIB and info.processed == 2 * GIB
    assert info.unit is JobUnit.BYTES and info.rate == pytest.approx(info.processed / info.elapsed)
    assert current(dom) == "before-upgrade"
    assert dom.state() == (DomainState.RUNNING, RunningReason.FROM_SNAPSHOT)
    conn.host.bus.flush()
    mine = [j for j in jobs if j.id == job_id]
    assert mine[0].state is JobState.RUNNING and mine[-1].state is JobState.COMPLETED


def test_async_delete_is_a_short_job_and_children_move_up(conn):
    dom = conn.lookup_by_name("web01")
    job_id = dom.snapshot_lookup("before-upgrade").delete(ASYNC)
    assert isinstance(job_id, int) and job_id > 0
    info = finished(conn, job_id)
    assert info.operation is JobOperation.SNAPSHOT_DELETE and info.state is JobState.COMPLETED
    # freeing the saved memory moves no data: one step, no byte figures, 1/16 of a revert's time
    assert (info.unit, info.processed, info.total, info.rate) == (JobUnit.STEPS, 1, 1, None)
    assert info.elapsed >= 2 * GIB / 16 / (4096 * 1024 * 1024)
    assert snapshot_names(dom) == {"after-upgrade": None}
    assert current(dom) == "after-upgrade"


def test_shut_off_snapshot_jobs_have_nothing_to_load(conn):
    dom = conn.lookup_by_name("legacy-app")  # shut off, one shut-off snapshot
    info = finished(conn, dom.snapshot_lookup("golden").revert(ASYNC))
    assert info.state is JobState.COMPLETED and info.operation is JobOperation.SNAPSHOT_REVERT
    assert (info.unit, info.processed, info.total, info.rate) == (JobUnit.STEPS, 1, 1, None)  # no bytes moved
    assert not dom.is_active()
    info = finished(conn, dom.snapshot_lookup("golden").delete(ASYNC))
    assert info.state is JobState.COMPLETED and dom.snapshot_count() == 0
    assert (info.unit, info.rate) == (JobUnit.STEPS, None)
    made = finished(conn, dom.snapshot_create("cold", ASYNC))
    assert (made.unit, made.processed, made.total, made.rate) == (JobUnit.STEPS, 1, 1, None)


def test_the_busy_rule_holds_while_a_revert_runs(slow_conn):
    dom = slow_conn.lookup_by_name("web01")  # 2 GiB at 64 MiB/s: 32 s of loading
    before = current(dom)
    job_id = dom.snapshot_lookup("before-upgrade").revert(ASYNC)
    for call in (dom.suspend, dom.shutdown, lambda: dom.snapshot_create("another"),
                 lambda: dom.snapshot_lookup("after-upgrade").delete(ASYNC),
                 lambda: dom.snapshot_lookup("after-upgrade").revert()):
        with pytest.raises(drivers.DriverError) as err:
            call()
        assert err.value.code is ErrorCode.OPERATION_INVALID
        assert f"snapshot revert job {job_id}" in err.value.message
    running = dom.get_job_info(0)  # queries work meanwhile
    assert running.id == job_id and running.state is JobState.RUNNING and 0 <= running.processed < 2 * GIB
    assert snapshot_names(dom) == {"before-upgrade": None, "after-upgrade": "before-upgrade"}
    assert current(dom) == before  # nothing changes until the memory is loaded
    dom.destroy()  # wins over the job, as libvirt's destroy does
    assert dom.get_job_info(job_id).state is JobState.CANCELLED
    assert current(dom) == before and dom.state()[0] is DomainState.SHUTOFF


def test_the_busy_rule_holds_while_a_delete_runs(slow_conn):
    dom = slow_conn.lookup_by_name("web01")  # 128 MiB to free at 64 MiB/s: 2 s
    job_id = dom.snapshot_lookup("after-upgrade").delete(ASYNC)
    with pytest.raises(drivers.DriverError) as err:
        dom.snapshot_lookup("before-upgrade").revert()
    assert err.value.code is ErrorCode.OPERATION_INVALID and f"snapshot delete job {job_id}" in err.value.message
    assert "after-upgrade" in snapshot_names(dom)
    assert finished(slow_conn, job_id).state is JobState.COMPLETED
    assert snapshot_names(dom) == {"before-upgrade": None}


def test_synchronous_calls_are_unchanged_and_start_no_job(conn):
    dom = conn.lookup_by_name("web01")
    jobs_before = len(conn.list_all_jobs())
    assert dom.snapshot_lookup("before-upgrade").revert() is None
    assert current(dom) == "before-upgrade" and dom.state()[0] is DomainState.RUNNING
    assert dom.snapshot_lookup("before-upgrade").delete() is None
    assert snapshot_names(dom) == {"after-upgrade": None}
    assert len(conn.list_all_jobs()) == jobs_before
    for call in (lambda: dom.snapshot_lookup("after-upgrade").revert(1 << 3),
                 lambda: dom.snapshot_lookup("after-upgrade").delete(1 << 3)):
        with pytest.raises(drivers.DriverError) as err:
            call()
        assert err.value.code is ErrorCode.INVALID_ARG


BROKEN_NODE = (
    f"<node><domain type='test' xmlns:test='{TEST_NS}'><name>broken</name><memory unit='MiB'>64</memory>"
    "<vcpu>1</vcpu><os><type>hvm</type></os><test:runstate>1</test:runstate>"
    "<test:domainsnapshot><domainsnapshot><name>bad</name><state>running</state><domain type='test'>"
    "<name>broken</name><memory unit='MiB'>lots</memory></domain></domainsnapshot></test:domainsnapshot>"
    "</domain></node>")


def test_a_revert_that_fails_ends_failed_with_the_error(tmp_path: Path):
    node = tmp_path / "broken.xml"
    node.write_text(BROKEN_NODE)
    with drivers.open(f"test://{node}?rate=4096") as conn:
        dom = conn.lookup_by_name("broken")
        finished_events = []
        conn.register_event_callback(lambda c, d, e: finished_events.append(e.job) if e.type is EventType.JOB
                                     and e.detail == JobEventDetail.FINISHED else None)
        job_id = dom.snapshot_lookup("bad").revert(ASYNC)
        info = finished(conn, job_id)
        assert info.state is JobState.FAILED and info.operation is JobOperation.SNAPSHOT_REVERT
        assert "expected an integer, found 'lots'" in (info.error or "")
        assert dom.state() == (DomainState.RUNNING, RunningReason.BOOTED)  # untouched
        assert dom.get_job_info(0).id == job_id  # the latest job, kept with its error
        dom.suspend()  # the domain is free again
        conn.host.bus.flush()
        assert [j.state for j in finished_events if j.id == job_id] == [JobState.FAILED]
        with pytest.raises(drivers.DriverError) as err:  # the synchronous call raises the same error
            dom.snapshot_lookup("bad").revert()
        assert err.value.code is ErrorCode.INVALID_XML


@pytest.mark.parametrize("operation", ["revert", "delete"])
def test_abort_is_refused_for_revert_and_delete(slow_conn, operation):
    """QEMU cannot stop a snapshot load or delete half-way, so no driver offers it."""
    dom = slow_conn.lookup_by_name("web01")
    job_id = getattr(dom.snapshot_lookup("after-upgrade"), operation)(ASYNC)
    for which in (job_id, 0):
        with pytest.raises(drivers.DriverError) as err:
            dom.abort_job(which)
        assert err.value.code is ErrorCode.OPERATION_INVALID and "cannot be cancelled" in err.value.message
    assert dom.get_job_info(job_id).state is JobState.RUNNING
    dom.destroy()  # destroy still wins (the test driver's job stops before changing anything)
    assert dom.get_job_info(job_id).state is JobState.CANCELLED and "after-upgrade" in snapshot_names(dom)
