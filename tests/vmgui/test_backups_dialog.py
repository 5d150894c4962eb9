"""The Backups dialog on a private test host: lists a domain's catalogued backups, verifies, restores, deletes."""
from __future__ import annotations

import os

from backupchain import chain, restored, same
from PySide6.QtWidgets import QFileDialog, QMessageBox, QPushButton
from test_window import select

from drivers import JobOperation, JobState
from drivers import backupcatalog as catalog
from vmgui.models.format import bytes_text
from vmgui.views.dialogs.backups import BackupsDialog, RestoreNameDialog


def _domain_xml(name: str, disk: str) -> str:
    return (f"<domain type='test'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os><devices>"
            f"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{disk}'/>"
            "<target dev='hda' bus='ide'/></disk></devices></domain>")


def _catalogued(folder, name: str, uuid: str, data: bytes) -> catalog.Backup:
    folder.mkdir(parents=True)
    image = folder / "hda.img"
    image.write_bytes(data)
    written = [catalog.Written("hda", str(image), str(image), "raw")]
    return catalog.write_manifest(str(folder), name, uuid, _domain_xml(name, f"/nowhere/{name}.img"), 0.0,
                                  catalog.describe(written))


def _press(dialog: BackupsDialog, name: str) -> None:
    button = dialog.findChild(QPushButton, name)
    assert button.isEnabled(), name
    button.click()


def _answer(dialog: BackupsDialog, object_name: str, verb: str) -> None:
    box = dialog.last_dialog
    assert isinstance(box, QMessageBox) and box.objectName() == object_name
    next(b for b in box.buttons() if b.text() == verb).click()


def test_the_backups_dialog_lists_verifies_restores_and_deletes(open_window, node_uri, qtbot, tmp_path,
                                                                 monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the host's image folder, for the restore
    uri = f"{node_uri}?rate=8192"
    window = open_window(uri)
    select(window, "web01")
    key = window.table.selected_keys()[0]
    backup = _catalogued(tmp_path / "backups" / "web01-1", "web01", key[1], b"web01 disk\n" * 1000)
    (tmp_path / "backups" / "web01-half").mkdir()  # no manifest: never listed
    dialog = window.commands.open_backups(key, [str(tmp_path / "backups")])
    assert dialog.windowTitle() == "Backups of web01"
    qtbot.waitUntil(lambda: dialog.list.topLevelItemCount() == 1, timeout=5000)
    item = dialog.list.topLevelItem(0)
    assert [item.text(c) for c in range(5)] == ["1970-01-01 00:00:00 UTC", "Full", bytes_text(backup.size),
                                                "Not verified", backup.folder]
    assert not dialog.findChild(QPushButton, "backupVerify").isEnabled()  # nothing chosen yet
    item.setSelected(True)

    _press(dialog, "backupVerify")
    qtbot.waitUntil(lambda: dialog.list.topLevelItem(0).text(3).startswith("OK ("), timeout=10000)
    assert catalog.read(backup.folder).verification.ok

    _press(dialog, "backupRestoreNew")
    ask = dialog.last_dialog
    assert isinstance(ask, RestoreNameDialog) and ask.name.text() == "web01-restored"
    ask.name.setText("web01")
    ask.buttons.accepted.emit()
    assert ask.error.text() == "A domain named web01 already exists."
    ask.name.setText("web01-copy")
    ask.buttons.accepted.emit()
    qtbot.waitUntil(lambda: "web01-copy" in window.session.domains.names(uri), timeout=10000)
    restored = tmp_path / "data" / "vmgui" / "images" / "web01-copy-hda.raw"
    assert restored.read_bytes() == b"web01 disk\n" * 1000
    jobs = [r.info for r in window.session.jobs.rows() if r.info.operation is JobOperation.BACKUP_RESTORE]
    assert [(j.domain, j.state) for j in jobs] == [("web01-copy", JobState.COMPLETED)]

    dialog.list.topLevelItem(0).setSelected(True)
    _press(dialog, "backupRestoreOnto")
    _answer(dialog, "confirm_restore_backup", "Restore")
    qtbot.waitUntil(lambda: "is not shut off" in dialog.status.text(), timeout=5000)
    assert dialog.status.text() == "'web01' is not shut off; shut it down before restoring a backup onto its disks"

    dialog.list.topLevelItem(0).setSelected(True)
    _press(dialog, "backupDelete")
    _answer(dialog, "confirm_delete_backup", "Delete")
    qtbot.waitUntil(lambda: dialog.list.topLevelItemCount() == 0, timeout=5000)
    assert not os.path.exists(backup.folder)
    assert dialog.status.text().startswith("No finished backups of web01 in")

    other = _catalogued(tmp_path / "usb" / "elsewhere-7", "elsewhere", "0f0e0d0c-0b0a-4908-8706-050403020100",
                        b"x" * 512)
    _press(dialog, "backupOpenFolder")
    chooser = dialog.last_dialog
    assert isinstance(chooser, QFileDialog)
    chooser.fileSelected.emit(str(tmp_path / "usb"))  # what choosing the folder in the file dialog sends
    chooser.reject()
    qtbot.waitUntil(lambda: dialog.list.topLevelItemCount() == 1, timeout=5000)
    assert dialog.list.topLevelItem(0).text(4) == other.folder
    dialog.list.topLevelItem(0).setSelected(True)
    assert not dialog.findChild(QPushButton, "backupRestoreOnto").isEnabled()  # another domain's backup
    assert dialog.findChild(QPushButton, "backupRestoreNew").isEnabled()


def test_deleting_a_backup_an_incremental_depends_on_merges_it_into_that_one_first(open_window, node_uri, qtbot,
                                                                                  tmp_path):
    window = open_window(node_uri)
    select(window, "web01")
    key = window.table.selected_keys()[0]
    full, inc = chain(tmp_path / "backups", 2, "web01", key[1], _domain_xml("web01", "/nowhere/web01.img"))
    (tmp_path / "before").mkdir()
    reference = restored(inc, tmp_path / "before")
    dialog = window.commands.open_backups(key, [str(tmp_path / "backups")])
    qtbot.waitUntil(lambda: dialog.list.topLevelItemCount() == 2, timeout=5000)
    assert [dialog.list.topLevelItem(i).text(1) for i in range(2)] == [f"Incremental, after {full.id}", "Full"]
    dialog.list.topLevelItem(1).setSelected(True)
    _press(dialog, "backupDelete")
    _answer(dialog, "confirm_delete_backup", "Delete")
    qtbot.waitUntil(lambda: dialog.list.topLevelItemCount() == 1, timeout=10000)
    assert dialog.list.topLevelItem(0).text(1) == "Full" and dialog.list.topLevelItem(0).text(4) == inc.folder
    assert not os.path.exists(full.folder)
    [job] = [r.info for r in window.session.jobs.rows() if r.info.operation is JobOperation.BACKUP_PRUNE]
    assert job.state is JobState.COMPLETED, job.error
    (tmp_path / "after").mkdir()
    assert same(restored(catalog.read(inc.folder), tmp_path / "after"), reference)
