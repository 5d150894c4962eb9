"""The real window, offscreen, on private test:/// hosts: names, actions, details, errors."""
from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QDockWidget, QLineEdit, QMessageBox, QTableView

from drivers import DomainState
from vmgui.actions import SPECS
from vmgui.appid import version
from vmgui.models.connections import ConnState
from vmgui.models.domains import Col


def names(window) -> list[str]:
    model = window.table.model()
    return [model.data(model.index(r, 0)) for r in range(model.rowCount())]


def select(window, *domain_names: str) -> None:
    window.table.clearSelection()
    model = window.table.model()
    for r in range(model.rowCount()):
        if model.data(model.index(r, 0)) in domain_names:
            window.table.selectionModel().select(
                model.index(r, 0), window.table.selectionModel().SelectionFlag.Select
                | window.table.selectionModel().SelectionFlag.Rows)
    window.refresh_selection_state()


def state_of(window, uri: str, name: str) -> DomainState:
    return window.session.bridge.connection(uri).lookup_by_name(name).state()[0]


def test_contract_object_names(open_window, node_uri):
    window = open_window(node_uri)
    assert window.objectName() == "mainWindow"
    table = window.findChild(QTableView, "domainTable")
    assert table is window.table and table.accessibleName() == "Domains"
    assert sorted(names(window)) == sorted(["test", "web01", "db01", "ci-runner-7", "win11", "legacy-app",
                                            "kernel-dev", "backup-store"])
    assert isinstance(window.findChild(QLineEdit, "domainSearch"), QLineEdit)
    assert isinstance(window.findChild(QDockWidget, "jobPanel"), QDockWidget)
    assert isinstance(window.findChild(QTableView, "jobView"), QTableView)
    for object_name in (spec.object_name for spec in SPECS.values()):
        assert isinstance(window.findChild(QAction, object_name), QAction), object_name


def test_search_field_filters_rows(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    qtbot.keyClicks(window.findChild(QLineEdit, "domainSearch"), "web")
    qtbot.waitUntil(lambda: names(window) == ["web01"])
    window.filter_bar.search.setText("postgres")  # titles match too
    qtbot.waitUntil(lambda: names(window) == ["db01"])


def test_start_pause_resume_from_the_toolbar_follow_the_driver(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "legacy-app")
    start = window.findChild(QAction, "actionStart")
    assert start.isEnabled() and not window.findChild(QAction, "actionPause").isEnabled()
    start.trigger()
    qtbot.waitUntil(lambda: state_of(window, node_uri, "legacy-app") == DomainState.RUNNING)
    qtbot.waitUntil(lambda: window.findChild(QAction, "actionPause").isEnabled())
    assert not start.isEnabled() and "already running" in start.toolTip()
    window.findChild(QAction, "actionPause").trigger()
    qtbot.waitUntil(lambda: state_of(window, node_uri, "legacy-app") == DomainState.PAUSED)
    row = window.table.model().find((node_uri, window.session.bridge.connection(node_uri)
                                     .lookup_by_name("legacy-app").uuid))
    qtbot.waitUntil(lambda: window.table.model().index(row, Col.STATE).data() == "paused (user)")
    resume = window.findChild(QAction, "actionResume")
    qtbot.waitUntil(resume.isEnabled)  # as for a user: the button enables once the row shows 'paused'
    resume.trigger()
    qtbot.waitUntil(lambda: state_of(window, node_uri, "legacy-app") == DomainState.RUNNING)


def test_bulk_start_applies_to_every_selected_domain_that_can(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "legacy-app", "backup-store", "web01")
    start = window.findChild(QAction, "actionStart")
    assert start.isEnabled() and "2 of 3" in start.toolTip()
    start.trigger()
    qtbot.waitUntil(lambda: all(state_of(window, node_uri, n) == DomainState.RUNNING
                                for n in ("legacy-app", "backup-store", "web01")))
    assert not window.session.messages.messages()  # web01 was skipped, not attempted


def test_table_follows_changes_made_elsewhere_through_events(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    window.session.bridge.connection(node_uri).lookup_by_name("db01").resume()  # not through the GUI
    model = window.table.model()

    def db01_state() -> str:
        return model.index(names(window).index("db01"), Col.STATE).data()
    qtbot.waitUntil(lambda: db01_state() == "running (unpaused)", timeout=3000)


def test_force_off_asks_first(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "web01")
    window.findChild(QAction, "actionForceOff").trigger()
    box = window.commands.last_dialog
    assert isinstance(box, QMessageBox) and "web01" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.wait(100)
    assert state_of(window, node_uri, "web01") == DomainState.RUNNING
    window.findChild(QAction, "actionForceOff").trigger()
    box = window.commands.last_dialog
    next(b for b in box.buttons() if b.text() == "Force off").click()
    qtbot.waitUntil(lambda: state_of(window, node_uri, "web01") == DomainState.SHUTOFF)


def test_delete_after_confirmation_removes_the_row(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "legacy-app")
    window.findChild(QAction, "actionDelete").trigger()
    qtbot.waitUntil(lambda: getattr(window.commands.last_dialog, "objectName", str)() == "deleteDialog")
    dialog = window.commands.last_dialog
    dialog.metadata.setChecked(True)  # legacy-app has a snapshot
    dialog.ok.click()
    qtbot.waitUntil(lambda: "legacy-app" not in names(window))


def test_driver_errors_appear_in_the_message_area_without_traceback(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "web01")
    window.findChild(QAction, "actionSnapshot").trigger()
    dialog = window.commands.last_dialog
    dialog.name.setText("before-upgrade")  # web01 already has a snapshot of that name
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: window.session.messages.rowCount() == 1)
    area = window.findChild(object, "messageArea")
    qtbot.waitUntil(area.isVisible)
    text = " ".join(label.text() for label in area.findChildren(object, "messageText"))
    assert "Snapshotting web01 failed" in text and "before-upgrade" in text
    assert "Wait until" in text or "try again" in text  # what to do
    assert "Traceback" not in text
    assert window.table.isEnabled()


def test_bad_input_in_dialogs_is_explained_in_place(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "legacy-app")
    window.findChild(QAction, "actionSnapshot").trigger()
    dialog = window.commands.last_dialog
    dialog.name.setText("bad/name")
    dialog.buttons.accepted.emit()
    assert dialog.isVisible() and "invalid snapshot name" in dialog.error.text().lower()
    dialog.name.setText("fresh01")
    dialog.buttons.accepted.emit()
    dom = window.session.bridge.connection(node_uri).lookup_by_name("legacy-app")
    qtbot.waitUntil(lambda: "fresh01" in [s.name for s in dom.list_all_snapshots()])


def test_details_pane_shows_overview_and_xml(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "web01")
    assert window.details.values["Title"].text() == "Public web front end"
    assert window.details.values["Snapshots"].text() == "2"
    window.details.setCurrentWidget(window.details.xml)
    qtbot.waitUntil(lambda: "<name>web01</name>" in window.details.xml.toPlainText())
    assert window.details.xml.isReadOnly()


def test_connect_dialog_validates_and_remembers(open_window, node_uri, make_node, settings, qtbot):
    window = open_window(node_uri)
    window.show_connect_dialog()
    dialog = window.commands.last_dialog
    dialog.combo.setCurrentText("not a uri")
    dialog._check()
    assert dialog.isVisible() and "not a URI" in dialog.error.text()
    other = make_node(3)
    dialog.combo.setCurrentText(other)
    dialog._check()
    assert dialog.result() == QDialog.DialogCode.Accepted
    qtbot.waitUntil(lambda: "vm00002" in names(window))
    assert set(names(window)) >= {"web01", "vm00000"}
    assert settings.value("connections/history")[0] == other
    window.filter_bar.conn_combo.setCurrentIndex(window.filter_bar.conn_combo.findData(other))
    qtbot.waitUntil(lambda: sorted(names(window)) == ["vm00000", "vm00001", "vm00002"])


def test_unreachable_connection_is_reported_and_the_rest_works(open_window, node_uri, qtbot):
    window = open_window(node_uri, "test:///no/such/node.xml", wait=False)
    qtbot.waitUntil(lambda: (window.session.connections.get("test:///no/such/node.xml") or None) is not None
                    and window.session.connections.get("test:///no/such/node.xml").state is ConnState.FAILED)
    qtbot.waitUntil(lambda: "web01" in names(window))
    messages = window.session.messages.messages()
    assert any("Connecting to test:///no/such/node.xml failed" in m.title for m in messages)
    assert any("cannot read" in m.text for m in messages)
    chip = window.conn_status.chips["test:///no/such/node.xml"]
    assert "failed" in chip.text.text()


def test_keyboard_shortcut_pauses(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    window.activateWindow()
    select(window, "test")
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: state_of(window, node_uri, "test") == DomainState.PAUSED)


def test_header_click_sorts_and_context_menu_offers_the_actions(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    header = window.table.horizontalHeader()
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(header.sectionViewportPosition(Col.MEMORY) + 10, 5))
    memory = [window.session.domains.row_at(r).rec.memory_kib for r in range(window.table.model().rowCount())]
    assert memory == sorted(memory) or memory == sorted(memory, reverse=True)
    assert memory != [window.session.domains.row_at(0).rec.memory_kib] * len(memory)
    names_in_menu = [a.objectName() for a in window.table._menu_actions if a is not None]
    assert {"actionStart", "actionShutdown", "actionForceOff", "actionBackup", "actionDelete"} <= set(names_in_menu)


def test_connections_left_open_are_reopened(qtbot, aloop, settings, node_uri, make_node, monkeypatch):
    from vmgui import app as vmgui_app
    from vmgui.models import settings as store
    other = make_node(2)
    store.set_open_uris(settings, [other])
    monkeypatch.setattr(vmgui_app, "default_uri", lambda: (node_uri, "a private demo host"))
    window = vmgui_app.start([], settings)
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: len(names(window)) == 10)
        assert window.session.connections.uris() == [node_uri, other]
    finally:
        window.session.stop()


def test_a_failed_connection_can_be_retried(open_window, node_uri, tmp_path, qtbot):
    late = tmp_path / "late.xml"
    uri = f"test://{late}"
    window = open_window(node_uri, uri, wait=False)
    qtbot.waitUntil(lambda: window.session.connections.get(uri) is not None
                    and window.session.connections.get(uri).state is ConnState.FAILED)
    chip = window.conn_status.chips[uri]
    assert chip.retry.isVisibleTo(window)
    late.write_text("<node><domain type='test'><name>late01</name><memory>65536</memory>"
                    "<os><type>hvm</type></os></domain></node>")
    chip.retry.click()
    qtbot.waitUntil(lambda: "late01" in names(window))
    assert not chip.retry.isVisibleTo(window)


def test_actions_follow_a_new_selection_immediately(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    model = window.table.model()
    window.table.selectRow([model.index(r, 0).data() for r in range(model.rowCount())].index("legacy-app"))
    start = window.findChild(QAction, "actionStart")
    assert start.isEnabled()  # no event-loop turn needed between a click and the next action
    start.trigger()
    qtbot.waitUntil(lambda: state_of(window, node_uri, "legacy-app") == DomainState.RUNNING)


def test_help_about_names_version_licence_and_log(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    next(a for a in help_menu.actions() if a.text() == "&About vmgui").trigger()
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "aboutDialog") is not None)
    box = window.findChild(QMessageBox, "aboutDialog")
    text = box.informativeText()
    assert box.isVisible() and version() != "unknown" and f"Version {version()}" in text
    assert "GPL-2.0-or-later" in text and ("Log file: " in text or "No log file" in text)
    box.close()


def test_the_domain_count_speaks_english(open_window, make_node, qtbot):
    window = open_window(make_node(1))
    qtbot.waitUntil(lambda: window.count_label.text() == "1 domain")
    window.filter_bar.search.setText("no such domain")
    qtbot.waitUntil(lambda: window.count_label.text().startswith("0 of 1 domain shown"))


def test_a_connection_that_failed_offers_retry_and_forget(open_window, node_uri, make_node, tmp_path, qtbot):
    from PySide6.QtWidgets import QToolButton

    from vmgui.models import settings as store
    missing = tmp_path / "later.xml"
    uri = f"test://{missing}"
    window = open_window(node_uri)
    window.connect_uri(uri, remember=True)  # a remembered host that does not answer (yet)
    qtbot.waitUntil(lambda: window.findChild(QToolButton, "messageAction_retry_connection") is not None)
    assert window.session.connections.get(uri).state is ConnState.FAILED

    # the host is back: Retry opens it, and its message goes
    missing.write_text(open(make_node(3).removeprefix("test://")).read())
    window.findChild(QToolButton, "messageAction_retry_connection").click()
    qtbot.waitUntil(lambda: window.session.connections.get(uri).state is ConnState.CONNECTED)
    assert not [m for m in window.session.messages.messages() if m.target == uri]

    # gone for good: Forget closes it and the next start does not try it again
    missing.unlink()
    window.close_connection(uri)
    window.connect_uri(uri, remember=True)
    qtbot.waitUntil(lambda: window.findChild(QToolButton, "messageAction_forget_connection") is not None)
    window.findChild(QToolButton, "messageAction_forget_connection").click()
    qtbot.waitUntil(lambda: window.session.connections.get(uri) is None)
    assert uri not in store.open_uris(window.settings)


def test_view_jobs_hides_and_shows_the_job_panel(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    toggle = window.findChild(QAction, "actionShowJobs")
    assert toggle.isEnabled() and toggle.isChecked() and window.job_panel.isVisible()
    toggle.trigger()
    qtbot.waitUntil(lambda: not window.job_panel.isVisible())
    toggle.trigger()
    qtbot.waitUntil(lambda: window.job_panel.isVisible())


def test_tab_goes_through_the_window_from_top_to_bottom(open_window, node_uri, qtbot):
    """Search, connection and filters, then the domain table, then the details and the jobs."""
    window = open_window(node_uri)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    assert QApplication.focusWidget() is window.table  # where the domain shortcuts and the arrow keys act
    window.filter_bar.search.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.filter_bar.search)
    order = []
    while QApplication.focusWidget() not in order:
        order.append(QApplication.focusWidget())
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    filters = [w for w in order if window.filter_bar.isAncestorOf(w)]
    position = order.index
    assert filters and max(map(position, filters)) < position(window.table)
    assert position(window.table) < position(window.details.tabBar()) < position(window.job_panel.view)
