"""Real QEMU: save/restore, managed save, snapshots, disk creation, backup."""
from __future__ import annotations

import os
import subprocess
import time

import e2e_helpers as h
import pytest
from jobwait import domain_job_end as _wait_job

from drivers import DomainState, DriverError, ErrorCode, JobFlags, JobOperation, JobState, SaveFlags
from drivers.flags import ShutoffReason
from drivers.qemu import PREALLOCATE

pytestmark = pytest.mark.qemu


def test_save_and_restore_keeps_the_guest_running(env):
    conn = env.open()
    dom = conn.define_xml(env.xml("saver"))
    dom.create()
    serial = env.serial("saver")
    hb = h.wait_heartbeat(serial, 3)
    image = str(env.base / "saver.img")
    dom.save(image)
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SAVED)
    saved_hb = h.heartbeat(serial)
    assert saved_hb >= hb
    job = dom.get_job_info()
    assert job.operation == JobOperation.SAVE and job.state == JobState.COMPLETED and job.total
    conn.restore(image)
    assert dom.state()[0] == DomainState.RUNNING
    after = h.wait_heartbeat(serial, saved_hb)
    assert after <= saved_hb + 5, "the restored guest must continue, not reboot"
    assert h.boots(serial) == 1


def test_save_paused_restores_paused(env):
    conn = env.open()
    dom = conn.create_xml(env.xml("psave"))
    h.wait_heartbeat(env.serial("psave"), 1)
    dom.suspend()
    image = str(env.base / "psave.img")
    job_id = dom.save(image, JobFlags.ASYNC)
    assert isinstance(job_id, int) and job_id > 0
    assert _wait_job(dom, job_id).state == JobState.COMPLETED
    with pytest.raises(DriverError):
        conn.lookup_by_name("psave")  # transient: gone once saved
    conn.restore(image)
    dom = conn.lookup_by_name("psave")
    assert dom.state()[0] == DomainState.PAUSED
    conn.restore  # noqa: B018
    dom.resume()
    h.wait_heartbeat(env.serial("psave"), h.heartbeat(env.serial("psave")))
    dom.destroy()
    conn.restore(image, SaveFlags.RUNNING)
    assert conn.lookup_by_name("psave").state()[0] == DomainState.RUNNING


def test_restore_refuses_garbage(env, tmp_path):
    conn = env.open()
    bad = tmp_path / "bad.img"
    bad.write_bytes(b"not a save image" * 100)
    with h.refused(ErrorCode.INVALID_ARG):
        conn.restore(str(bad))
    with h.refused(ErrorCode.INVALID_ARG):
        conn.restore("relative.img")


def test_managed_save_and_start_restores(env):
    conn = env.open()
    dom = conn.define_xml(env.xml("msave"))
    dom.create()
    serial = env.serial("msave")
    h.wait_heartbeat(serial, 3)
    dom.managed_save()
    assert dom.has_managed_save() and dom.state() == (DomainState.SHUTOFF, ShutoffReason.SAVED)
    saved = h.heartbeat(serial)
    # the flag survives a reconnect
    conn.close()
    conn = env.open()
    dom = conn.lookup_by_name("msave")
    assert dom.has_managed_save()
    with h.refused(ErrorCode.OPERATION_INVALID):
        dom.undefine()
    dom.create()
    assert dom.is_active() and not dom.has_managed_save()
    assert h.wait_heartbeat(serial, saved) <= saved + 5
    assert h.boots(serial) == 1
    dom.managed_save()
    dom.managed_save_remove()
    assert not dom.has_managed_save()
    dom.create()
    deadline = time.monotonic() + 10
    while h.boots(serial) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert h.boots(serial) == 2  # no image: a fresh boot


def test_transient_domain_refuses_managed_save(env):
    conn = env.open()
    dom = conn.create_xml(env.xml("tms"))
    with h.refused(ErrorCode.OPERATION_INVALID):
        dom.managed_save()


def test_offline_and_live_snapshots(env):
    conn = env.open()
    disk = h.make_qcow2(env.base / "snap.qcow2")
    dom = conn.define_xml(env.xml("snappy", disks=[{"path": disk}]))
    snap0 = dom.snapshot_create("cold")
    assert snap0.name == "cold" and dom.snapshot_count() == 1 and snap0.is_current()
    assert "cold" in subprocess.run([h.QEMU_IMG, "snapshot", "-l", disk], capture_output=True, text=True).stdout
    assert "<state>shutoff</state>" in snap0.xml_desc()

    dom.create()
    serial = env.serial("snappy")
    h.wait_heartbeat(serial, 3)
    live = dom.snapshot_create("<domainsnapshot><name>warm</name><description>d</description></domainsnapshot>")
    assert "<state>running</state>" in live.xml_desc() and live.parent_name() == "cold"
    at_snapshot = h.heartbeat(serial)
    assert dom.get_job_info().operation == JobOperation.SNAPSHOT
    h.wait_heartbeat(serial, at_snapshot + 5)
    live.revert()
    assert dom.state()[0] == DomainState.RUNNING
    time.sleep(0.3)
    assert h.heartbeat(serial) <= at_snapshot + 5  # went back in time
    with h.refused(ErrorCode.OPERATION_INVALID):
        dom.snapshot_create("warm")

    snap0.revert()  # to the shut-off snapshot: the guest stops
    assert dom.state()[0] == DomainState.SHUTOFF
    live.revert()  # from shut off to a live snapshot: started from its memory
    assert dom.state()[0] == DomainState.RUNNING
    assert h.boots(serial) == 1
    live.delete()
    assert [s.name for s in dom.list_all_snapshots()] == ["cold"]
    dom.destroy()
    snap0.delete()
    assert dom.snapshot_count() == 0
    assert "cold" not in subprocess.run([h.QEMU_IMG, "snapshot", "-l", disk], capture_output=True, text=True).stdout


def test_snapshot_needs_qcow2(env):
    conn = env.open()
    raw = env.base / "raw.img"
    raw.write_bytes(b"\0" * 1024 * 1024)
    dom = conn.define_xml(env.xml("rawdisk", disks=[{"path": str(raw), "format": "raw"}]))
    with pytest.raises(DriverError) as err:
        dom.snapshot_create("s")
    assert err.value.code == ErrorCode.NO_SUPPORT and "qcow2" in err.value.message


def test_create_disk(env):
    conn = env.open()
    path = str(env.base / "new.qcow2")
    assert conn.create_disk(path, 64 * 1024 * 1024) is None
    info = subprocess.run([h.QEMU_IMG, "info", path], capture_output=True, text=True).stdout
    assert "qcow2" in info and "64 MiB" in info
    with h.refused(ErrorCode.OPERATION_INVALID):
        conn.create_disk(path, 1024 * 1024)
    for bad in (("rel.img", 1 << 20, "raw"), (str(env.base / "x.img"), 0, "raw"),
                (str(env.base / "x.img"), 1 << 20, "vmdk"), (str(env.base / "no/x.img"), 1 << 20, "raw")):
        with h.refused(ErrorCode.INVALID_ARG):
            conn.create_disk(*bad)
    raw = str(env.base / "pre.raw")
    job_id = conn.create_disk(raw, 32 * 1024 * 1024, "raw", PREALLOCATE | JobFlags.ASYNC)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        jobs = [j for j in conn.list_all_jobs() if j.id == job_id]
        if jobs and jobs[0].finished:
            break
        time.sleep(0.02)
    assert jobs[0].state == JobState.COMPLETED and jobs[0].operation == JobOperation.DISK_CREATE
    assert os.stat(raw).st_blocks * 512 >= 32 * 1024 * 1024


def test_backup_equals_source(env):
    conn = env.open()
    disk = h.make_qcow2(env.base / "data.qcow2", size_mib=64, fill_mib=48)
    dom = conn.define_xml(env.xml("bk", disks=[{"path": disk}]))
    dom.create()
    target = str(env.base / "backup.qcow2")
    job_id = dom.backup_begin(h.backup_xml(target))
    assert job_id > 0 and "backup.qcow2" in dom.backup_get_xml_desc(job_id)
    info = _wait_job(dom, job_id)
    assert info.state == JobState.COMPLETED, info.error
    assert info.operation == JobOperation.BACKUP and info.total == 64 * 1024 * 1024 and info.percent == 100
    cmp = subprocess.run([h.QEMU_IMG, "compare", "-U", disk, target], capture_output=True, text=True)
    assert cmp.returncode == 0, cmp.stdout + cmp.stderr
    # the guest kept running throughout
    assert dom.state()[0] == DomainState.RUNNING
    with pytest.raises(DriverError) as err:
        dom.backup_begin(h.backup_xml(target))
    assert err.value.code == ErrorCode.OPERATION_INVALID  # target exists


def test_backup_cancel_leaves_nothing(env, monkeypatch):
    h.throttle_backups(monkeypatch, 64 * 1024 * 1024)  # slow enough to be caught half-way
    conn = env.open()
    disk = h.make_qcow2(env.base / "big.qcow2", size_mib=512, fill_mib=512)
    dom = conn.define_xml(env.xml("bkc", disks=[{"path": disk}]))
    dom.create()
    target = env.base / "cancelled.qcow2"
    job_id = dom.backup_begin(h.backup_xml(str(target)))
    deadline = time.monotonic() + 20
    while dom.get_job_info(job_id).processed == 0 and time.monotonic() < deadline:
        time.sleep(0.002)
    with pytest.raises(DriverError) as err:
        dom.suspend()  # the busy rule names the job
    assert err.value.code == ErrorCode.OPERATION_INVALID and str(job_id) in err.value.message
    dom.abort_job()
    info = _wait_job(dom, job_id)
    assert info.state == JobState.CANCELLED, info
    assert 0 < info.processed < info.total
    assert not target.exists()
    assert dom.state()[0] == DomainState.RUNNING
    with h.refused(ErrorCode.OPERATION_INVALID):
        dom.abort_job()


def test_backup_of_inactive_domain_refused(env):
    conn = env.open()
    disk = h.make_qcow2(env.base / "d.qcow2")
    dom = conn.define_xml(env.xml("bki", disks=[{"path": disk}]))
    with h.refused(ErrorCode.OPERATION_INVALID):
        dom.backup_begin(h.backup_xml(str(env.base / "t.qcow2")))


@pytest.mark.parametrize("ending", ["finish", "abort"])
def test_backup_of_a_dead_app_is_taken_over_on_reattach(env, ending):
    """The app dies mid-backup; the next connection takes the job over: it completes, or aborts cleanly."""
    import signal
    import sys
    import textwrap
    disk = h.make_qcow2(env.base / "orphan.qcow2", size_mib=256, fill_mib=256)
    target = env.base / "orphan-backup.qcow2"
    script = textwrap.dedent(f"""
        import sys, time
        import drivers
        from drivers.qemu import backup
        copy = backup._with_perf  # QEMU's copy starts inside backup_begin: throttled from its first byte
        backup._with_perf = lambda action: action["data"].update(speed=8 << 20) or copy(action)
        conn = drivers.open({env.uri()!r})
        dom = conn.define_xml({env.xml("orphan", disks=[{"path": disk}])!r})
        dom.create()
        job = dom.backup_begin({h.backup_xml(str(target))!r})
        while dom.get_job_info(job).processed == 0:
            time.sleep(0.01)
        print("copying", flush=True)
        time.sleep(60)
    """)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=repo,
                            env={**os.environ, "PYTHONPATH": repo})
    try:
        assert proc.stdout.readline().strip() == "copying"
        assert not target.exists() and h.part_files(target), "the copy is written under a temporary name"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    conn = env.open()
    dom = conn.lookup_by_name("orphan")
    assert dom.state()[0] == DomainState.RUNNING
    info = dom.get_job_info()
    assert info.operation == JobOperation.BACKUP and info.state == JobState.RUNNING
    assert str(target) in dom.backup_get_xml_desc(info.id)
    if ending == "abort":
        dom.abort_job()
        assert _wait_job(dom, info.id).state == JobState.CANCELLED
        assert not target.exists() and not h.part_files(target)
        return
    dom.job_set_speed(0, info.id)  # unthrottle: let it finish
    done = _wait_job(dom, info.id)
    assert done.state == JobState.COMPLETED, done.error
    assert not h.part_files(target)
    cmp = subprocess.run([h.QEMU_IMG, "compare", "-U", disk, str(target)], capture_output=True, text=True)
    assert cmp.returncode == 0, cmp.stdout + cmp.stderr


def test_closing_the_last_connection_leaves_a_backup_to_qemu(env, monkeypatch):
    """Like the VMs, a backup goes on when the app closes; the next connection takes it over, and it completes."""
    h.throttle_backups(monkeypatch, 8 * 1024 * 1024)
    conn = env.open()
    disk = h.make_qcow2(env.base / "cl.qcow2", size_mib=256, fill_mib=256)
    dom = conn.define_xml(env.xml("closer", disks=[{"path": disk}]))
    dom.create()
    target = env.base / "cl-backup.qcow2"
    job = dom.backup_begin(h.backup_xml(str(target)))
    while dom.get_job_info(job).processed == 0:
        time.sleep(0.01)
    conn.close()
    assert not target.exists() and h.part_files(target)
    conn = env.open()
    dom = conn.lookup_by_name("closer")
    assert dom.state()[0] == DomainState.RUNNING
    info = dom.get_job_info()
    assert info.operation == JobOperation.BACKUP and info.state == JobState.RUNNING
    conn.close()  # opened and at once closed again: still not cancelled
    conn = env.open()
    dom = conn.lookup_by_name("closer")
    info = dom.get_job_info()
    assert info.operation == JobOperation.BACKUP and info.state == JobState.RUNNING
    dom.job_set_speed(0, info.id)
    done = _wait_job(dom, info.id)
    assert done.state == JobState.COMPLETED, done.error
    assert not h.part_files(target)
    cmp = subprocess.run([h.QEMU_IMG, "compare", "-U", disk, str(target)], capture_output=True, text=True)
    assert cmp.returncode == 0, cmp.stdout + cmp.stderr
