"""Under a pseudo-translation, the New VM wizard, Clone, the snapshot dialogs, About, the quit notice and the
unexpected-error window show only translated text and data.

Each is opened as a person opens it (the quit notice as the window builds it at Quit: only hosts whose guests
outlive vmgui ask it) and walked on every page, with a refusal or a warning on screen where the dialog has
them. What is data passes as it is (see test_translated.py): names, URIs, paths, and here the disk formats
and an exception's own message.
"""
from __future__ import annotations

import sys

import test_newvm
import test_translated
from isoimages import DEBIAN_11, make_iso
from pseudo_translation import translated, untranslated
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox, QPushButton, QWidget
from test_clone_gui import define_owner
from test_newvm import next_button, open_wizard, settle
from test_translated import data_of
from test_window import select

from drivers.diskimage import FORMATS
from drivers.osinfo import OsInfoDb
from vmgui import logsetup
from vmgui.models import quitting
from vmgui.views.dialogs.clone import CloneDialog
from vmgui.views.dialogs.newvm import NewVMDialog
from vmgui.views.dialogs.quitnotice import QuitNotice
from vmgui.views.dialogs.simple import SnapshotDialog
from vmgui.views.dialogs.snapshots import NewSnapshotDialog, SnapshotTreeDialog

images = test_newvm.images  # test:/// keeps new disks in a private data folder
pseudo = test_translated.pseudo  # the pseudo-translation, installed before the window is made
FIND = Qt.MatchFlag.MatchStartsWith | Qt.MatchFlag.MatchRecursive  # "nightly" and "nightly (current)"


def assert_translated(top: QWidget, window, *data: str) -> None:
    """Nothing ``top`` shows lacks the markers but the window's data and ``data``."""
    assert untranslated(top, data_of(window) | set(data)) == []


def assert_wizard_translated(dialog: NewVMDialog, window) -> None:
    """The wizard's data besides the window's: the disk formats and the default disk file it proposes."""
    assert_translated(dialog, window, *FORMATS, dialog.plan().default_disk_path())


def test_every_page_of_the_new_vm_wizard_shows_only_translated_text(pseudo, open_window, node_uri, images, qtbot,
                                                                     tmp_path):
    window = open_window(node_uri)
    dialog = open_wizard(window, qtbot)
    assert isinstance(dialog, NewVMDialog)
    settle(qtbot, dialog)
    error = dialog.source_page.error
    assert error.text().count("\n") == 1  # no name, no ISO: two sentences saying what to do
    assert_wizard_translated(dialog, window)
    dialog.name.setText("fresh")
    dialog.iso.setText(str(tmp_path / "missing.iso"))
    settle(qtbot, dialog)
    assert "missing.iso" in error.text() and translated(error.text())  # a path's problem, its path filled in
    assert_wizard_translated(dialog, window)
    for source in dialog.source_buttons.values():  # each source's rows (the hidden ones are walked too)
        source.setChecked(True)
        settle(qtbot, dialog)
        assert error.text()
        assert_wizard_translated(dialog, window)
    dialog.source_buttons[next(iter(dialog.source_buttons))].setChecked(True)
    dialog.iso.setText(str(make_iso(tmp_path / "debian.iso", DEBIAN_11)))
    qtbot.waitUntil(next_button(dialog).isEnabled, timeout=10000)
    if OsInfoDb().root is not None:  # the system named and its needs proposed (before the fields are changed)
        qtbot.waitUntil(lambda: bool(dialog.proposed.text()), timeout=10000)
        assert translated(dialog.detected.text()) and translated(dialog.proposed.text())
    dialog.next()

    page = dialog.resources_page
    dialog.disk_size.setText("a lot")
    dialog.memory.setValue(dialog.memory.maximum())  # more than the host has: a warning
    settle(qtbot, dialog)
    assert page.error.text() and page.warning.text() and not next_button(dialog).isEnabled()
    assert_wizard_translated(dialog, window)
    dialog.disk_size.setText("64 MiB")
    dialog.memory.setValue(256)
    dialog.preallocate.setChecked(True)
    qtbot.waitUntil(next_button(dialog).isEnabled, timeout=10000)
    dialog.next()

    assert dialog.currentPage() is dialog.summary_page and dialog.summary.text().count("\n") >= 4
    assert all(translated(line) for line in dialog.summary.text().split("\n"))  # line by line, not as a block
    assert_wizard_translated(dialog, window)
    dialog.accept()  # Finish: "Creating fresh…" until the flow says how it ended
    assert translated(dialog.failure.text())
    assert_wizard_translated(dialog, window)
    qtbot.waitUntil(lambda: "fresh" in window.session.domains.names(node_uri), timeout=10000)  # then it closes


def test_the_clone_dialog_shows_only_translated_text(pseudo, open_window, node_uri, qtbot, tmp_path):
    window = open_window(node_uri)
    define_owner(window, node_uri, tmp_path)
    qtbot.waitUntil(lambda: "owner" in window.session.domains.names(node_uri), timeout=5000)
    select(window, "owner")
    window.findChild(QAction, "actionClone").trigger()
    dialog = window.commands.last_dialog
    assert isinstance(dialog, CloneDialog)
    dialog.name.setText("web01")  # taken: refused with a sentence naming the connection
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.isVisible() and node_uri in dialog.error.text()
    assert_translated(dialog, window, "owner-clone")
    dialog.reject()


def test_the_snapshot_dialogs_show_only_translated_text(pseudo, open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "test", "web01")
    window.findChild(QAction, "actionSnapshot").trigger()
    take = window.commands.last_dialog
    assert isinstance(take, SnapshotDialog)
    take.name.setText("")
    take.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert take.isVisible() and take.error.text()  # what to do with an empty name
    assert_translated(take, window, take.name.text())
    take.reject()

    select(window, "test")
    window.findChild(QAction, "actionSnapshots").trigger()
    tree = window.commands.last_dialog
    assert isinstance(tree, SnapshotTreeDialog)
    qtbot.waitUntil(lambda: tree.status.text() != tree.loading, timeout=10000)
    header = tree.tree.headerItem()
    assert all(translated(header.text(i)) for i in range(tree.tree.columnCount()))
    assert_translated(tree, window)
    tree.findChild(QPushButton, "snapshotCreate").click()
    create = tree.last_dialog
    assert isinstance(create, NewSnapshotDialog) and create.live.isVisibleTo(create)  # running: live or offline
    assert_translated(create, window, create.name.text())
    create.name.setText("nightly")
    create.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: bool(tree.tree.findItems("nightly", FIND)), timeout=10000)
    assert_translated(tree, window, "nightly")  # the status line after the snapshot was taken
    tree.tree.findItems("nightly", FIND)[0].setSelected(True)
    for button in ("snapshotRevert", "snapshotDelete"):
        tree.findChild(QPushButton, button).click()
        box = tree.last_dialog
        assert isinstance(box, QMessageBox) and "nightly" in box.text()
        assert_translated(box, window)
        box.reject()
    tree.reject()


def test_about_shows_only_translated_text(pseudo, open_window, node_uri, qtbot):
    window = open_window(node_uri)
    help_menu = next(a.menu() for a in window.menuBar().actions() if "&Help" in a.text())
    next(a for a in help_menu.actions() if "&About vmgui" in a.text()).trigger()
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "aboutDialog") is not None)
    box = window.findChild(QMessageBox, "aboutDialog")
    assert "Version" in box.informativeText()
    assert_translated(box, window)
    box.close()


def test_the_quit_notice_shows_only_translated_text(pseudo, open_window, node_uri, qtbot):
    window = open_window(node_uri)
    running = sorted(row.rec.name for row in window.session.domains.rows_of({node_uri}) if row.rec.id is not None)
    assert len(running) > 1
    notice = QuitNotice(quitting.notice_text(running), window)  # as the window builds it at Quit
    qtbot.addWidget(notice)
    assert_translated(notice, window)


def test_the_unexpected_error_window_shows_only_translated_text(pseudo, qapp, qtbot, monkeypatch, tmp_path):
    reporter = logsetup._ErrorReporter()
    monkeypatch.setattr(logsetup, "_reporter", reporter)
    monkeypatch.setattr(logsetup, "log_file_path", lambda: tmp_path / "vmgui.log")
    try:
        for error in (ValueError("the disk is made of cheese"), KeyError("again")):
            try:
                raise error
            except (ValueError, KeyError):
                logsetup.excepthook(*sys.exc_info())  # type: ignore[arg-type]
        qtbot.waitUntil(lambda: reporter.box is not None and reporter.extra == 1, timeout=5000)
        box = reporter.box
        assert "ValueError: the disk is made of cheese" in box.informativeText()
        assert untranslated(box, set()) == []
    finally:
        reporter.discard()
    assert QApplication.instance() is qapp
