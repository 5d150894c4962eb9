"""The table and status bar keep up with the user: selection across filters, an empty result, counts."""
from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel

from drivers import ListFlags
from vmgui.models.domains import Col
from vmgui.models.filters import object_name
from vmgui.views.dialogs.newvm import NewVMDialog


def names(window) -> list[str]:
    model = window.table.model()
    return [model.data(model.index(r, 0)) for r in range(model.rowCount())]


def selected_names(window) -> list[str]:
    return [window.session.domains.name_of(k) for k in window.table.selected_keys()]


def click_row(window, qtbot, name: str, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    table = window.table
    rect = table.visualRect(table.model().index(names(window).index(name), 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def test_a_selected_domain_hidden_by_a_filter_is_selected_again_when_it_shows(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    click_row(window, qtbot, "db01")  # paused
    click_row(window, qtbot, "test", Qt.KeyboardModifier.ControlModifier)  # running
    assert sorted(selected_names(window)) == ["db01", "test"]
    running = window.findChild(object, object_name(ListFlags.RUNNING))
    running.click()
    assert "db01" not in names(window)
    assert selected_names(window) == ["test"]
    running.click()
    assert sorted(selected_names(window)) == ["db01", "test"]
    running.click()
    window.findChild(object, "clearFilters").click()
    assert sorted(selected_names(window)) == ["db01", "test"]
    running.click()
    click_row(window, qtbot, "test")  # a new choice: db01 is no longer wanted
    running.click()
    assert selected_names(window) == ["test"]


def test_an_empty_filter_result_says_so_and_offers_to_clear_the_filters(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    hint = window.table.findChild(QLabel, "noMatchHint")
    assert hint is not None and not hint.isVisible()
    window.filter_bar.search.setText("no such domain anywhere")
    qtbot.waitUntil(lambda: window.table.model().rowCount() == 0, timeout=3000)
    assert hint.isVisible()
    assert hint.accessibleName() == "No domain matches these filters — Clear filters"
    assert hint.geometry().intersects(window.table.viewport().rect())
    _click_link(qtbot, hint, "Clear filters")
    assert window.filter_bar.search.text() == ""
    assert window.table.model().rowCount() == window.session.domains.total()
    assert not hint.isVisible()


def _click_link(qtbot, hint: QLabel, link: str, after: str = "") -> None:
    """Click the middle of ``link`` in the hint's centred line, which ends with ``after``."""
    metrics = hint.fontMetrics()
    end = (hint.width() + metrics.horizontalAdvance(hint.accessibleName())) // 2 - metrics.horizontalAdvance(after)
    qtbot.mouseClick(hint, Qt.MouseButton.LeftButton,
                     pos=QPoint(end - metrics.horizontalAdvance(link) // 2, hint.height() // 2))


def test_a_host_without_vms_says_so_and_offers_the_new_vm_wizard(open_window, make_node, qtbot):
    uri = make_node(0)
    window = open_window(uri)
    hint = window.table.findChild(QLabel, "noMatchHint")
    qtbot.waitUntil(hint.isVisible, timeout=5000)  # once the host answered: not while it is asked
    assert hint.accessibleName() == "No virtual machines yet — New VM… creates one"
    _click_link(qtbot, hint, "New VM…", after=" creates one")
    qtbot.waitUntil(lambda: isinstance(window.commands.last_dialog, NewVMDialog), timeout=5000)
    window.commands.last_dialog.reject()
    window.session.bridge.connection(uri).define_xml(
        "<domain type='test'><name>first</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>")
    qtbot.waitUntil(lambda: "first" in names(window), timeout=3000)
    assert not hint.isVisible()
    window.filter_bar.search.setText("no such domain anywhere")
    qtbot.waitUntil(lambda: window.table.model().rowCount() == 0, timeout=3000)
    assert hint.accessibleName() == "No domain matches these filters — Clear filters", "filters, not an empty host"


def test_the_status_bar_counts_a_new_domain_as_soon_as_the_table_shows_it(open_window, make_node, qtbot):
    uri = make_node(2)
    window = open_window(uri)
    chip = window.conn_status.chips[uri]
    assert chip.text.text().endswith("2 domains")
    conn = window.session.bridge.connection(uri)
    conn.define_xml("<domain type='test'><name>newcomer</name><memory unit='MiB'>64</memory>"
                    "<os><type>hvm</type></os></domain>")
    qtbot.waitUntil(lambda: "newcomer" in names(window), timeout=3000)
    qtbot.wait(50)
    assert chip.text.text().endswith("3 domains")
    assert window.count_label.text() == "3 domains"


def test_the_first_row_is_selected_at_start_and_the_arrow_keys_move_from_it(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    first, second = names(window)[:2]
    assert selected_names(window) == [first]
    assert window.table.currentIndex().row() == 0
    qtbot.keyClick(window.table, Qt.Key.Key_Down)
    assert selected_names(window) == [second]


def test_a_new_domain_does_not_take_the_selection_the_user_made(open_window, make_node, qtbot):
    uri = make_node(3)
    window = open_window(uri)
    last = names(window)[-1]
    click_row(window, qtbot, last)
    conn = window.session.bridge.connection(uri)
    conn.define_xml("<domain type='test'><name>aaa-first</name><memory>65536</memory></domain>")
    qtbot.waitUntil(lambda: "aaa-first" in names(window), timeout=10000)
    assert names(window)[0] == "aaa-first" and selected_names(window) == [last]


def test_the_row_selected_at_start_stays_selected_when_a_domain_sorting_before_it_appears(open_window, make_node,
                                                                                          qtbot):
    """Hosts answering one after the other at start must not move the details from domain to domain."""
    uri = make_node(3)
    window = open_window(uri)
    first = names(window)[0]
    qtbot.waitUntil(lambda: selected_names(window) == [first], timeout=10000)
    conn = window.session.bridge.connection(uri)
    conn.define_xml("<domain type='test'><name>aaa-first</name><memory>65536</memory></domain>")
    qtbot.waitUntil(lambda: "aaa-first" in names(window), timeout=10000)
    assert names(window)[0] == "aaa-first" and selected_names(window) == [first]


def test_a_search_that_hides_the_selection_selects_its_first_match(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    click_row(window, qtbot, "db01")
    search = window.filter_bar.search
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(search, "web01")
    qtbot.waitUntil(lambda: names(window) == ["web01"])
    assert selected_names(window) == ["web01"]
    search.clear()
    qtbot.waitUntil(lambda: "db01" in names(window))
    assert selected_names(window) == ["db01"]  # the choice the search hid comes back


def test_a_state_cut_by_its_column_reads_whole_in_its_tooltip(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    model = window.session.domains
    key = (node_uri, window.session.bridge.connection(node_uri).lookup_by_name("test").uuid)
    model.set_pending(key, "shutting down…")
    cell = model.index(model.find(key), Col.STATE)
    text = cell.data()
    assert text.endswith(" — shutting down…")
    assert window.table.fontMetrics().horizontalAdvance(text) > window.table.columnWidth(Col.STATE)  # it is cut
    assert cell.data(Qt.ItemDataRole.ToolTipRole) == text
