"""Jobs: ids, id 0, the busy rule, progress figures, cancellation and JOB events."""
from __future__ import annotations

import os
import time

import pytest
from jobwait import connection_job_end
from nodegen import node_xml

import drivers
from drivers import DomainState, ErrorCode, EventType, JobFlags, JobOperation, JobState, JobType, JobUnit
from drivers.flags import JobEventDetail
from drivers.jobs import JobTable, RateMeter

ASYNC = JobFlags.ASYNC


def wait_for(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_async_save_reports_honest_progress_then_completes(slow_conn, tmp_path):
    dom = slow_conn.lookup_by_name("test")
    job_id = dom.save(str(tmp_path / "test.save"), ASYNC)
    assert job_id > 0
    first = dom.get_job_info(0)
    assert first.id == job_id and first.state is JobState.RUNNING and first.operation is JobOperation.SAVE
    assert first.total == 2 * 1024 ** 3 and first.type is JobType.BOUNDED
    assert first.rate is None and first.remaining is None  # unknown, not guessed
    time.sleep(0.6)
    info = dom.get_job_info(job_id)
    assert 0 < info.processed < info.total
    assert info.rate == pytest.approx(64 * 1024 ** 2, rel=0.25)
    assert info.remaining == pytest.approx((info.total - info.processed) / info.rate, rel=0.01)
    assert 0 < info.percent < 100
    dom.abort_job(job_id)
    assert wait_for(lambda: dom.get_job_info(job_id).finished)


def test_busy_rule_names_the_job_and_queries_still_work(slow_conn, tmp_path):
    dom = slow_conn.lookup_by_name("test")
    job_id = dom.managed_save(ASYNC)
    try:
        for call in (dom.suspend, dom.shutdown, dom.reboot, lambda: dom.save(str(tmp_path / "x"))):
            with pytest.raises(drivers.DriverError) as info:
                call()
            assert info.value.code is ErrorCode.OPERATION_INVALID
            assert f"job {job_id}" in info.value.message
        assert dom.state()[0] is DomainState.RUNNING
        assert dom.info().vcpus == 2 and dom.xml_desc()
        assert any(j.id == job_id for j in slow_conn.list_all_jobs())
    finally:
        dom.abort_job(0)
    assert wait_for(lambda: dom.get_job_info(job_id).state is JobState.CANCELLED)


def test_cancel_leaves_the_domain_as_it_was_and_no_file(slow_conn, tmp_path):
    dom = slow_conn.lookup_by_name("test")
    (tmp_path / "saves").mkdir()
    target = tmp_path / "saves" / "test.save"
    job_id = dom.save(str(target), ASYNC)
    time.sleep(0.2)
    dom.abort_job(job_id)
    assert wait_for(lambda: dom.get_job_info(job_id).finished)
    info = dom.get_job_info(job_id)
    assert info.state is JobState.CANCELLED and "canceled by client" in info.error
    assert dom.state()[0] is DomainState.RUNNING
    assert os.listdir(tmp_path / "saves") == []  # no partial file, no temp file
    dom.suspend()  # free again


def test_synchronous_call_cancelled_from_another_thread_raises_aborted(slow_conn):
    import threading
    dom = slow_conn.lookup_by_name("test")
    threading.Timer(0.3, lambda: dom.abort_job(0)).start()
    with pytest.raises(drivers.DriverError) as info:
        dom.managed_save()
    assert info.value.code is ErrorCode.OPERATION_ABORTED
    assert not dom.has_managed_save() and dom.is_active()


def test_finished_jobs_keep_final_figures_and_ids_never_repeat(conn, tmp_path):
    dom = conn.lookup_by_name("test")
    dom.save(str(tmp_path / "a"))
    conn.restore(str(tmp_path / "a"))
    infos = conn.list_all_jobs()
    assert [i.operation for i in infos] == [JobOperation.SAVE, JobOperation.RESTORE]
    assert len({i.id for i in infos}) == 2 and all(i.id > 0 for i in infos)
    save = infos[0]
    assert save.state is JobState.COMPLETED and save.processed == save.total and save.percent == 100
    assert save.remaining == 0 and save.rate and save.rate > 0
    assert dom.get_job_info(0).id == infos[1].id  # id 0: latest job when none runs


def test_job_ids_and_errors(conn):
    dom = conn.lookup_by_name("test")
    with pytest.raises(drivers.DriverError) as info:
        dom.get_job_info(0)
    assert info.value.code is ErrorCode.NO_JOB
    with pytest.raises(drivers.DriverError) as info:
        dom.get_job_info(424242)
    assert info.value.code is ErrorCode.NO_JOB
    with pytest.raises(drivers.DriverError) as info:
        dom.get_job_info(-1)
    assert info.value.code is ErrorCode.INVALID_ARG
    with pytest.raises(drivers.DriverError) as info:
        dom.abort_job(0)
    assert info.value.code is ErrorCode.OPERATION_INVALID


def test_jobs_of_different_domains_run_in_parallel(slow_conn):
    a, b = slow_conn.lookup_by_name("test"), slow_conn.lookup_by_name("web01")
    ja, jb = a.managed_save(ASYNC), b.managed_save(ASYNC)
    try:
        time.sleep(0.3)
        assert a.get_job_info(ja).processed > 0 and b.get_job_info(jb).processed > 0
    finally:
        a.abort_job(ja)
        b.abort_job(jb)


def test_job_events_started_throttled_progress_finished(conn):
    events = []
    conn.register_event_callback(lambda c, d, e: events.append(e) if e.type is EventType.JOB else None)
    conn.lookup_by_name("test").managed_save()  # 2 GiB at 4 GiB/s: about 0.5 s
    conn.host.bus.flush()
    details = [e.detail for e in events]
    assert details[0] == JobEventDetail.STARTED and details[-1] == JobEventDetail.FINISHED
    progress = [e for e in events if e.detail == JobEventDetail.PROGRESS]
    assert 1 <= len(progress) <= 4  # at most one every 250 ms
    stamps = [e.timestamp for e in progress]
    assert all(b - a >= 0.2 for a, b in zip(stamps, stamps[1:], strict=False))
    assert events[-1].job.state is JobState.COMPLETED


def test_destroy_cancels_a_running_job(slow_conn):
    dom = slow_conn.lookup_by_name("test")
    job_id = dom.managed_save(ASYNC)
    dom.destroy()
    assert dom.get_job_info(job_id).state is JobState.CANCELLED
    assert dom.state()[0] is DomainState.SHUTOFF and not dom.has_managed_save()


def test_rate_meter_is_a_rolling_average():
    meter = RateMeter(window=1.0)
    assert meter.rate() is None
    meter.sample(0.0, 0)
    meter.sample(0.1, 100)
    assert meter.rate() is None  # too short a span to say
    for t in range(2, 31):
        meter.sample(t / 10, t * 100 if t <= 20 else 2000 + (t - 20) * 10)
    assert meter.rate() == pytest.approx(100, rel=0.01)  # last second only: 10 bytes per 0.1 s


def test_job_table_unbounded_job_has_no_percent():
    table = JobTable()
    job = table.begin("u", "d", JobOperation.DUMP, "dump")
    job.progress(10)
    info = job.info()
    assert info.type is JobType.UNBOUNDED and info.percent is None and info.remaining is None
    table.end(job, RuntimeError("disk full"))
    assert job.info().state is JobState.FAILED and "disk full" in job.info().error


def test_a_finished_job_reports_its_average_rate_not_what_its_last_samples_saw():
    """A restore read from the page cache: by the first sample nearly all of it was loaded."""
    table = JobTable()
    job = table.begin("u", "d", JobOperation.RESTORE, "restore")
    time.sleep(0.3)
    job.progress((80 << 20) - (256 << 10), 80 << 20)
    time.sleep(0.3)
    job.progress(80 << 20, 80 << 20)
    table.end(job, None)
    info = job.info()
    assert info.unit is JobUnit.BYTES and info.processed == 80 << 20
    assert info.rate == pytest.approx(info.processed / info.elapsed)  # about 130 MiB/s, not 1 MiB/s


def test_a_job_counted_in_steps_has_no_rate():
    table = JobTable()
    job = table.begin("u", "d", JobOperation.SNAPSHOT, "snapshot")
    job.steps(0, 1)
    time.sleep(0.3)
    job.steps(1, 1)
    running = job.info()
    assert running.unit is JobUnit.STEPS and not running.in_bytes
    assert (running.processed, running.total, running.percent) == (1, 1, 100.0)
    assert running.rate is None and running.remaining is None
    table.end(job, None)
    done = job.info()
    assert (done.unit, done.rate, done.percent) == (JobUnit.STEPS, None, 100.0)


def test_every_job_of_the_test_driver_counts_bytes_at_its_average_rate_or_steps_without_one(conn, tmp_path):
    dest_file = tmp_path / "dest.xml"
    dest_file.write_text(node_xml([]))
    dom = conn.lookup_by_name("test")  # running
    dom.save(str(tmp_path / "test.save"))
    conn.restore(str(tmp_path / "test.save"))
    dom.managed_save()
    dom.create()  # restores the managed save
    snap = dom.snapshot_create("<domainsnapshot><name>live</name></domainsnapshot>")
    connection_job_end(conn, snap.revert(ASYNC))
    connection_job_end(conn, snap.delete(ASYNC))
    connection_job_end(conn, dom.backup_begin(
        f"<domainbackup mode='push'><disks><disk name='vda' type='file'><target file='{tmp_path / 'b.qcow2'}'/>"
        "<driver type='qcow2'/></disk></disks></domainbackup>"))
    conn.create_disk(str(tmp_path / "sparse.qcow2"), 1 << 30)
    connection_job_end(conn, conn.create_disk(str(tmp_path / "full.raw"), 64 << 20, "raw",
                                              drivers.DiskCreateFlags.PREALLOCATE | ASYNC))
    with drivers.open(f"test://{dest_file}?rate=4096") as dest:
        dom.migrate(dest, drivers.MigrateFlags.LIVE)
    in_steps = {JobOperation.SNAPSHOT_DELETE}
    jobs = conn.list_all_jobs()
    assert {j.operation for j in jobs} == {JobOperation.SAVE, JobOperation.RESTORE, JobOperation.SNAPSHOT,
                                       JobOperation.SNAPSHOT_REVERT, JobOperation.SNAPSHOT_DELETE,
                                       JobOperation.BACKUP, JobOperation.DISK_CREATE, JobOperation.MIGRATION_OUT}
    for job in jobs:
        assert job.state is JobState.COMPLETED, job
        sparse = job.operation is JobOperation.DISK_CREATE and job.domain == "sparse.qcow2"
        if job.operation in in_steps or sparse:
            assert (job.unit, job.processed, job.total, job.rate) == (JobUnit.STEPS, 1, 1, None), job
        else:
            assert job.unit is JobUnit.BYTES and job.processed == job.total > 0, job
            assert job.rate == pytest.approx(job.processed / job.elapsed), job
