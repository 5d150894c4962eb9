"""Under a pseudo-translation, the domain table's and the job panel's cells, the Display tab and window and
the serial console show only translated text and data (see test_translated for what counts as data).

The cells are read as the views read them, through the models' DisplayRole and ToolTipRole.
"""
from __future__ import annotations

import test_translated
from pseudo_translation import CLOSE, OPEN, is_data, translated
from PySide6.QtCore import QAbstractItemModel, Qt
from test_translated import assert_translated, data_of

from drivers import DomainState, JobOperation, JobState
from drivers.flags import REASONS, describe_state
from drivers.jobs import operation_text
from vmgui.actions.requests import Backup
from vmgui.models import statewords
from vmgui.textmark import Text

pseudo = test_translated.pseudo
ROLES = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole)


def untranslated_cells(model: QAbstractItemModel, data: set[str]) -> list[str]:
    """``row,column role: text`` for each cell text that is neither translated nor data (a cell listing
    several facts, "a · b", is read fact by fact)."""
    found = []
    for row in range(model.rowCount()):
        for col in range(model.columnCount()):
            for role in ROLES:
                text = model.index(row, col).data(role)
                if text and not all(translated(part) or is_data(part, data) for part in text.split(" \u00b7 ")):
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
