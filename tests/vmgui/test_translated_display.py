"""Under a pseudo-translation, the domain table's and the job panel's cells, the Display tab and window and
the serial console show only translated text and data (see test_translated for what counts as data).

The cells are read as the views read them, through the models' DisplayRole and ToolTipRole. The test
driver has no display stream (the tab says so); a real QEMU display shows the connected state and the
pointer hints of a guest without a tablet.
"""
from __future__ import annotations

import pytest
import test_translated
import test_translation_catalog
from borrowed_fixtures import borrow
from pseudo_translation import CLOSE, OPEN, is_data, translated, untranslated
from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtWidgets import QComboBox
from test_display import _show
from test_display_window import _open
from test_translated import assert_translated, data_of
from test_window import select

from drivers import DomainState, JobOperation, JobState
from drivers.flags import REASONS, describe_state
from drivers.jobs import operation_text
from drivers.test import DEFAULT_NODE_XML
from vmgui.actions import ActionId
from vmgui.actions.requests import Backup, Migrate
from vmgui.models import statewords
from vmgui.textmark import Text
from vmgui.views.console import ConsoleDialog
from vmgui.views.display import DisplayTab

pseudo = test_translated.pseudo
catalogue = test_translation_catalog.catalogue
_e2e = borrow("e2e")  # a real QEMU display for the connected state (also puts tests/e2e on sys.path)
env, guest_kernel = _e2e.env, _e2e.guest_kernel
import e2e_helpers as h  # noqa: E402

ROLES = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole)


def untranslated_cells(model: QAbstractItemModel, data: set[str]) -> list[str]:
    """``row,column role: text`` for each cell text that is neither translated nor data (a cell listing
    several facts, "a · b" or one a line, is read fact by fact)."""
    found = []
    for row in range(model.rowCount()):
        for col in range(model.columnCount()):
            for role in ROLES:
                text = model.index(row, col).data(role)
                parts = [part for line in (text or "").split("\n") for part in line.split(" \u00b7 ")]
                if text and not all(translated(part) or is_data(part, data) for part in parts):
                    found.append(f"{row},{col} {role.name}: {text!r}")
    return found


def cell_texts(model: QAbstractItemModel, col: int) -> list[str]:
    return [model.index(row, col).data() for row in range(model.rowCount())]


def test_the_state_words_are_the_windows_own_and_read_as_the_core_describes_them() -> None:
    for state in DomainState:
        reasons = [0, *(int(r) for r in REASONS.get(state, ()))]
        for reason in reasons:
            words = statewords.state_words(state, reason)
            assert isinstance(words, Text) and words == describe_state(state, reason)
            assert all(isinstance(arg, Text) for arg in words.args.values())
    assert statewords.state_words(DomainState.NOSTATE, 100) == describe_state(DomainState.NOSTATE, 100) == "broken"
    for op in JobOperation:
        words = statewords.operation_words(op)
        assert isinstance(words, Text) and words == operation_text(op)


def test_the_domain_tables_cells_show_only_translated_text(pseudo, open_window, make_node, qtbot):
    uri = make_node(9)  # running, paused, shut off and crashed; transient, saved, autostart, with snapshots
    window = open_window(uri)
    model = window.table.model()
    qtbot.waitUntil(lambda: model.rowCount() == 9, timeout=10000)
    assert untranslated_cells(model, data_of(window)) == []
    states = cell_texts(model, 1)
    for word in ("running", "paused", "shut off", "crashed"):
        assert any(f"{OPEN}{word}{CLOSE}" in state for state in states), (word, states)
    assert {f"{OPEN}yes{CLOSE}", f"{OPEN}transient{CLOSE}"} <= set(cell_texts(model, 5))
    assert f"{OPEN}saved{CLOSE}" in cell_texts(model, 8)
    memory = model.index(0, 3)
    assert memory.data().startswith(OPEN) and "MiB" in memory.data()
    assert " in use of " in memory.data(Qt.ItemDataRole.ToolTipRole)
    assert_translated(window.table, window)
    running = next(r for r in range(model.rowCount()) if model.row_at(r).rec.active)
    window.session.pending.begin(model.row_at(running).key, ActionId.SHUTDOWN, model.row_at(running).rec.name)
    assert f" \u2014 {OPEN}{OPEN}shutting down{CLOSE}\u2026{CLOSE}" in model.index(running, 1).data()
    assert untranslated_cells(model, data_of(window)) == []


def test_the_job_panels_cells_show_only_translated_text(pseudo, open_window, node_uri, tmp_path, qtbot):
    slow = f"{node_uri}?rate=64"  # long enough to see one running while the other is cancelled
    window = open_window(slow)
    folder = tmp_path / "backups"
    folder.mkdir()
    conn = window.session.bridge.connection(slow)
    window.commands.run(Backup(folder=str(folder)), [(slow, conn.lookup_by_name(n).uuid) for n in ("db01", "web01")])
    model = window.session.jobs
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=10000)
    qtbot.waitUntil(lambda: all(model.index(r, 4).data() != "\u2014" for r in range(2)), timeout=10000)
    db01 = next(r for r in model.rows() if r.info.domain == "db01")
    window.session.cancel_job(*db01.key)
    qtbot.waitUntil(lambda: db01.info.state is JobState.CANCELLED, timeout=10000)
    qtbot.waitUntil(lambda: any(f"{OPEN}cancelled{CLOSE}" in t for t in cell_texts(model, 7)), timeout=5000)
    assert f"{OPEN}running{CLOSE}" in cell_texts(model, 7)
    assert cell_texts(model, 1) == [f"{OPEN}backup{CLOSE}"] * 2
    assert all(t.endswith(f"/s{CLOSE}") or t == "\u2014" for t in cell_texts(model, 4))
    said_by_the_driver = {text for r in model.rows() for text in (r.info.error, r.info.note) if text}
    assert said_by_the_driver  # the cancelled backup's error, shown as the driver's core says it
    assert untranslated_cells(model, data_of(window) | said_by_the_driver) == []
    assert_translated(window.job_panel, window)
    select(window, "web01")  # the details pane names its running job and says its memory in translated units
    assert f"{OPEN}{OPEN}backup{CLOSE} (job " in window.details.values["Job"].text()
    assert f"{OPEN}{OPEN}" in window.details.values["Memory"].text()
    assert_translated(window.details, window)


def test_a_migrations_figures_in_the_job_panel_are_translated(pseudo, open_window, node_uri, make_node, qtbot):
    src, dest = f"{node_uri}?rate=1024", make_node(2)
    window = open_window(src, dest)
    conn = window.session.bridge.connection(src)
    window.commands.run(Migrate(dest, flags=1 | 8), [(src, conn.lookup_by_name("test").uuid)])  # LIVE|PERSIST_DEST
    model = window.session.jobs

    def figures_shown() -> bool:  # pass N · X left · dirtying Y/s · downtime ≈ Z ms, and the destination's job
        details = " ".join(cell_texts(model, 8))
        return f"{OPEN}pass " in details and f" left{CLOSE}" in details and model.rowCount() == 2
    qtbot.waitUntil(figures_shown, timeout=10000)
    assert set(cell_texts(model, 1)) == {f"{OPEN}outgoing migration{CLOSE}", f"{OPEN}incoming migration{CLOSE}"}
    assert untranslated_cells(model, data_of(window)) == []
    assert_translated(window.job_panel, window)


def notice_of(tab: DisplayTab) -> tuple[str, str]:
    return tab.notice.text.text(), tab.notice.button.text()


def test_the_display_tab_of_a_running_and_a_stopped_domain_shows_only_translated_text(pseudo, open_window,
                                                                                        make_node, qtbot):
    uri = make_node(xml=DEFAULT_NODE_XML, rate=1000)  # jobs (starting win11 from its saved state) end at once
    window = open_window(uri)
    tab = _show(window, qtbot, uri, "web01")  # running; the test driver has no display stream, and says so
    qtbot.waitUntil(lambda: "not supported" in tab.notice.text.text(), timeout=10000)
    assert notice_of(tab)[1] == f"{OPEN}Open in External Viewer{CLOSE}"
    assert_translated(tab, window)  # the View and Send Key menus and their tooltips too
    assert [a.text() for a in tab.send_key_menu.actions()][:2] == [f"{OPEN}Ctrl+Alt+Del{CLOSE}",
                                                                   f"{OPEN}Ctrl+Alt+Backspace{CLOSE}"]
    tab.connect_button.click()  # connects again, then Disconnect: the status line says so
    tab.connect_button.click()
    assert tab.status.text() == f"{OPEN}Not connected to the display of {{name}}{CLOSE}".format(name="web01")
    assert_translated(tab, window)
    tab = _show(window, qtbot, uri, "win11")  # shut off: the notice offers Start, the menus say why not
    assert notice_of(tab) == (f"{OPEN}{{name}} is not running.{CLOSE}".format(name="win11"), f"{OPEN}Start{CLOSE}")
    assert tab.menu_buttons[0].toolTip().startswith(f"{OPEN}Not possible: ")
    assert_translated(tab, window)
    tab.notice.button.click()  # Start, known by what it does, not by its translated label
    qtbot.waitUntil(lambda: window.session.domains.get(tab.key).rec.active, timeout=10000)



@pytest.mark.qemu
@pytest.mark.skipif(not h.QEMU, reason="qemu-system-x86_64 is not installed")
def test_a_connected_display_and_its_pointer_hints_show_only_translated_text(pseudo, env, open_window, qtbot):
    conn = env.open()
    conn.define_xml(env.xml("screen", extra_devices="<graphics type='vnc'/>")).create()  # a PS/2 mouse, no tablet
    h.wait_heartbeat(env.serial("screen"), 1)
    window = open_window(env.uri())
    tab = _show(window, qtbot, env.uri(), "screen")
    qtbot.waitUntil(lambda: tab.model is not None and tab.model.open and tab.model.absolute_pointer is False,
                    timeout=30000)
    assert tab.status.text().startswith(f"{OPEN}Connected to the display of screen (")
    assert tab.connect_button.text() == f"{OPEN}Disconnect{CLOSE}"
    assert tab.pointer_hint.isVisible() and tab.pointer_hint.text().startswith(f"{OPEN}This VM has no tablet")
    assert_translated(tab, window)
    view = tab.view
    view.grab_pointer()
    assert view.grabbed and tab.pointer_hint.text() == (f"{OPEN}The VM has the pointer: press Ctrl+Alt to release "
                                                        f"it.{CLOSE}")
    assert_translated(tab, window)
    view.release_pointer()
    conn.lookup_by_name("screen").destroy()


def test_the_screenshot_dialog_shows_only_translated_text(pseudo, open_window, node_uri, qtbot, tmp_path):
    window = open_window(node_uri)
    tab = _show(window, qtbot, node_uri, "web01")
    tab.screenshot_folder = str(tmp_path)
    dialog = tab.ask_screenshot()
    assert dialog.windowTitle() == f"{OPEN}Take Screenshot{CLOSE}"
    folders = {combo.itemText(i) for combo in dialog.findChildren(QComboBox) for i in range(combo.count())
               if combo.itemText(i).startswith("/")}  # where it looks: the person's folders
    assert untranslated(dialog, data_of(window) | folders) == []
    dialog.reject()


def test_the_display_window_and_its_menus_show_only_translated_text(pseudo, open_window, node_uri, qtbot):
    window = open_window(node_uri)
    win = _open(window, qtbot, node_uri, "web01")
    qtbot.waitUntil(lambda: "not supported" in win.pane.notice.text.text(), timeout=10000)
    assert win.windowTitle() == f"{OPEN}{{name}} \u2014 Display{CLOSE}".format(name="web01")
    assert [a.text() for a in win.menuBar().actions()] == [f"{OPEN}&Domain{CLOSE}", f"{OPEN}&View{CLOSE}",
                                                           f"{OPEN}Send &Key{CLOSE}"]
    win.pane.full_screen_action.trigger()  # the hint says how to leave
    qtbot.waitUntil(win.hint.isVisible)
    assert_translated(win, window)
    win.pane.full_screen_action.trigger()


def test_the_serial_console_of_a_running_domain_shows_only_translated_text(pseudo, open_window, node_uri, qtbot):
    window = open_window(node_uri)
    dom = window.session.bridge.connection(node_uri).lookup_by_name("web01")
    dialog = window.commands.open_console((node_uri, dom.uuid))
    assert isinstance(dialog, ConsoleDialog)
    qtbot.waitUntil(lambda: dialog.model.open and "root@web01:~#" in dialog.model.text(), timeout=5000)
    assert dialog.status.text() == f"{OPEN}Connected to the serial console of {{name}} (ttyS0){CLOSE}".format(
        name="web01")
    assert_translated(dialog, window)
    dom.suspend()
    qtbot.waitUntil(lambda: "paused" in dialog.status.text(), timeout=5000)
    assert_translated(dialog, window)
    dom.destroy()  # stopped: the sentence frames the driver's reason
    qtbot.waitUntil(lambda: "VM stopped" in dialog.status.text(), timeout=5000)
    assert_translated(dialog, window)
    dialog.close()


def test_in_a_compiled_catalogue_the_display_and_the_console_show_nothing_untranslated(catalogue, open_window,
                                                                                         node_uri, qtbot):
    """What lupdate extracted is looked up under the contexts the running code uses (a subclass's tr() too)."""
    window = open_window(node_uri)
    model = window.table.model()
    assert untranslated_cells(model, data_of(window)) == []
    win = _open(window, qtbot, node_uri, "web01")
    qtbot.waitUntil(lambda: "not supported" in win.pane.notice.text.text(), timeout=10000)
    assert_translated(win, window)
    tab = _show(window, qtbot, node_uri, "win11")
    assert notice_of(tab)[1] == f"{OPEN}Start{CLOSE}"
    assert_translated(window, window)
    dom = window.session.bridge.connection(node_uri).lookup_by_name("web01")
    dialog = window.commands.open_console((node_uri, dom.uuid))
    qtbot.waitUntil(lambda: dialog.model.open, timeout=5000)
    assert_translated(dialog, window)
    dialog.close()
