"""The test driver's disk creation, rename, storage visibility, uptime and memory figures."""
from __future__ import annotations

import os
import time

import pytest
from jobwait import connection_job_end as wait_job
from refusals import refused

import drivers
from drivers import (
    DiskCreateFlags,
    DomainState,
    ErrorCode,
    EventType,
    Feature,
    JobFlags,
    JobOperation,
    JobState,
    JobUnit,
)
from drivers.flags import DefinedDetail, UndefinedDetail

MIB = 1024 * 1024


# -- create_disk ------------------------------------------------------------------
def test_create_disk_writes_a_sparse_file_as_a_finished_job(conn, tmp_path):
    assert conn.supports_feature(Feature.DISK_CREATE)
    path = tmp_path / "new.qcow2"
    assert conn.create_disk(str(path), 8 * 1024 * MIB) is None
    assert path.stat().st_size == 8 * 1024 * MIB and path.stat().st_blocks * 512 < MIB
    job = conn.list_all_jobs()[-1]
    # a sparse file writes nothing: one step done, no bytes and no rate
    assert (job.operation, job.state, job.unit, job.processed, job.total, job.rate) == (
        JobOperation.DISK_CREATE, JobState.COMPLETED, JobUnit.STEPS, 1, 1, None)
    assert job.domain == "new.qcow2"


def test_create_disk_refuses_what_the_qemu_driver_refuses(conn, tmp_path):
    taken = tmp_path / "taken.raw"
    taken.write_bytes(b"data")
    with refused(ErrorCode.OPERATION_INVALID, "already exists"):
        conn.create_disk(str(taken), MIB, "raw")
    assert taken.read_bytes() == b"data"
    for args in (("rel.img", MIB, "raw"), (str(tmp_path / "x.img"), 0, "raw"),
                 (str(tmp_path / "x.img"), 1000, "raw"), (str(tmp_path / "x.img"), MIB, "vmdk"),
                 (str(tmp_path / "no" / "x.img"), MIB, "raw")):
        with refused(ErrorCode.INVALID_ARG, ""):
            conn.create_disk(*args)
    with refused(ErrorCode.INVALID_ARG, "flags"):
        conn.create_disk(str(tmp_path / "x.img"), MIB, "raw", 1 << 5)
    assert sorted(os.listdir(tmp_path)) == ["node.xml", "taken.raw"]


def test_preallocation_progresses_at_the_simulated_rate_and_a_cancel_removes_the_file(slow_conn, tmp_path):
    events = []
    slow_conn.register_event_callback(lambda c, d, e: events.append(e) if e.type is EventType.JOB else None)
    path = tmp_path / "big.raw"
    job_id = slow_conn.create_disk(str(path), 4096 * MIB, "raw", DiskCreateFlags.PREALLOCATE | JobFlags.ASYNC)
    assert isinstance(job_id, int)
    deadline = time.monotonic() + 10
    while (info := next(j for j in slow_conn.list_all_jobs() if j.id == job_id)).processed == 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert info.state is JobState.RUNNING and info.total == 4096 * MIB and path.exists()
    slow_conn.abort_job(job_id)
    assert wait_job(slow_conn, job_id).state is JobState.CANCELLED
    assert not path.exists()
    slow_conn.host.bus.flush()
    assert {e.job.id for e in events} == {job_id} and events[-1].job.state is JobState.CANCELLED
    with refused(ErrorCode.OPERATION_INVALID, "already ended"):
        slow_conn.abort_job(job_id)
    with refused(ErrorCode.NO_JOB, ""):
        slow_conn.abort_job(99999)


def test_a_preallocated_disk_completes_with_every_byte_counted(conn, tmp_path):
    path = tmp_path / "pre.qcow2"
    job_id = conn.create_disk(str(path), 64 * MIB, "qcow2", DiskCreateFlags.PREALLOCATE | JobFlags.ASYNC)
    job = wait_job(conn, job_id)
    assert job.state is JobState.COMPLETED and job.processed == 64 * MIB and path.stat().st_size == 64 * MIB


# -- rename -----------------------------------------------------------------------
class Events:
    def __init__(self, conn):
        self.conn, self.seen = conn, []
        conn.register_event_callback(lambda c, d, e: self.seen.append((e.domain_name, e.type, e.detail)))

    def lifecycle(self):
        self.conn.host.bus.flush()
        return [s for s in self.seen if s[1] in (EventType.DEFINED, EventType.UNDEFINED)]


def test_rename_moves_an_inactive_domain_to_its_new_name(conn):
    assert conn.supports_feature(Feature.RENAME)
    events = Events(conn)
    dom = conn.lookup_by_name("backup-store")
    uuid = dom.uuid
    dom.rename("archive")
    assert dom.name == "archive" and "<name>archive</name>" in dom.xml_desc()
    assert conn.lookup_by_name("archive").uuid == uuid
    with refused(ErrorCode.NO_DOMAIN, "backup-store"):
        conn.lookup_by_name("backup-store")
    assert [r.name for r in conn.get_all_domain_stats() if r.uuid == uuid] == ["archive"]
    assert events.lifecycle() == [("backup-store", EventType.UNDEFINED, UndefinedDetail.RENAMED),
                                  ("archive", EventType.DEFINED, DefinedDetail.RENAMED)]
    dom.create()
    assert conn.lookup_by_name("archive").is_active()


@pytest.mark.parametrize("name, new, code, words", [
    ("test", "t2", ErrorCode.OPERATION_INVALID, "active"),
    ("ci-runner-7", "c2", ErrorCode.OPERATION_INVALID, "active"),
    ("win11", "w2", ErrorCode.OPERATION_INVALID, "managed saved state"),
    ("legacy-app", "l2", ErrorCode.OPERATION_INVALID, "with snapshots"),
    ("backup-store", "test", ErrorCode.OPERATION_INVALID, "domain with name 'test' already exists"),
    ("backup-store", "backup-store", ErrorCode.OPERATION_INVALID, "itself"),
    ("backup-store", "../etc", ErrorCode.INVALID_ARG, "invalid domain name"),
    ("backup-store", "", ErrorCode.INVALID_ARG, "invalid domain name"),
])
def test_rename_refuses_as_libvirt_does(conn, name, new, code, words):
    events = Events(conn)
    dom = conn.lookup_by_name(name)
    with refused(code, words):
        dom.rename(new)
    assert dom.name == name and conn.lookup_by_name(name).uuid == dom.uuid
    assert events.lifecycle() == []


def test_rename_waits_for_a_running_job(slow_conn):
    dom = slow_conn.lookup_by_name("win11")
    job_id = dom.create(JobFlags.ASYNC)  # restores its managed save: a job on an inactive domain
    with refused(ErrorCode.OPERATION_INVALID, "while its restore job"):
        dom.rename("renamed")
    dom.abort_job(job_id)
    assert wait_job(slow_conn, job_id).state is JobState.CANCELLED
    assert dom.name == "win11"


def test_a_second_connection_to_the_host_sees_the_new_name(node_file):
    with drivers.open(f"test://{node_file}") as a:
        a.lookup_by_name("backup-store").rename("archive")
        assert "archive" in {d.name for d in a.list_all_domains()}
    with drivers.open("test:///default") as b, drivers.open("test:///default") as c:
        b.lookup_by_name("backup-store").rename("bs2")
        try:
            assert c.lookup_by_name("bs2").uuid == b.lookup_by_name("bs2").uuid
        finally:
            b.lookup_by_name("bs2").rename("backup-store")


# -- storage_visible ----------------------------------------------------------------
POOL_NODE = """<node>
  <pool type='dir'><name>p</name><target><path>/srv/pool</path></target>
    <volume><name>a.qcow2</name></volume>
    <volume><name>b</name><target><path>/elsewhere/b.raw</path></target></volume>
  </pool>
</node>"""


def test_storage_visible_answers_for_real_and_simulated_disks(conn, tmp_path):
    real = tmp_path / "real.qcow2"
    real.write_bytes(b"x")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    demo_disk = "/var/lib/vmgui/images/test-0.qcow2"
    paths = [str(real), str(tmp_path), str(tmp_path / "dangling"), str(tmp_path / "gone"), demo_disk, "rel.img"]
    assert conn.storage_visible(paths) == {
        str(real): True, str(tmp_path): False, str(tmp_path / "dangling"): False,
        str(tmp_path / "gone"): False, demo_disk: True, "rel.img": False}
    assert conn.storage_visible([]) == {}
    for bad in ("/a/path", [1], None):
        with refused(ErrorCode.INVALID_ARG, ""):
            conn.storage_visible(bad)


def test_pool_volumes_of_a_node_file_are_shared_storage_of_every_test_host(conn, tmp_path):
    node = tmp_path / "pools.xml"
    node.write_text(POOL_NODE)
    wanted = ["/srv/pool/a.qcow2", "/elsewhere/b.raw", "/srv/pool/other.qcow2"]
    with drivers.open(f"test://{node}") as pooled:
        assert pooled.list_all_domains() == []
        assert pooled.storage_visible(wanted) == {wanted[0]: True, wanted[1]: True, wanted[2]: False}
    assert conn.storage_visible(wanted)[wanted[0]] is True


def test_a_created_disk_is_visible_from_another_test_host(conn, tmp_path):
    path = str(tmp_path / "fresh.qcow2")
    conn.create_disk(path, MIB)
    with drivers.open("test:///default") as other:
        assert other.storage_visible([path]) == {path: True}


# -- record figures -----------------------------------------------------------------
def test_records_carry_start_time_and_a_plausible_memory_use(conn):
    records = {r.name: r for r in conn.get_all_domain_stats()}
    for rec in records.values():
        if rec.active:
            assert rec.started_at is not None and rec.started_at <= time.time()
            assert 0 < rec.memory_used_kib < rec.memory_kib
        else:
            assert rec.started_at is None and rec.memory_used_kib is None
    dom = conn.lookup_by_name("backup-store")
    before = time.time()
    dom.create()
    rec = dom.record()
    assert rec.state is DomainState.RUNNING and before <= rec.started_at <= time.time()
    dom.destroy()
    assert dom.record().started_at is None
