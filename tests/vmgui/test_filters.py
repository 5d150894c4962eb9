"""The GUI filters exactly like ``list_all_domains(flags)``: same core function, same answer."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt

import drivers
from drivers import ListFlags
from vmgui.models.domains import DomainTableModel
from vmgui.models.filters import FilterState, object_name

flag_sets = st.sets(st.sampled_from(list(ListFlags))).map(lambda s: sum(s, ListFlags(0)))


def visible(model: DomainTableModel) -> set[str]:
    return {model.data(model.index(r, 0)) for r in range(model.rowCount())}


def test_visible_rows_equal_list_all_domains_for_random_flags(make_node):
    conn = drivers.open(make_node(45))
    conn.lookup_by_name("vm00001").resume()  # some churn so states are not just the generator's cycle
    conn.lookup_by_name("vm00003").create()
    model = DomainTableModel()
    filters = FilterState()
    filters.changed.connect(lambda: model.set_filter(filters.accepts(), filters.search))
    model.apply(conn.uri, conn.get_all_domain_stats(), complete=True)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(flags=flag_sets)
    def check(flags: ListFlags) -> None:
        filters.set_flags(flags)
        assert visible(model) == {d.name for d in conn.list_all_domains(flags)}

    check()


def test_search_narrows_within_the_flag_filter(make_node):
    conn = drivers.open(make_node(30))
    model = DomainTableModel()
    model.apply(conn.uri, conn.get_all_domain_stats(), complete=True)
    filters = FilterState()
    filters.changed.connect(lambda: model.set_filter(filters.accepts(), filters.search))
    filters.set_flags(ListFlags.RUNNING)
    filters.set_search("VM0001")
    expected = {d.name for d in conn.list_all_domains(ListFlags.RUNNING) if d.name.startswith("vm0001")}
    assert visible(model) == expected and expected


def test_filter_buttons_in_the_window_agree_with_the_driver(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    conn = drivers.open(node_uri)  # a second connection to the same file sees the same initial state
    for flag in ListFlags:
        assert window.findChild(object, object_name(flag)) is not None
    model = window.table.model()
    for clicks, flags in [((ListFlags.RUNNING,), ListFlags.RUNNING),
                          ((ListFlags.PAUSED,), ListFlags.RUNNING | ListFlags.PAUSED),
                          ((ListFlags.AUTOSTART,), ListFlags.RUNNING | ListFlags.PAUSED | ListFlags.AUTOSTART),
                          ((ListFlags.RUNNING, ListFlags.PAUSED), ListFlags.AUTOSTART)]:
        for flag in clicks:
            qtbot.mouseClick(window.findChild(object, object_name(flag)), Qt.MouseButton.LeftButton)
        assert visible(model) == {d.name for d in conn.list_all_domains(flags)}, flags
    assert window.session.filters.flags == int(ListFlags.AUTOSTART)


def test_filters_are_remembered(open_window, node_uri, settings, qtbot):
    window = open_window(node_uri)
    window.findChild(object, "filter_shutoff").click()
    window.filter_bar.search.setText("leg")
    qtbot.waitUntil(lambda: window.session.filters.search == "leg")
    window.close()
    again = open_window(node_uri)
    assert again.findChild(object, "filter_shutoff").isChecked()
    assert again.filter_bar.search.text() == "leg"
    assert visible(again.table.model()) == {"legacy-app"}
