"""Under a pseudo-translation, the main window and its dialogs show only translated text and data.

Every string a person reads or hears (text, titles, tooltips, status tips,
placeholders, accessible names, list items, column titles) must come out of a
translation function, so the pseudo-translation wraps it in ``⟦…⟧``. What is
not the window's own words is data and passes as it is: domain names, titles
and UUIDs, connection URIs and their labels, disk paths, the libvirt words a
definition holds (boot devices, interface types), and figures without letters.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from pseudo_translation import BracketTranslator, untranslated
from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialogButtonBox, QLabel, QLineEdit, QMessageBox, QWidget
from test_window import select

from vmgui.models.editing import BOOT_DEVICES, NIC_TYPES
from vmgui.views.dialogs.connect import EXAMPLES, ConnectDialog
from vmgui.views.dialogs.delete import DeleteDialog
from vmgui.views.dialogs.migrate import MigrateDialog
from vmgui.views.dialogs.xmldiff import XmlDiffDialog
from vmgui.views.editform import EditDialog


@pytest.fixture
def pseudo(qapp) -> Iterator[None]:
    """The pseudo-translation, installed before the window is made (so every tr() call meets it)."""
    translator = BracketTranslator()
    qapp.installTranslator(translator)
    yield
    qapp.removeTranslator(translator)


def data_of(window) -> set[str]:
    """What the window shows that is not its own words (see the module docstring)."""
    uris = window.session.connections.uris()
    values = {*uris, *EXAMPLES, *BOOT_DEVICES, *NIC_TYPES}
    values |= {row.label for row in window.session.connections.rows()}
    for row in window.session.domains.rows_of(uris):
        values |= {row.rec.name, row.rec.uuid, *([row.rec.title] if row.rec.title else [])}
    return values


def assert_translated(top: QWidget, window) -> None:
    """Nothing ``top`` shows lacks the markers but data."""
    assert untranslated(top, data_of(window)) == []


def test_the_pseudo_translation_reaches_qt_and_vmgui(pseudo) -> None:
    assert QCoreApplication.translate("MainWindow", "&File") == "\u27e6&File\u27e7"


def test_the_walk_reports_words_that_missed_the_translation(qtbot) -> None:
    top = QWidget()
    qtbot.addWidget(top)
    for text in ("Plain words", "web01", "\u27e6Start\u27e7", "1,024", "  \u27e6indented\u27e7",
                 "<table><tr><td><b>\u27e6Disk vda\u27e7</b></td><td>web01</td></tr></table>",
                 "<b>\u27e6A\u27e7</b> words"):
        QLabel(text, top)
    QLineEdit("typed by a person", top).setPlaceholderText("Search")
    quit_action = QAction("Quit", top)
    quit_action.setToolTip("\u27e6Quit vmgui\u27e7")
    top.addAction(quit_action)
    hidden = QLabel("inside a skipped part", QWidget(top, objectName="skipped"))
    assert hidden.text() and sorted(untranslated(top, {"web01"}, lambda o: o.objectName() == "skipped")) == [
        "QWidget/QAction text: 'Quit'", "QWidget/QLabel text: '<b>\u27e6A\u27e7</b> words'",
        "QWidget/QLabel text: 'Plain words'",
        "QWidget/QLineEdit placeholderText: 'Search'"]


def test_the_main_window_shows_only_translated_text(pseudo, open_window, node_uri, qtbot):
    window = open_window(node_uri)
    window.session.give_up(node_uri)  # a status bar sentence from the session, with a count
    assert window.statusBar().currentMessage() == f"\u27e6Stopped waiting for 0 requests to {node_uri}\u27e7"
    assert_translated(window, window)  # nothing selected: the placeholder, every action's "Select … first"
    select(window, "test")  # a running domain: the overview's fields, enabled actions' tooltips
    window.details.setCurrentWidget(window.details.hardware)
    hardware = window.details.hardware.label
    qtbot.waitUntil(lambda: "<table" in hardware.text(), timeout=10000)
    window.details.setCurrentWidget(window.details.xml)
    qtbot.waitUntil(lambda: "<domain" in window.details.xml.toPlainText(), timeout=10000)
    assert_translated(window, window)
    select(window, "test", "web01", "db01")  # several: "Applies to 1 of 3 selected", "… (and 2 more cannot either)"
    window.filter_bar.buttons[next(iter(window.filter_bar.buttons))].setChecked(True)  # a filter: the count's note
    qtbot.waitUntil(lambda: "(" in window.count_label.text(), timeout=5000)
    assert_translated(window, window)


def test_the_connect_dialog_shows_only_translated_text(pseudo, open_window, node_uri, qtbot):
    window = open_window(node_uri)
    window.show_connect_dialog()
    dialog = window.commands.last_dialog
    assert isinstance(dialog, ConnectDialog)
    dialog.combo.setCurrentText("not a uri")
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.error.text() and dialog.isVisible()  # refused, with a sentence saying why
    assert_translated(dialog, window)


def test_the_delete_dialog_shows_only_translated_text(pseudo, open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "test", "win11")  # running (the Force off tick and its reason), and with a saved state
    window.findChild(QAction, "actionDelete").trigger()
    qtbot.waitUntil(lambda: isinstance(window.commands.last_dialog, DeleteDialog), timeout=10000)
    dialog = window.commands.last_dialog
    assert dialog.warning.text() and dialog.error.text() and dialog.file_checks
    assert_translated(dialog, window)


def test_the_migrate_dialog_shows_only_translated_text(pseudo, open_window, node_uri, make_node, qtbot):
    dest = make_node(1)
    window = open_window(node_uri, dest)
    select(window, "web01", "test")
    window.findChild(QAction, "actionMigrate").trigger()
    qtbot.waitUntil(lambda: isinstance(window.commands.last_dialog, MigrateDialog), timeout=10000)
    dialog = window.commands.last_dialog
    assert_translated(dialog, window)  # "Checking …" while the check runs
    qtbot.waitUntil(lambda: dialog.checks() is not None, timeout=10000)
    assert dialog.check_list.count() > 2
    dialog.undefine.setChecked(True)
    assert_translated(dialog, window)


def test_the_edit_dialog_and_its_diff_show_only_translated_text(pseudo, open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "test")  # running: the notice says changes wait for the next start
    window.details.edit_button.click()
    qtbot.waitUntil(lambda: window.details.flow.dialog is not None and window.details.flow.dialog.isVisible())
    dialog = window.details.flow.dialog
    assert isinstance(dialog, EditDialog) and dialog.notice.text()
    dialog.memory.setValue(0)
    assert dialog.error.text()  # the reason OK is disabled, translated
    assert_translated(dialog, window)
    assert dialog.disk_list.count() and dialog.nic_list.count()
    dialog.memory.setValue(dialog.before.memory_mib + 256)
    dialog.ok.click()
    qtbot.waitUntil(lambda: window.details.flow.diff is not None and window.details.flow.diff.isVisible())
    diff = window.details.flow.diff
    assert isinstance(diff, XmlDiffDialog)
    assert_translated(diff, window)
    diff.reject()


def test_a_confirmation_shows_only_translated_text(pseudo, open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "test")
    window.findChild(QAction, "actionForceOff").trigger()
    box = window.commands.last_dialog
    assert isinstance(box, QMessageBox) and "test" in box.text()
    assert_translated(box, window)
    box.reject()

