"""Under a pseudo-translation, the Backup, Backups and Schedule dialogs and the message area's failures show
only translated text and data.

The dialogs are opened as a person does, on a private test host whose catalog holds a full and an
incremental backup; the full one is verified and a schedule is set through the dialogs. Their own words
come wrapped in ``⟦…⟧``; what is data passes as it is: domain names, folders and paths, times and sizes,
and the sentence a driver error carries (the message area puts it into a translated frame).
"""
from __future__ import annotations

import shutil

import pytest
from backupchain import chain
from pseudo_translation import CLOSE, OPEN, is_data, translated, untranslated
from PySide6.QtCore import QTime
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QCheckBox, QLabel, QMessageBox, QPushButton, QTreeWidget, QWidget
from test_backup import open_backup
from test_translated import data_of, pseudo  # noqa: F401 - pseudo: the fixture every test here uses
from test_window import select

from drivers import JobOperation, JobState, UndefineFlags
from vmgui.models.backupschedule import Schedule
from vmgui.views.dialogs.backup import BackupDialog
from vmgui.views.dialogs.backups import BackupsDialog, RestoreNameDialog
from vmgui.views.dialogs.backupschedule import ScheduleDialog
from vmgui.views.messagearea import OneLineLabel

pytestmark = pytest.mark.usefixtures("pseudo")
#: a domain the test host does not have, whose backup is on a disk brought from elsewhere
OTHER_UUID = "0f0e0d0c-0b0a-4908-8706-050403020100"


def tree_untranslated(tree: QTreeWidget, data: set[str]) -> list[str]:
    """``column: text`` for each column title, cell text and cell tooltip of ``tree`` neither translated nor data
    (the walk of :mod:`pseudo_translation` reads tables' column titles, not a tree's)."""
    header = tree.headerItem()
    shown = [(f"column {c}", header.text(c)) for c in range(tree.columnCount())]
    for r in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(r)
        shown += [(f"row {r} column {c}{what}", text) for c in range(tree.columnCount())
                  for what, text in (("", item.text(c)), (" toolTip", item.toolTip(c))) if text]
    return [f"{where}: {text!r}" for where, text in shown if not (translated(text) or is_data(text, data))]


def _press(dialog: QWidget, name: str) -> None:
    button = dialog.findChild(QPushButton, name)
    assert button is not None and button.isEnabled(), name
    button.click()


def test_the_backup_dialog_shows_only_translated_text(open_window, node_uri, qtbot, tmp_path):
    window = open_window(node_uri)
    folder = tmp_path / "backups"
    folder.mkdir()
    select(window, "web01", "db01")
    window.findChild(QAction, "actionBackup").trigger()
    qtbot.waitUntil(lambda: isinstance(window.commands.last_dialog, BackupDialog), timeout=10000)
    dialog = window.commands.last_dialog
    dialog.folder.setText("")
    assert dialog.error.text() == f"{OPEN}Choose a target folder.{CLOSE}"  # the reason OK is disabled
    data = data_of(window) | {str(folder)}
    assert untranslated(dialog, data) == []
    reason = dialog.findChild(QLabel, "backupKind_db01")
    assert reason is not None and reason.text() == f"{OPEN}Full: there is no earlier backup to build on.{CLOSE}"
    dialog.folder.setText(str(folder))
    qtbot.waitUntil(dialog.ok.isEnabled, timeout=10000)
    assert untranslated(dialog, data) == []
    dialog.ok.click()
    qtbot.waitUntil(lambda: any(r.info.operation is JobOperation.BACKUP and r.info.state is JobState.COMPLETED
                                for r in window.session.jobs.rows()), timeout=10000)
    qtbot.waitUntil(lambda: any(m.title == "Backup of db01 finished" for m in window.session.messages.messages()),
                    timeout=10000)
    assert untranslated(window.message_area, data_of(window)) == []  # the report of the files written

    window.commands.last_dialog = None
    again = open_backup(window, node_uri, "db01", qtbot)  # into the folder used last
    qtbot.waitUntil(again.ok.isEnabled, timeout=10000)
    box = again.findChild(QCheckBox, "backupIncremental_db01")
    assert box is not None and box.text() == f"{OPEN}Incremental (changes since the last backup){CLOSE}"
    assert translated(box.accessibleName()) and "db01" in box.accessibleName()
    assert untranslated(again, data) == []
    again.reject()


def test_the_backups_and_schedule_dialogs_show_only_translated_text(open_window, node_uri, qtbot, tmp_path):
    window = open_window(node_uri)
    select(window, "web01")
    key = window.table.selected_keys()[0]
    root = tmp_path / "backups"
    full, _incremental = chain(root, 2, "web01", key[1])
    dialog = window.commands.open_backups(key, [str(root)])
    assert isinstance(dialog, BackupsDialog)
    qtbot.waitUntil(lambda: dialog.list.topLevelItemCount() == 2, timeout=10000)

    def data() -> set[str]:
        return data_of(window) | {str(root)} | {v for r in dialog.flow.rows for v in (r.time, r.size, r.folder)}
    assert [dialog.list.topLevelItem(i).text(1) for i in range(2)] == [
        f"{OPEN}Incremental, after {full.id}{CLOSE}", f"{OPEN}Full{CLOSE}"]
    assert translated(dialog.status.text()) and str(root) in dialog.status.text()  # "2 backups in …"
    assert tree_untranslated(dialog.list, data()) == [] and untranslated(dialog, data()) == []

    dialog.list.topLevelItem(1).setSelected(True)  # the full one
    _press(dialog, "backupVerify")
    assert translated(dialog.status.text())  # "Verifying the backup taken …: see the job panel."
    qtbot.waitUntil(lambda: dialog.list.topLevelItemCount() == 2
                    and dialog.list.topLevelItem(1).text(3).startswith(f"{OPEN}OK ("), timeout=20000)
    assert tree_untranslated(dialog.list, data()) == [] and untranslated(dialog, data()) == []

    for button, box_name in (("backupRestoreOnto", "confirm_restore_backup"),
                             ("backupDelete", "confirm_delete_backup")):
        dialog.list.topLevelItem(0).setSelected(True)
        _press(dialog, button)
        box = dialog.last_dialog
        assert isinstance(box, QMessageBox) and box.objectName() == box_name and "web01" in box.text()
        assert untranslated(box, data()) == []
        box.reject()

    dialog.list.topLevelItem(0).setSelected(True)
    _press(dialog, "backupRestoreNew")
    ask = dialog.last_dialog
    assert isinstance(ask, RestoreNameDialog)
    ask.name.setText("web01")
    ask.buttons.accepted.emit()
    assert ask.error.text() == f"{OPEN}A domain named web01 already exists.{CLOSE}"
    assert untranslated(ask, data()) == []
    ask.reject()

    assert translated(dialog.schedule_status.text())  # not backed up on a schedule
    _press(dialog, "backupSchedule")
    schedule = dialog.last_dialog
    assert isinstance(schedule, ScheduleDialog)
    schedule.enabled.setChecked(True)
    schedule.period.setCurrentIndex(1)  # weekly: the weekday is asked for
    schedule.weekday.setCurrentIndex(6)
    schedule.at.setTime(QTime(23, 15))
    schedule.keep_last.setValue(2)
    schedule.folder.setText("relative/folder")
    schedule.buttons.accepted.emit()
    assert schedule.error.text() == f"{OPEN}Choose the folder the backups go into (an absolute path).{CLOSE}"
    assert untranslated(schedule, data()) == []
    schedule.folder.setText(str(root))
    schedule.buttons.accepted.emit()
    assert window.scheduler.store.get(*key) is not None
    status = dialog.schedule_status.text()
    assert status.startswith(f"{OPEN}Scheduled: {OPEN}{OPEN}Every {OPEN}Sunday{CLOSE}{CLOSE} at 23:15 into {root}; ")
    assert untranslated(dialog, data()) == []

    shutil.rmtree(full.folder)  # the incremental cannot be restored without it
    chain(tmp_path / "usb", 1, "elsewhere", OTHER_UUID)
    dialog.flow.open_folder(str(tmp_path / "usb"))  # what choosing a folder in Open Folder… does
    qtbot.waitUntil(lambda: dialog.list.topLevelItemCount() == 2 and "not restorable" in dialog.list.topLevelItem(
        0).text(1), timeout=10000)  # newest first: the incremental, then the other domain's full backup
    dialog.list.topLevelItem(0).setSelected(True)
    assert translated(dialog.findChild(QPushButton, "backupRestoreNew").toolTip())  # "Not restorable: …"
    assert translated(dialog.list.topLevelItem(1).toolTip(0))  # "A backup of elsewhere"
    assert tree_untranslated(dialog.list, data()) == [] and untranslated(dialog, data()) == []


def test_a_failure_in_the_message_area_shows_only_translated_text(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "web01")
    gone = window.session.bridge.connection(node_uri).lookup_by_name("web01")
    gone.destroy()  # another client removes the domain while the window still offers to back it up
    gone.undefine(UndefineFlags.SNAPSHOTS_METADATA)
    window.findChild(QAction, "actionBackup").trigger()
    qtbot.waitUntil(lambda: any(m.level == "error" for m in window.session.messages.messages()), timeout=10000)
    [row] = [label for label in window.message_area.findChildren(OneLineLabel) if label.isVisibleTo(window)]
    # each part went through a translation: the heading (with what was being done), the frame of the driver's
    # sentence, the hint, and the row that puts them together
    assert row.text().startswith(f"{OPEN}{OPEN}{OPEN}Reading the disks to back up{CLOSE} failed{CLOSE} \u2014 {OPEN}")
    assert row.text().endswith(f"{OPEN}It was removed meanwhile; the table shows the current list.{CLOSE}{CLOSE}")
    assert untranslated(window.message_area, data_of(window)) == []  # the Error icon's name, Dismiss


def test_a_scheduled_backup_that_cannot_start_says_so_in_translated_words(open_window, node_uri, qtbot, tmp_path):
    window = open_window(node_uri)
    select(window, "web01")
    key = window.table.selected_keys()[0]
    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
    folder = str(tmp_path / "a-file" / "backups")  # no backup's folder can be made in it
    window.scheduler.set_schedule(key, Schedule(folder=folder, since=1.0))  # due since 1970
    window.scheduler.check()
    qtbot.waitUntil(lambda: len(window.notices) == 1, timeout=10000)
    assert window.notices == [f"{OPEN}The scheduled backup of web01 could not start; the message area says why.{CLOSE}"]
    qtbot.waitUntil(lambda: len(window.session.messages.messages()) == 2, timeout=10000)
    texts = [label.text() for label in window.message_area.findChildren(OneLineLabel) if label.isVisibleTo(window)]
    assert texts[0].startswith(f"{OPEN}{OPEN}web01 was not backed up{CLOSE} \u2014 {OPEN}The folder {folder}/web01-")
    assert texts[1].startswith(f"{OPEN}{OPEN}{OPEN}Scheduled backup failed{CLOSE} while you were away{CLOSE} \u2014 ")
    assert untranslated(window.message_area, data_of(window)) == []
