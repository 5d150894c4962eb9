"""The snapshot tree dialog on a private host: tree shape, create, revert and delete (ASYNC jobs the tree follows)."""
from __future__ import annotations

import time

from nodegen import node_xml
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QMessageBox,
    QPushButton,
    QTableView,
    QTreeWidget,
    QTreeWidgetItem,
)
from test_window import select

from drivers import JobInfo, JobOperation, JobState, JobType
from vmgui.models.jobs import JobCol
from vmgui.views.dialogs.snapshots import CURRENT, NewSnapshotDialog, SnapshotTreeDialog

FIND = Qt.MatchFlag.MatchRecursive | Qt.MatchFlag.MatchContains


def shape(tree: QTreeWidget) -> dict[str, str | None]:
    """name shown -> the name shown of its parent item."""
    result: dict[str, str | None] = {}

    def walk(item: QTreeWidgetItem, parent: str | None) -> None:
        result[item.text(0)] = parent
        for i in range(item.childCount()):
            walk(item.child(i), item.text(0))
    for i in range(tree.topLevelItemCount()):
        walk(tree.topLevelItem(i), None)
    return result


def choose(dialog: SnapshotTreeDialog, name: str) -> None:
    dialog.tree.clearSelection()
    for item in dialog.tree.findItems(name, FIND):  # MatchRecursive | MatchContains
        if item.data(0, Qt.ItemDataRole.UserRole) == name:
            item.setSelected(True)


def revert(dialog: SnapshotTreeDialog, answer: str = "Revert") -> QMessageBox:
    """Press Revert and answer the confirmation (it discards the current state)."""
    dialog.findChild(QPushButton, "snapshotRevert").click()
    box = dialog.last_dialog
    assert isinstance(box, QMessageBox) and box.objectName() == "confirm_revert_snapshot"
    next(b for b in box.buttons() if b.text() == answer).click()
    return box


def open_tree(open_window, uri: str, name: str, qtbot):
    """The window on ``uri`` and the snapshot tree dialog of ``name``, once its snapshots are listed."""
    window = open_window(uri)
    select(window, name)
    dialog = window.commands.open_snapshots(window.table.selected_keys()[0])
    qtbot.waitUntil(lambda: dialog.tree.topLevelItemCount() >= 1, timeout=5000)
    return window, dialog


def test_tree_create_revert_delete(open_window, node_uri, qtbot):
    uri = f"{node_uri}?rate=8192"
    window = open_window(uri)
    select(window, "web01")
    action = window.findChild(QAction, "actionSnapshots")
    assert action.isEnabled()
    action.trigger()
    dialog = window.commands.last_dialog
    assert isinstance(dialog, SnapshotTreeDialog)
    tree = dialog.findChild(QTreeWidget, "snapshotTree")
    qtbot.waitUntil(lambda: shape(tree) == {"before-upgrade": None, "after-upgrade" + CURRENT: "before-upgrade"},
                    timeout=5000)
    assert not dialog.findChild(QPushButton, "snapshotRevert").isEnabled()  # nothing chosen yet

    dialog.findChild(QPushButton, "snapshotCreate").click()
    create = dialog.last_dialog
    assert isinstance(create, NewSnapshotDialog)
    create.name.setText("nightly")
    create.description.setPlainText("before <the> weekend & more")
    create.buttons.accepted.emit()
    qtbot.waitUntil(lambda: "Running as job" in dialog.status.text(), timeout=5000)
    qtbot.waitUntil(lambda: shape(tree).get("nightly" + CURRENT) == "after-upgrade", timeout=5000)
    assert window.session.jobs.rowCount() >= 1  # the live snapshot ran as a job
    qtbot.waitUntil(lambda: "now has 3 snapshots" in dialog.status.text(), timeout=5000)
    item = tree.findItems("nightly" + CURRENT, FIND)[0]
    assert item.text(3) == "before <the> weekend & more" and item.text(2) == "running"

    choose(dialog, "before-upgrade")
    box = revert(dialog, "Cancel")
    assert "discarded" in box.text() and "before-upgrade" in box.text()
    qtbot.wait(200)
    assert "nightly" + CURRENT in shape(tree) and not job_rows(window, JobOperation.SNAPSHOT_REVERT)
    revert(dialog)
    qtbot.waitUntil(lambda: "before-upgrade" + CURRENT in shape(tree), timeout=5000)

    choose(dialog, "after-upgrade")
    dialog.findChild(QPushButton, "snapshotDelete").click()
    box = dialog.last_dialog
    assert isinstance(box, QMessageBox) and box.objectName() == "confirm_delete_snapshot"
    next(b for b in box.buttons() if b.text() == "Delete").click()
    qtbot.waitUntil(lambda: shape(tree) == {"before-upgrade" + CURRENT: None,
                                            "nightly": "before-upgrade" + CURRENT}, timeout=5000)
    dialog.close()


def test_a_failure_goes_to_the_message_area(open_window, node_uri, qtbot):
    window, dialog = open_tree(open_window, node_uri, "legacy-app", qtbot)
    dialog.model.create("golden", "")  # exists already
    qtbot.waitUntil(lambda: any("already has a snapshot" in m.full_text() for m in window.session.messages.messages()),
                    timeout=5000)
    qtbot.waitUntil(lambda: "failed" in dialog.status.text(), timeout=5000)
    dialog.close()


def test_offline_snapshot_shuts_the_guest_off_afterwards(open_window, node_uri, qtbot):
    window, dialog = open_tree(open_window, f"{node_uri}?rate=8192", "web01", qtbot)
    key = dialog.model.key
    dialog.findChild(QPushButton, "snapshotCreate").click()
    create = dialog.last_dialog
    assert create.live.isVisible() and create.live.isChecked()  # running: live is the default
    create.name.setText("cold")
    create.offline.setChecked(True)
    create.buttons.accepted.emit()
    qtbot.waitUntil(lambda: "cold" + CURRENT in shape(dialog.tree), timeout=5000)
    qtbot.waitUntil(lambda: not window.session.domains.get(key).rec.active, timeout=5000)
    item = dialog.tree.findItems("cold" + CURRENT, FIND)[0]
    assert item.text(2) == "running"  # the memory was saved while it ran
    dialog.close()


def test_a_shut_off_domain_offers_no_live_mode(open_window, node_uri, qtbot):
    _window, dialog = open_tree(open_window, node_uri, "legacy-app", qtbot)
    dialog.findChild(QPushButton, "snapshotCreate").click()
    create = dialog.last_dialog
    assert isinstance(create, NewSnapshotDialog)
    assert not create.live.isVisible() and not create.offline.isVisible()
    create.reject()
    dialog.close()


def job_rows(window, operation):
    """The job model's rows of one operation."""
    return [row.info for row in window.session.jobs.rows() if row.info.operation is operation]


def test_revert_and_delete_are_jobs_and_the_tree_follows_their_end(open_window, node_uri, qtbot):
    window, dialog = open_tree(open_window, f"{node_uri}?rate=2048", "web01", qtbot)  # 2 GiB load: about 1 s
    tree = dialog.tree
    said: list[str] = []
    dialog.model.status.connect(said.append)
    qtbot.waitUntil(lambda: "after-upgrade" + CURRENT in shape(tree), timeout=5000)

    choose(dialog, "before-upgrade")
    revert(dialog)
    qtbot.waitUntil(lambda: "Running as job" in dialog.status.text(), timeout=5000)
    reverts = job_rows(window, JobOperation.SNAPSHOT_REVERT)
    assert len(reverts) == 1 and reverts[0].domain == "web01"
    job_id = reverts[0].id
    assert f"job {job_id}" in dialog.status.text()
    if not reverts[0].finished:  # the call returned with the job running: the tree has not moved yet
        assert "after-upgrade" + CURRENT in shape(tree)
    qtbot.waitUntil(lambda: "before-upgrade" + CURRENT in shape(tree), timeout=10000)
    assert job_rows(window, JobOperation.SNAPSHOT_REVERT)[0].state is JobState.COMPLETED
    assert f"Snapshot revert job {job_id} finished." in said

    choose(dialog, "after-upgrade")
    dialog.findChild(QPushButton, "snapshotDelete").click()
    next(b for b in dialog.last_dialog.buttons() if b.text() == "Delete").click()
    qtbot.waitUntil(lambda: shape(tree) == {"before-upgrade" + CURRENT: None}, timeout=10000)
    deletes = job_rows(window, JobOperation.SNAPSHOT_DELETE)
    assert len(deletes) == 1 and deletes[0].state is JobState.COMPLETED
    assert f"Snapshot delete job {deletes[0].id} finished." in said
    dialog.close()


def test_the_job_panel_shows_no_bytes_for_a_job_counted_in_steps(open_window, node_uri, qtbot):
    """A snapshot delete moves no data: its row reads a percentage, never bytes or a rate."""
    window, dialog = open_tree(open_window, f"{node_uri}?rate=64", "web01", qtbot)  # about 2 s
    choose(dialog, "after-upgrade")
    dialog.findChild(QPushButton, "snapshotDelete").click()
    next(b for b in dialog.last_dialog.buttons() if b.text() == "Delete").click()
    qtbot.waitUntil(lambda: bool(job_rows(window, JobOperation.SNAPSHOT_DELETE)), timeout=5000)
    view = window.findChild(QTableView, "jobView")
    shown = view.model()

    def cells() -> dict[JobCol, str]:
        row = next(i for i in range(shown.rowCount())
                   if shown.index(i, JobCol.OPERATION).data() == "snapshot delete")
        return {col: shown.index(row, col).data() for col in (JobCol.PROGRESS, JobCol.DONE, JobCol.RATE,
                                                              JobCol.ETA, JobCol.STATE)}
    # its first step under way: a percentage, and no bytes, rate or time left
    qtbot.waitUntil(lambda: cells()[JobCol.PROGRESS] == "0 %" and cells()[JobCol.STATE] == "running", timeout=5000)
    window.session.jobs.tick()
    running = cells()
    assert (running[JobCol.DONE], running[JobCol.RATE], running[JobCol.ETA]) == ("—", "—", "—")
    qtbot.waitUntil(lambda: cells()[JobCol.STATE] == "completed", timeout=10000)
    done = cells()
    assert (done[JobCol.PROGRESS], done[JobCol.DONE], done[JobCol.RATE]) == ("100 %", "—", "—")
    dialog.close()


def test_a_failed_revert_job_is_said_in_the_dialog(open_window, make_node, qtbot):
    damaged = "<domain type='test'><name>broken</name><memory unit='MiB'>lots</memory></domain>"
    xml = node_xml([{"name": "broken", "snapshots": True}]).replace(
        "</test:domainsnapshot>", damaged + "</test:domainsnapshot>")  # its definition cannot be read back
    window, dialog = open_tree(open_window, make_node(xml=xml), "broken", qtbot)
    choose(dialog, "s1")
    revert(dialog)
    qtbot.waitUntil(lambda: "job 1 failed: /domain/memory: expected an integer" in dialog.status.text(),
                    timeout=5000)
    failed = job_rows(window, JobOperation.SNAPSHOT_REVERT)
    assert len(failed) == 1 and failed[0].state is JobState.FAILED
    dialog.close()


def finished_job(job_id: int, operation: JobOperation, uuid: str, name: str) -> JobInfo:
    return JobInfo(id=job_id, domain=name, operation=operation, type=JobType.UNBOUNDED, state=JobState.COMPLETED,
                   started=time.time(), elapsed=0.01, remaining=0.0, processed=0, total=None, rate=None,
                   percent=None, error=None, domain_uuid=uuid)


def test_a_job_that_reaches_the_panel_already_finished_is_followed_too(open_window, node_uri, qtbot):
    """A quick job's start and end can reach the job model in one batch: no jobFinished then."""
    window, dialog = open_tree(open_window, node_uri, "web01", qtbot)
    uri, uuid = dialog.model.key
    said: list[str] = []
    dialog.model.status.connect(said.append)
    window.session.jobs.update(uri, [finished_job(900, JobOperation.SAVE, uuid, "web01"),  # not a snapshot job
                                     finished_job(901, JobOperation.SNAPSHOT_DELETE, "0" * 32, "other")])
    assert said == []
    window.session.jobs.update(uri, [finished_job(902, JobOperation.SNAPSHOT_DELETE, uuid, "web01")])
    assert said == ["Snapshot delete job 902 finished."]
    dialog.close()


def test_the_job_panel_offers_no_cancel_for_a_revert(open_window, node_uri, qtbot):
    window, dialog = open_tree(open_window, f"{node_uri}?rate=1024", "web01", qtbot)  # 2 GiB load: about 2 s
    choose(dialog, "before-upgrade")
    revert(dialog)
    qtbot.waitUntil(lambda: bool(job_rows(window, JobOperation.SNAPSHOT_REVERT)), timeout=5000)
    job_id = job_rows(window, JobOperation.SNAPSHOT_REVERT)[0].id
    qtbot.waitUntil(lambda: window.findChild(QAbstractButton, f"cancelJob_{job_id}") is not None, timeout=5000)
    button = window.findChild(QAbstractButton, f"cancelJob_{job_id}")
    assert not button.isEnabled() and "cannot stop half-way" in button.toolTip()
    qtbot.waitUntil(lambda: "before-upgrade" + CURRENT in shape(dialog.tree), timeout=10000)
    dialog.close()
