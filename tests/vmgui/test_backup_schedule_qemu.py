"""Scheduled backups of a running real Linux guest on ``qemu:///embed``, in the real window.

The guest writes synced disk records while the schedule's backup job runs; the
backup is catalogued, verifies, and holds every record the guest had synced when
the job started, none torn. The next day's run builds an incremental on it, which
restores with every record synced before it started. The private-root fixtures (``env``, ``linux_guest``)
are tests/e2e/conftest.py's (borrowed_fixtures).
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from borrowed_fixtures import borrow
from test_window import select

from drivers import JobOperation, JobState
from drivers import backupcatalog as catalog
from drivers.domxml import DomainXML
from vmgui.flows.backupschedule import BackupScheduler
from vmgui.models.backupschedule import Schedule, ScheduleStore

_e2e = borrow("e2e")  # also puts tests/e2e on sys.path
env, guest_kernel, linux_guest = _e2e.env, _e2e.guest_kernel, _e2e.linux_guest
import e2e_helpers as h  # noqa: E402
from linuxguest.records import read_records  # noqa: E402

pytestmark = [pytest.mark.qemu,
              pytest.mark.skipif(not (h.QEMU and h.QEMU_IMG), reason="qemu-system-x86_64 / qemu-img are not installed")]
UTC = ZoneInfo("UTC")


def _daily_backups_of_a_writing_guest(env, open_window, tmp_path, clock):
    """A running Linux guest writing disk records ("lin", a qcow2 disk) in the window, with a daily
    schedule at 02:00 set a day before ``clock()``: (connection, serial, window, key, folder, scheduler)."""
    disk = h.make_qcow2(tmp_path / "rec.qcow2", 64)
    conn = env.open()
    dom = conn.define_xml(env.linux_xml("lin", "disk", disks=[{"path": disk}]))
    dom.create()
    serial = env.guest("lin")
    serial.wait_for(b"VMGUI READY", timeout=90)
    window = open_window(env.uri())
    select(window, "lin")
    key = window.table.selected_keys()[0]
    folder = tmp_path / "backups"
    folder.mkdir()
    store = ScheduleStore(str(tmp_path / "schedules.json"))
    store.put(key[0], key[1], Schedule("daily", 2, 0, folder=str(folder), since=clock() - 86400))
    scheduler = BackupScheduler(window.session, store, window.announce_now, clock=clock, tz=UTC,
                                interval_s=3600, parent=window)
    return conn, serial, window, key, folder, scheduler


@pytest.mark.slow
def test_a_due_schedule_backs_up_a_running_linux_guest_that_keeps_writing(env, linux_guest, open_window, qtbot,
                                                                         tmp_path):
    now = datetime(2026, 12, 7, 3, 0, tzinfo=UTC).timestamp()
    conn, serial, window, key, folder, scheduler = _daily_backups_of_a_writing_guest(env, open_window, tmp_path,
                                                                                   lambda: now)
    synced = serial.wait_disk_record(5)
    with qtbot.waitSignal(scheduler.started, timeout=30000):
        scheduler.start()

    def backups():
        return [r.info for r in window.session.jobs.rows() if r.info.operation is JobOperation.BACKUP]
    qtbot.waitUntil(lambda: [j.finished for j in backups()] == [True], timeout=120000)
    [job] = backups()
    assert job.state is JobState.COMPLETED, job.error
    [backup] = catalog.find([str(folder)], key[1])
    assert backup.folder == str(folder / "lin-20261207-030000")
    assert window.notices[-1] == f"The scheduled backup of lin finished: {backup.folder}."
    assert catalog.verify(backup).ok
    found = read_records(backup.path(backup.images[0]))
    assert found.count >= synced + 1 and not found.torn and not found.after_gap, found
    assert serial.last_disk_record() > synced  # the guest wrote on meanwhile
    assert not serial.kernel_trouble()


@pytest.mark.slow
def test_the_next_scheduled_run_after_a_full_one_is_an_incremental_that_restores(env, linux_guest, open_window,
                                                                               qtbot, tmp_path):
    now = [datetime(2026, 12, 7, 3, 0, tzinfo=UTC).timestamp()]
    conn, serial, window, key, folder, scheduler = _daily_backups_of_a_writing_guest(env, open_window, tmp_path,
                                                                                   lambda: now[0])

    def completed() -> list[JobState]:
        return [r.info.state for r in window.session.jobs.rows() if r.info.operation is JobOperation.BACKUP]
    serial.wait_disk_record(3, timeout=120)
    with qtbot.waitSignal(scheduler.started, timeout=30000):
        scheduler.start()
    qtbot.waitUntil(lambda: completed() == [JobState.COMPLETED], timeout=120000)
    [full] = catalog.find([str(folder)], key[1])
    assert (full.kind, full.checkpoint) == ("full", "backup-20261207-030000")

    now[0] += 86400
    # the guest writes on: the next run copies what changed since the first one's checkpoint
    synced = serial.wait_disk_record(read_records(full.path(full.images[0])).count + 5, timeout=120)
    with qtbot.waitSignal(scheduler.started, timeout=30000):
        scheduler.check()
    qtbot.waitUntil(lambda: completed() == [JobState.COMPLETED] * 2, timeout=120000)
    incremental = catalog.read(str(folder / "lin-20261208-030000"))
    assert (incremental.kind, incremental.parent) == ("incremental", full.id)
    assert incremental.images[0].bytes < full.images[0].bytes  # the changed clusters only
    assert catalog.verify(incremental).ok
    conn.backup_restore(incremental.folder, "lin-restored", str(tmp_path / "restored"))
    restored = conn.lookup_by_name("lin-restored")
    [path] = [d.source for d in DomainXML.parse(restored.xml_desc()).disks() if d.device == "disk"]
    found = read_records(path)
    assert found.count >= synced + 1 and not found.torn and not found.after_gap, found
    assert not serial.kernel_trouble()
