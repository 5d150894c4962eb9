"""Real QEMU: every job's figures are true, or absent where the driver cannot know them.

Jobs that move data count bytes, and a finished one reports its average rate (bytes over its
time), which must agree with the size moved over the time the call took. Jobs QEMU runs as a
whole (snapshots) or that write no data (a sparse disk) count steps and have no rate.
"""
from __future__ import annotations

import os
import time

import e2e_helpers as h
import pytest
from jobwait import connection_job_end, domain_job_end

from drivers import JobFlags, JobInfo, JobOperation, JobState, JobUnit, MigrateFlags
from drivers.qemu import PREALLOCATE
from drivers.qemu.saveimg import DATA_OFFSET

pytestmark = pytest.mark.qemu

MIB = 1024 * 1024


def _bytes_job(info: JobInfo, size: int, wall: float) -> None:
    """``size`` bytes moved, at a rate that is the job's average and fits the call's duration."""
    print(f"{info.operation.name}: {info.processed} B in {info.elapsed:.3f} s ({wall:.3f} s call), "
          f"{(info.rate or 0) / MIB:.1f} MiB/s")
    assert info.state is JobState.COMPLETED, info.error
    assert info.unit is JobUnit.BYTES and info.processed == info.total == size
    assert info.rate == pytest.approx(info.processed / info.elapsed)
    assert size / wall / 3 <= info.rate <= 3 * size / wall, (
        f"{info.operation.name}: {info.rate:.0f} B/s does not fit {size} B in {wall:.3f} s")


def _counts_its_image(save: JobInfo, image_size: int) -> None:
    """A save's bytes are the guest memory its image holds: the stream less a little device state."""
    stream = image_size - DATA_OFFSET
    assert 0.99 * stream <= save.processed <= stream, f"{save.processed} B saved, the image holds {stream} B"


def _steps_job(info: JobInfo) -> None:
    assert info.state is JobState.COMPLETED, info.error
    assert info.unit is JobUnit.STEPS and not info.in_bytes, info
    assert info.processed == info.total and info.total >= 1 and info.percent == 100
    assert info.rate is None and info.remaining == 0


def _last(conn, operation: JobOperation) -> JobInfo:
    return [j for j in conn.list_all_jobs() if j.operation is operation][-1]


def _timed(call):
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def test_save_restore_and_managed_save_report_the_bytes_they_moved(env):
    conn = env.open()
    dom = conn.define_xml(env.xml("mover", memory_mib=128))  # the guest fills all of its RAM
    dom.create()
    h.wait_heartbeat(env.serial("mover"), 2)
    image = str(env.base / "mover.save")
    _, wall = _timed(lambda: dom.save(image))
    save = _last(conn, JobOperation.SAVE)
    _bytes_job(save, save.total, wall)
    _counts_its_image(save, os.path.getsize(image))
    _, wall = _timed(lambda: conn.restore(image))
    # a restore's bytes are the image's stream, read back in full
    _bytes_job(_last(conn, JobOperation.RESTORE), os.path.getsize(image) - DATA_OFFSET, wall)

    _, wall = _timed(dom.managed_save)
    managed = _last(conn, JobOperation.SAVE)
    assert managed.id != save.id
    _bytes_job(managed, managed.total, wall)
    managed_image = env.root() / "domains" / dom.uuid / "managed.save"
    _counts_its_image(managed, managed_image.stat().st_size)
    size = managed_image.stat().st_size - DATA_OFFSET
    _, wall = _timed(dom.create)
    _bytes_job(_last(conn, JobOperation.RESTORE), size, wall)


def test_snapshot_jobs_count_steps_not_bytes(env):
    conn = env.open()
    disks = [{"path": h.make_qcow2(env.base / f"s{i}.qcow2")} for i in range(2)]
    dom = conn.define_xml(env.xml("snapper", disks=disks))
    cold = dom.snapshot_create("cold")  # qemu-img on each disk: one step per disk
    offline = _last(conn, JobOperation.SNAPSHOT)
    _steps_job(offline)
    assert offline.total == 2
    dom.create()
    h.wait_heartbeat(env.serial("snapper"), 2)
    warm = dom.snapshot_create("warm")  # QEMU's snapshot-save
    _steps_job(_last(conn, JobOperation.SNAPSHOT))
    warm.revert()
    _steps_job(_last(conn, JobOperation.SNAPSHOT_REVERT))
    warm.delete()
    _steps_job(_last(conn, JobOperation.SNAPSHOT_DELETE))
    cold.revert()  # the guest stops; qemu-img applies the snapshot to each disk
    reverted = _last(conn, JobOperation.SNAPSHOT_REVERT)
    _steps_job(reverted)
    assert reverted.total == 2
    cold.delete()
    _steps_job(_last(conn, JobOperation.SNAPSHOT_DELETE))


def test_disk_creation_counts_bytes_only_when_it_allocates_them(env):
    conn = env.open()
    conn.create_disk(str(env.base / "sparse.qcow2"), 1024 * MIB)
    _steps_job(_last(conn, JobOperation.DISK_CREATE))
    start = time.monotonic()
    job_id = conn.create_disk(str(env.base / "full.raw"), 64 * MIB, "raw", PREALLOCATE | JobFlags.ASYNC)
    info = connection_job_end(conn, job_id, timeout=60)
    _bytes_job(info, 64 * MIB, time.monotonic() - start)


def test_backup_reports_the_bytes_it_copied(env):
    conn = env.open()
    disk = h.make_qcow2(env.base / "data.qcow2", size_mib=128, fill_mib=96)
    dom = conn.define_xml(env.xml("bk", disks=[{"path": disk}]))
    dom.create()
    target = env.base / "backup.qcow2"
    start = time.monotonic()
    job_id = dom.backup_begin(h.backup_xml(str(target)))
    info = domain_job_end(dom, job_id, timeout=120)
    _bytes_job(info, 128 * MIB, time.monotonic() - start)


def test_a_paused_migration_reports_the_bytes_it_sent(env):
    src, dst = env.open("a"), env.open("b")
    dom = src.define_xml(env.xml("hop", memory_mib=64))
    dom.create()
    h.wait_heartbeat(env.serial("hop"), 2)
    moved, wall = _timed(lambda: dom.migrate(dst, MigrateFlags.PAUSED))
    out = _last(src, JobOperation.MIGRATION_OUT)
    _bytes_job(out, out.total, wall)
    assert out.total >= 64 * MIB
    assert out.detail("expected_downtime_ms") is None and out.detail("dirty_rate") is None, \
        "a guest paused during the copy dirties nothing and has no downtime to expect"
    moved.destroy()
