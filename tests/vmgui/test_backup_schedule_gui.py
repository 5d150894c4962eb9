"""Scheduled backups in the real window on a private test host: a due schedule starts a normal backup job,
announces its end, prunes by the retention rule, and runs once per due time; the Schedule dialog stores it."""
from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

from PySide6.QtCore import QTime
from PySide6.QtWidgets import QPushButton
from test_backups_dialog import _catalogued
from test_window import select

from drivers import JobOperation, JobState
from drivers import backupcatalog as catalog
from vmgui.flows.backupschedule import BackupScheduler
from vmgui.models.backupschedule import Schedule, ScheduleStore
from vmgui.views.dialogs.backupschedule import ScheduleDialog

BERLIN = ZoneInfo("Europe/Berlin")


def _t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


def _jobs(window, operation):
    return [r.info for r in window.session.jobs.rows() if r.info.operation is operation]


def test_a_due_schedule_backs_up_once_announces_the_end_and_prunes_by_its_rule(open_window, node_uri, qtbot,
                                                                             tmp_path):
    window = open_window(f"{node_uri}?rate=2048")
    select(window, "web01")
    key = window.table.selected_keys()[0]
    folder = tmp_path / "backups"
    old = _catalogued(folder / "web01-old", "web01", key[1], b"an old backup\n")
    now = [_t("2026-12-07T10:00:00")]
    store = ScheduleStore(str(tmp_path / "schedules.json"))
    store.put(key[0], key[1], Schedule("daily", 9, 0, folder=str(folder), keep_last=1,
                                       since=_t("2026-11-30T12:00:00")))  # a week of missed runs
    scheduler = BackupScheduler(window.session, store, window.announce_now, clock=lambda: now[0], tz=BERLIN,
                                interval_s=3600, parent=window)
    with qtbot.waitSignal(scheduler.started, timeout=10000) as started:
        scheduler.start()
    assert started.args == [key[0], "web01"]
    scheduler.check()  # checked again at once: the run is recorded, nothing starts twice
    qtbot.waitUntil(lambda: any(j.finished for j in _jobs(window, JobOperation.BACKUP_PRUNE)), timeout=20000)
    [backup] = _jobs(window, JobOperation.BACKUP)
    assert (backup.domain, backup.state) == ("web01", JobState.COMPLETED)
    [prune] = _jobs(window, JobOperation.BACKUP_PRUNE)
    assert prune.state is JobState.COMPLETED, prune.error
    [kept] = catalog.find([str(folder)], key[1])
    assert kept.folder == str(folder / "web01-20261207-100000") and not os.path.exists(old.folder)
    assert window.notices[-1] == f"The scheduled backup of web01 finished: {kept.folder}."
    assert store.get(*key).last_run == now[0]

    now[0] = _t("2026-12-08T08:59:59")
    scheduler.check()
    qtbot.wait(300)
    assert len(_jobs(window, JobOperation.BACKUP)) == 1
    now[0] = _t("2026-12-08T09:00:00")
    with qtbot.waitSignal(scheduler.started, timeout=10000):
        scheduler.check()
    qtbot.waitUntil(lambda: [j.state for j in _jobs(window, JobOperation.BACKUP_PRUNE)] == [JobState.COMPLETED] * 2,
                    timeout=20000)
    assert [j.state for j in _jobs(window, JobOperation.BACKUP)] == [JobState.COMPLETED] * 2
    assert [b.id for b in catalog.find([str(folder)], key[1])] == ["web01-20261208-090000"]  # keep the newest 1


def test_the_schedule_dialog_stores_a_weekly_schedule_with_its_rule_and_removes_it(open_window, node_uri, qtbot,
                                                                                 tmp_path):
    window = open_window(node_uri)
    select(window, "web01")
    key = window.table.selected_keys()[0]
    dialog = window.commands.open_backups(key, [str(tmp_path / "backups")])
    assert dialog.schedule_status.text() == "web01 is not backed up on a schedule."
    dialog.findChild(QPushButton, "backupSchedule").click()
    ask = dialog.last_dialog
    assert isinstance(ask, ScheduleDialog) and ask.windowTitle() == "Backup schedule of web01"
    assert ask.folder.text() == str(tmp_path / "backups") and not ask.period.isEnabled()
    for widget in (ask.enabled, ask.period, ask.weekday, ask.at, ask.folder, ask.keep_last, ask.keep_days):
        assert widget.accessibleName(), widget.objectName()
    ask.enabled.setChecked(True)
    ask.period.setCurrentIndex(1)
    assert ask.weekday.isEnabled()
    ask.weekday.setCurrentIndex(5)
    ask.at.setTime(QTime(21, 45))
    ask.keep_last.setValue(3)
    ask.folder.setText("relative/folder")
    ask.buttons.accepted.emit()
    assert ask.error.text() == "Choose the folder the backups go into (an absolute path)."
    ask.folder.setText(str(tmp_path / "backups"))
    ask.buttons.accepted.emit()
    stored = window.scheduler.store.get(*key)
    assert (stored.period, stored.weekday, stored.hour, stored.minute, stored.keep_last, stored.keep_days) == \
        ("weekly", 5, 21, 45, 3, None)
    assert stored.since > 0 and stored.last_run is None
    assert ScheduleStore(window.scheduler.store.path).get(*key) == stored
    assert dialog.schedule_status.text() == (f"Scheduled: Every Saturday at 21:45 into {tmp_path / 'backups'}; "
                                             "keep the newest 3.")
    dialog.findChild(QPushButton, "backupSchedule").click()
    again = dialog.last_dialog
    assert again.enabled.isChecked() and again.weekday.currentIndex() == 5 and again.keep_last.value() == 3
    again.enabled.setChecked(False)
    again.buttons.accepted.emit()
    assert window.scheduler.store.get(*key) is None
    assert dialog.schedule_status.text() == "web01 is not backed up on a schedule."


def test_a_vm_shut_off_at_its_time_has_its_disks_copied_as_they_lie(open_window, node_uri, qtbot, tmp_path):
    window = open_window(f"{node_uri}?rate=4096")
    select(window, "backup-store")
    key = window.table.selected_keys()[0]
    folder = tmp_path / "backups"
    folder.mkdir()
    store = ScheduleStore(str(tmp_path / "schedules.json"))
    store.put(key[0], key[1], Schedule("weekly", 1, 30, weekday=0, folder=str(folder), since=_t("2026-11-30T02:00:00")))
    scheduler = BackupScheduler(window.session, store, window.announce_now, clock=lambda: _t("2026-12-07T01:30:00"),
                                tz=BERLIN, interval_s=3600, parent=window)
    with qtbot.waitSignal(scheduler.started, timeout=10000):
        scheduler.start()
    qtbot.waitUntil(lambda: [j.state for j in _jobs(window, JobOperation.BACKUP)] == [JobState.COMPLETED],
                    timeout=20000)
    [backup] = catalog.find([str(folder)], key[1])
    assert backup.id == "backup-store-20261207-013000" and len(backup.images) == 3
    qtbot.waitUntil(lambda: bool(window.notices), timeout=5000)
    assert window.notices[-1] == f"The scheduled backup of backup-store finished: {backup.folder}."


def _messages(window, title: str) -> list[str]:
    return [m.text for m in window.session.messages.messages() if m.title == title]


def test_a_daily_schedule_builds_on_the_last_backup_and_starts_a_new_chain_before_its_rule_drops_the_base(
        open_window, qtbot, tmp_path):
    from drivers.test import DEFAULT_NODE_XML
    node = tmp_path / "node.xml"
    node.write_text(DEFAULT_NODE_XML, encoding="utf-8")
    window = open_window(f"test://{node}?rate=8192")
    select(window, "db01")
    key = window.table.selected_keys()[0]
    folder = tmp_path / "backups"
    folder.mkdir()
    now = [_t("2026-12-07T03:00:00")]
    store = ScheduleStore(str(tmp_path / "schedules.json"))
    store.put(key[0], key[1], Schedule("daily", 2, 0, folder=str(folder), keep_last=3, since=_t("2026-12-06T12:00:00")))
    scheduler = BackupScheduler(window.session, store, window.announce_now, clock=lambda: now[0], tz=BERLIN,
                                interval_s=3600, parent=window)
    taken = []
    for day in range(4):
        now[0] = _t(f"2026-12-{7 + day:02d}T03:00:00")
        with qtbot.waitSignal(scheduler.started, timeout=10000):
            scheduler.start() if day == 0 else scheduler.check()
        qtbot.waitUntil(lambda d=day: len(_messages(window, "Backup of db01 finished")) == d + 1, timeout=20000)
        taken.append(catalog.read(str(folder / f"db01-202612{7 + day:02d}-030000")))
    assert [j.state for j in _jobs(window, JobOperation.BACKUP)] == [JobState.COMPLETED] * 4
    ids = [b.id for b in taken]
    assert [(b.kind, b.parent) for b in taken] == [
        ("full", None), ("incremental", ids[0]), ("incremental", ids[1]),
        ("full", None)]  # an incremental would have left the newest 3 without their full backup
    assert [b.checkpoint for b in taken] == [f"backup-{i.removeprefix('db01-')}" for i in ids]
    reports = _messages(window, "Backup of db01 finished")
    assert reports[0].startswith("Full: there is no earlier backup to build on.\n")
    assert not reports[1].startswith(("Full", "full")) and not reports[2].startswith(("Full", "full"))
    assert reports[3].startswith(f"Full: the rule to keep the newest 3 would remove {ids[0]}, the full backup the "
                                 "incremental ones build on; a new chain starts.\n")
    # the rule then removes the first chain's full backup, merged into its child first, which
    # becomes the full backup its own child builds on
    qtbot.waitUntil(lambda: [j.state for j in _jobs(window, JobOperation.BACKUP_PRUNE)] == [JobState.COMPLETED],
                    timeout=20000)
    kept = catalog.find([str(folder)], key[1])
    assert sorted(b.id for b in kept) == sorted(ids[1:])
    assert {b.id: (b.kind, b.parent) for b in kept}[ids[1]] == ("full", None)
    assert all(catalog.restore_problem(b) is None for b in kept)
    assert all(catalog.verify(b).ok for b in kept)
