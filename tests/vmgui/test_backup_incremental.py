"""Incremental backups in the GUI on a private test host: the Backup dialog's offer, the chain in the Backups dialog.

The first backup into a folder is full and says why; it leaves a checkpoint, so the next one
offers "Incremental (changes since the last backup)" and builds on it. A revert makes the next
backup full, and its report says so. The Backups dialog shows each backup's kind and parent,
and an incremental whose parent is gone as not restorable.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QLabel, QPushButton
from test_backup import open_backup

from drivers import JobOperation, JobState
from drivers import backupcatalog as catalog
from drivers.backupretention import Retention
from drivers.domxml import Disk
from vmgui.models.backup import INCREMENTAL_TEXT, BackupKind, backup_kind, keeps_changes
from vmgui.models.jobs import JOB_HEADERS


def _run_backup(window, uri: str, qtbot, folder: Path, incremental: bool | None):
    """Back up db01 through the dialog into ``folder``; ``incremental``: the offer expected (None: full)."""
    done = sum(1 for r in window.session.jobs.rows() if r.info.operation is JobOperation.BACKUP)
    time.sleep(1.0)  # a backup's folder and checkpoint are named after the second it was planned in
    window.commands.last_dialog = None  # the dialog of the previous backup is gone
    dialog = open_backup(window, uri, "db01", qtbot)
    dialog.folder.setText(str(folder))
    box = dialog.findChild(QCheckBox, "backupIncremental_db01")
    if incremental is None:
        assert box is None
        reason = dialog.findChild(QLabel, "backupKind_db01").text()
    else:
        assert box is not None and box.text() == INCREMENTAL_TEXT and box.isChecked()
        box.setChecked(incremental)
        reason = None
    qtbot.waitUntil(dialog.ok.isEnabled)
    [plan] = dialog.plans()
    assert plan.since == (dialog.kinds["db01"].since if incremental else None)
    [plan] = dialog.plans()
    dialog.ok.click()
    qtbot.waitUntil(lambda: sum(1 for r in window.session.jobs.rows() if r.info.operation is JobOperation.BACKUP
                                and r.info.state is JobState.COMPLETED) == done + 1, timeout=10000)
    return catalog.read(plan.directory), reason


def _report(window, qtbot, count: int) -> str:
    qtbot.waitUntil(lambda: sum(1 for m in window.session.messages.messages()
                                if m.title == "Backup of db01 finished") == count)
    return [m for m in window.session.messages.messages() if m.title == "Backup of db01 finished"][-1].text


def test_the_backup_dialog_offers_incremental_after_a_backup_with_a_checkpoint(open_window, tmp_path, qtbot):
    from drivers.test import DEFAULT_NODE_XML
    node = tmp_path / "node.xml"
    node.write_text(DEFAULT_NODE_XML, encoding="utf-8")
    uri = f"test://{node}?rate=8192"
    window = open_window(uri)
    out = tmp_path / "out"
    out.mkdir()

    first, reason = _run_backup(window, uri, qtbot, out, None)
    assert reason == "Full: there is no earlier backup to build on."
    assert (first.kind, first.parent) == ("full", None) and first.checkpoint
    _report(window, qtbot, 1)

    second, _ = _run_backup(window, uri, qtbot, out, True)
    assert (second.kind, second.parent) == ("incremental", first.id)
    assert not _report(window, qtbot, 2).startswith("full:")

    dom = window.session.bridge.connection(uri).lookup_by_name("db01")
    dom.snapshot_create("before").revert()
    third, _ = _run_backup(window, uri, qtbot, out, True)
    assert (third.kind, third.full_reason) == ("full", "the VM was reverted to snapshot 'before'")
    assert _report(window, qtbot, 3).startswith("full: the VM was reverted to snapshot 'before'\n")
    row = [r for r in window.session.jobs.rows() if r.info.operation is JobOperation.BACKUP][-1]
    assert row.texts[JOB_HEADERS.index("Details")] == "full: the VM was reverted to snapshot 'before'"

    key = window.table.selected_keys()[0]
    dialog = window.commands.open_backups(key, [str(out)])
    qtbot.waitUntil(lambda: dialog.list.topLevelItemCount() == 3, timeout=5000)
    kinds = [dialog.list.topLevelItem(i).text(1) for i in range(3)]  # newest first
    assert kinds == ["Full: the VM was reverted to snapshot 'before'", f"Incremental, after {first.id}", "Full"]
    dialog.close()

    shutil.rmtree(first.folder)  # the incremental's parent is gone
    dialog = window.commands.open_backups(key, [str(out)])
    qtbot.waitUntil(lambda: dialog.list.topLevelItemCount() == 2, timeout=5000)
    item = dialog.list.topLevelItem(1)
    assert item.text(1) == f"Incremental, after {first.id} (not restorable)"
    assert "its parent backup" in item.toolTip(1) and "is missing" in item.toolTip(1)
    item.setSelected(True)
    assert not dialog.findChild(QPushButton, "backupRestoreNew").isEnabled()
    assert not dialog.findChild(QPushButton, "backupRestoreOnto").isEnabled()
    assert dialog.findChild(QPushButton, "backupVerify").isEnabled()  # a verify says what is wrong


def test_the_offer_follows_the_host_the_catalog_and_the_checkpoints():
    assert backup_kind(False, True, [], set()) == BackupKind(False, reason="Full: this host cannot take "
                                                                          "incremental backups.")
    assert backup_kind(True, True, [], set()).reason == "Full: there is no earlier backup to build on."
    old = catalog.Backup("/b/x-1", "x-1", "x", "u", "", "a", "b", (), checkpoint="c1")
    assert backup_kind(True, True, [old], {"c1"}) == BackupKind(True, since="c1")
    assert backup_kind(True, True, [old], set()).reason == "Full: the checkpoint of the last backup (x-1) is gone."
    assert backup_kind(True, False, [old], {"c1"}).since is None
    assert backup_kind(True, True, [old], {"c1"}, qcow2=False) == BackupKind(
        False, reason="Full: only qcow2 disks keep a record of their changes.")
    raw, cdrom = Disk(target="vda", format="raw"), Disk(target="hdc", device="cdrom", format="qcow2")
    assert not keeps_changes([raw, cdrom]) and keeps_changes([raw, Disk(target="vdb", format="qcow2")])


def test_a_schedules_rule_ends_the_chain_before_it_would_remove_the_chains_full_backup():
    day = 86400.0

    def taken(n: int, parent: str | None) -> catalog.Backup:
        return catalog.Backup(f"/b/x-{n}", f"x-{n}", "x", "u", "", catalog.iso_time(n * day), "", (),
                              kind="incremental" if parent else "full", parent=parent, checkpoint=f"c{n}")
    chain = [taken(0, None), taken(1, "x-0"), taken(2, "x-1")]
    names = {"c0", "c1", "c2"}
    # the newest 4 keep x-0 once x-3 is taken; the newest 3 would remove it
    assert backup_kind(True, True, chain, names, retention=Retention(keep_last=4), now=3 * day).since == "c2"
    full = backup_kind(True, True, chain, names, retention=Retention(keep_last=3), now=3 * day)
    assert full == BackupKind(True, reason="Full: the rule to keep the newest 3 would remove x-0, the full backup "
                              "the incremental ones build on; a new chain starts.")
    # by age: x-0 is still in the last 4 days on day 3, not on day 4
    assert backup_kind(True, True, chain, names, retention=Retention(keep_days=4), now=3 * day).since == "c2"
    assert backup_kind(True, True, chain, names, retention=Retention(keep_days=4), now=4 * day).since is None
    # after a new full one, the chain counts from it
    fresh = [*chain, taken(3, None)]
    assert backup_kind(True, True, fresh, names | {"c3"}, retention=Retention(keep_last=3), now=4 * day).since == "c3"
    # no rule, or one that keeps everything: the chain goes on
    assert backup_kind(True, True, chain, names, retention=Retention(), now=30 * day).since == "c2"
    assert backup_kind(True, True, chain, names).since == "c2"
