"""The job panel on real simulated jobs: progress, cancel, final figures, migration, notices."""
from __future__ import annotations

import os

from PySide6.QtWidgets import QProgressBar, QToolButton

from drivers import DomainState, JobOperation, JobState, backupcatalog
from vmgui.actions.requests import Backup, Migrate, Save
from vmgui.models.jobs import JobCol
from vmgui.views import mainwindow
from vmgui.views.dialogs.migrate import MigrateDialog
from vmgui.views.jobpanel import widget_suffixes


def key_of(window, uri: str, name: str):
    return uri, window.session.bridge.connection(uri).lookup_by_name(name).uuid


def only_job(window, uri: str, operation: JobOperation):
    rows = [r for r in window.session.jobs.rows() if r.key[0] == uri and r.info.operation == operation]
    return rows[0] if len(rows) == 1 else None


def test_backup_shows_progress_and_can_be_cancelled(open_window, node_uri, tmp_path, qtbot):
    slow = f"{node_uri}?rate=64"  # 1 GiB per disk at 64 MiB/s: long enough to watch and cancel
    window = open_window(slow)
    folder = tmp_path / "backups"
    folder.mkdir()
    window.commands.run(Backup(folder=str(folder)), [key_of(window, slow, "db01"), key_of(window, slow, "web01")])
    qtbot.waitUntil(lambda: len(window.session.jobs.rows()) == 2)
    assert not any(m.level == "error" for m in window.session.messages.messages())
    db01 = next(r for r in window.session.jobs.rows() if r.info.domain == "db01")
    job_id = db01.key[1]
    bar = window.findChild(QProgressBar, f"jobProgress_{job_id}")
    cancel = window.findChild(QToolButton, f"cancelJob_{job_id}")
    assert bar is not None and cancel is not None and cancel.isVisibleTo(window)
    qtbot.waitUntil(lambda: bar.value() >= 1, timeout=10000)
    model = window.session.jobs
    row = model.find(db01.key)
    assert model.index(row, JobCol.OPERATION).data() == "backup"
    qtbot.waitUntil(lambda: model.index(row, JobCol.RATE).data() != "—")
    assert "/" in model.index(row, JobCol.DONE).data()  # processed / total
    cancel.click()
    qtbot.waitUntil(lambda: model.row_at(row).info.state is JobState.CANCELLED, timeout=5000)
    qtbot.waitUntil(lambda: model.index(row, JobCol.STATE).data() == "cancelled")
    assert not cancel.isEnabled() and cancel.icon().isNull()  # nothing left to cancel
    assert model.row_at(row).info.processed > 0  # final figures stay
    assert not any("db01" in p.name for p in folder.iterdir())  # a cancelled backup leaves no file
    other = next(r for r in model.rows() if r.info.domain == "web01")
    window.session.cancel_job(*other.key)
    qtbot.waitUntil(lambda: all(r.info.finished for r in model.rows()), timeout=5000)
    window.job_panel.clear_button.click()
    assert model.rowCount() == 0 and window.findChild(QProgressBar, f"jobProgress_{job_id}") is None


def test_save_runs_as_a_job_and_keeps_its_final_figures(open_window, node_uri, qtbot, monkeypatch):
    fast = f"{node_uri}?rate=4096"
    window = open_window(fast)
    monkeypatch.setattr(mainwindow, "LONG_JOB_S", 0.0)
    monkeypatch.setattr(window, "isActiveWindow", lambda: False)
    window.commands.run(Save(), [key_of(window, fast, "test")])
    qtbot.waitUntil(lambda: only_job(window, fast, JobOperation.SAVE) is not None
                    and only_job(window, fast, JobOperation.SAVE).info.state is JobState.COMPLETED, timeout=10000)
    row = only_job(window, fast, JobOperation.SAVE)
    bar = window.findChild(QProgressBar, f"jobProgress_{row.key[1]}")
    assert bar.value() == 100 and "completed" in bar.format()
    assert window.session.bridge.connection(fast).lookup_by_name("test").has_managed_save()
    qtbot.waitUntil(lambda: any("save of test finished" in n for n in window.notices))


def test_migration_progress_details_and_name_collisions(open_window, node_uri, make_node, qtbot):
    src = f"{node_uri}?rate=1024"
    dest = make_node(2)
    window = open_window(src, dest)
    window.commands.run(Migrate(dest, flags=1 | 8), [key_of(window, src, "test")])  # LIVE|PERSIST_DEST
    qtbot.waitUntil(lambda: only_job(window, src, JobOperation.MIGRATION_OUT) is not None)
    out = only_job(window, src, JobOperation.MIGRATION_OUT)
    qtbot.waitUntil(lambda: "left" in out.texts[JobCol.DETAILS] and "pass" in out.texts[JobCol.DETAILS])
    qtbot.waitUntil(lambda: only_job(window, dest, JobOperation.MIGRATION_IN) is not None)
    incoming = only_job(window, dest, JobOperation.MIGRATION_IN)
    assert incoming.key[1] == out.key[1] == 1  # both hosts numbered their first job 1
    qtbot.waitUntil(lambda: out.info.state is JobState.COMPLETED, timeout=15000)
    dest_conn = window.session.bridge.connection(dest)
    assert dest_conn.lookup_by_name("test").state()[0] == DomainState.RUNNING
    model = window.table.model()
    qtbot.waitUntil(lambda: (dest, dest_conn.lookup_by_name("test").uuid) in model.visible_keys())
    # the first connection's job keeps the plain name, the second's gets its connection number
    assert window.findChild(QProgressBar, "jobProgress_1") is window.job_panel.bar(out.key)
    assert window.findChild(QProgressBar, "jobProgress_1_2") is window.job_panel.bar(incoming.key)
    assert window.findChild(QToolButton, "cancelJob_1_2") is window.job_panel.cancel_button(incoming.key)


def test_only_jobs_the_driver_can_abort_offer_a_cancel():
    from drivers import JobInfo, JobType
    from vmgui.models.jobs import cancel_refusal

    def job(op: JobOperation, state: JobState = JobState.RUNNING) -> JobInfo:
        return JobInfo(3, "web01", op, JobType.UNBOUNDED, state, 0, 1, None, 0, None, None, None)
    assert cancel_refusal(job(JobOperation.MIGRATION_OUT)) is None
    assert cancel_refusal(job(JobOperation.BACKUP)) is None
    why = cancel_refusal(job(JobOperation.MIGRATION_IN))
    assert why is not None and "cancel the outgoing migration of web01 there" in why
    assert "already ended" in cancel_refusal(job(JobOperation.BACKUP, JobState.COMPLETED))


def test_migration_figures_read_in_order_and_a_failure_shows_its_error():
    from drivers import JobInfo, JobType
    from vmgui.models.jobs import details_text

    def job(details: tuple, state: JobState = JobState.RUNNING, error: str | None = None) -> JobInfo:
        return JobInfo(3, "web01", JobOperation.MIGRATION_OUT, JobType.BOUNDED, state, 0, 1, None, 0, None, None,
                       None, error, details)
    figures = (("expected_downtime_ms", 12.4), ("dirty_rate", 2 * 1024 * 1024), ("iteration", 3),
               ("remaining_bytes", 512 * 1024 * 1024), ("xbzrle_cache_miss", 7))
    assert details_text(job(figures)) == "pass 3 · 512 MiB left · dirtying 2.0 MiB/s · downtime ≈ 12 ms · " \
                                         "xbzrle cache miss 7"
    assert details_text(job(())) == ""
    assert details_text(job((("iteration", 2), ("paused_copy", 1.0)))) == \
        "pass 2 · copied paused (a live copy would lose guest writes here)"
    assert details_text(job(figures, JobState.FAILED, "connection lost")) == "connection lost"


def test_a_backups_note_on_its_freeze_is_in_the_details():
    from drivers import JobInfo, JobType
    from vmgui.models.jobs import details_text

    info = JobInfo(4, "web01", JobOperation.BACKUP, JobType.BOUNDED, JobState.COMPLETED, 0, 1, None, 1, 1, None,
                   100.0, note="guest file systems frozen for the point in time (1)")
    assert details_text(info) == "guest file systems frozen for the point in time (1)"


def test_widget_names_of_colliding_job_ids():
    ordinal = {"a": 1, "b": 2, "c": 3}.__getitem__
    assert widget_suffixes([("c", 1), ("b", 1), ("a", 2)], ordinal) == {("b", 1): "", ("c", 1): "_3",
                                                                        ("a", 2): ""}
    assert widget_suffixes([("b", 4), ("a", 4)], ordinal) == {("a", 4): "", ("b", 4): "_2"}


def select(window, uri: str, name: str) -> None:
    window.table.clearSelection()
    assert window.table.select_key(key_of(window, uri, name))
    window.refresh_selection_state()


def test_backup_and_migrate_through_their_dialogs(open_window, node_uri, make_node, tmp_path, qtbot):
    from PySide6.QtGui import QAction
    src = f"{node_uri}?rate=2048"
    dest = make_node(1)
    window = open_window(src, dest)
    select(window, src, "web01")
    window.findChild(QAction, "actionBackup").trigger()
    qtbot.waitUntil(lambda: window.commands.last_dialog is not None
                    and window.commands.last_dialog.objectName() == "backupDialog")
    dialog = window.commands.last_dialog
    dialog.folder.setText(str(tmp_path))
    qtbot.waitUntil(dialog.ok.isEnabled)  # once a worker has looked at the folder and the target file
    dialog.ok.click()
    qtbot.waitUntil(lambda: only_job(window, src, JobOperation.BACKUP) is not None
                    and only_job(window, src, JobOperation.BACKUP).info.state is JobState.COMPLETED, timeout=10000)
    [made] = backupcatalog.find([str(tmp_path)])  # a folder of its own, with a manifest: in the catalog
    assert made.domain_name == "web01" and [image.target for image in made.images] == ["vda"]
    assert os.path.dirname(made.folder) == str(tmp_path) and os.path.basename(made.folder).startswith("web01-")
    window.findChild(QAction, "actionBackups").trigger()  # Domain ▸ Backups lists it, in the folder just used
    qtbot.waitUntil(lambda: window.commands.last_dialog.objectName() == "backupsDialog"
                    and window.commands.last_dialog.list.topLevelItemCount() == 1)
    window.commands.last_dialog.reject()
    select(window, src, "web01")
    migrate = window.findChild(QAction, "actionMigrate")
    qtbot.waitUntil(migrate.isEnabled)
    migrate.trigger()
    dialog = window.commands.last_dialog
    assert isinstance(dialog, MigrateDialog) and dialog.dest.currentText() == dest
    qtbot.waitUntil(dialog.start.isEnabled)  # Start waits for the compatibility check
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: only_job(window, src, JobOperation.MIGRATION_OUT) is not None
                    and only_job(window, src, JobOperation.MIGRATION_OUT).info.state is JobState.COMPLETED,
                    timeout=15000)
    dest_conn = window.session.bridge.connection(dest)
    assert dest_conn.lookup_by_name("web01").is_persistent()  # "keep a persistent definition" was on
