"""Real QEMU roots with damaged files, in the real window: a broken entry shows with its reason, and its way out works.

The private-root fixtures (``env``, ``guest_kernel``) are tests/e2e/conftest.py's (borrowed_fixtures).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from borrowed_fixtures import borrow
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton
from test_details import start_xml_edit
from test_window import select

from vmgui.models.domainrow import TOOLTIP, Col

_e2e = borrow("e2e")  # also puts tests/e2e on sys.path
env, guest_kernel = _e2e.env, _e2e.guest_kernel
import e2e_helpers as h  # noqa: E402
from test_qemu_crashstate import left_running, process_gone  # noqa: E402

pytestmark = [pytest.mark.qemu,
              pytest.mark.skipif(not (h.QEMU and h.QEMU_IMG), reason="qemu-system-x86_64 / qemu-img are not installed")]


def state_cell(window, name: str, role: int = 0):
    """The State column of ``name``'s row (display text, or another role)."""
    model = window.table.model()
    for r in range(model.rowCount()):
        if model.data(model.index(r, Col.NAME)) == name:
            return model.data(model.index(r, Col.STATE), role)
    return None


def action(window, name: str) -> QAction:
    return window.findChild(QAction, name)


def test_a_truncated_definition_shows_broken_with_its_reason_until_the_xml_tab_applies_a_corrected_one(
        env, open_window, qtbot):
    conn = env.open()
    uuid = conn.define_xml(env.xml("cracked")).uuid
    xml = env.xml("cracked", uuid=uuid)
    conn.close()
    cfg = env.root() / "domains" / uuid / "domain.xml"
    cfg.write_bytes(cfg.read_bytes()[:150])

    window = open_window(env.uri())
    qtbot.waitUntil(lambda: state_cell(window, "cracked") == "broken")
    assert "domain.xml is truncated" in state_cell(window, "cracked", TOOLTIP)
    select(window, "cracked")
    problem = window.details.findChild(QLabel, "detailProblem")
    assert problem.isVisible() and "domain.xml is truncated" in problem.text()
    assert "XML tab" in problem.text() and problem.accessibleName() == "Problem"
    assert window.details.values["Memory"].text() == "—"  # not "0 B": nothing says
    start = action(window, "actionStart")
    assert not start.isEnabled() and "is broken: domain.xml is truncated" in start.toolTip()
    assert action(window, "actionDelete").isEnabled()  # a way out
    edit = window.details.findChild(QPushButton, "editDomain")
    assert not edit.isEnabled() and "XML tab" in edit.toolTip()

    pane = start_xml_edit(window, qtbot, "cracked")
    assert "<name>cracked</name>" in pane.toPlainText()  # what could be read, to correct
    pane.setPlainText(xml)
    qtbot.waitUntil(lambda: pane.apply_button.isEnabled())
    pane.apply_button.click()
    window.details.flow.diff.findChild(QPushButton, "diffApply").click()
    qtbot.waitUntil(lambda: state_cell(window, "cracked") == "shut off", timeout=10000)
    window.refresh_selection_state()
    qtbot.waitUntil(lambda: not problem.isVisible())
    assert start.isEnabled() and edit.isEnabled()


def test_force_off_in_the_window_stops_a_qemu_whose_state_file_is_garbled(env, open_window, qtbot):
    uuid, pid = left_running(env, "lost", '{"uuid": "')

    window = open_window(env.uri())
    qtbot.waitUntil(lambda: state_cell(window, "lost") == "broken")
    select(window, "lost")
    problem = window.details.findChild(QLabel, "detailProblem")
    assert "state file" in problem.text() and "Force Off" in problem.text()
    force = action(window, "actionForceOff")
    assert force.isEnabled() and not action(window, "actionStart").isEnabled()
    force.trigger()
    box = window.commands.last_dialog
    assert isinstance(box, QMessageBox)
    next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.DestructiveRole).click()
    qtbot.waitUntil(lambda: state_cell(window, "lost") == "shut off (destroyed)", timeout=20000)
    assert process_gone(pid)
    window.refresh_selection_state()
    assert action(window, "actionStart").isEnabled() and not problem.isVisible()
    assert not os.path.exists(env.root() / "state" / f"{uuid}.json")


def test_a_broken_entry_is_deleted_with_the_disk_its_salvaged_xml_names(env, open_window, qtbot, tmp_path):
    from test_delete import gone_from_table, open_delete
    disk = Path(h.make_qcow2(tmp_path / "scrap.qcow2"))
    conn = env.open()
    uuid = conn.define_xml(env.xml("scrap", disks=[{"path": str(disk)}])).uuid
    conn.close()
    cfg = env.root() / "domains" / uuid / "domain.xml"
    data = cfg.read_bytes()
    cfg.write_bytes(data[:data.index(b"<target")])  # cut right after the disk's source

    window = open_window(env.uri())
    qtbot.waitUntil(lambda: state_cell(window, "scrap") == "broken")
    dialog = open_delete(window, env.uri(), "scrap", qtbot)
    box = dialog.file_checks[("scrap", str(disk))]
    box.setChecked(True)
    dialog.ok.click()
    qtbot.waitUntil(lambda: gone_from_table(window, (env.uri(), uuid)), timeout=10000)
    qtbot.waitUntil(lambda: not disk.exists())
    assert not (env.root() / "domains" / uuid).exists()
    assert not any(m.level == "error" for m in window.session.messages.messages())
