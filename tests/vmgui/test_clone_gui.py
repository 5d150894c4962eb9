"""Domain ▸ Clone in the real window on a private test:/// host: the dialog, its name check, the job."""
from __future__ import annotations

import subprocess

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialogButtonBox
from test_window import select

from drivers import JobOperation, JobState
from drivers.domxml import Disk, DomainXML
from vmgui.views.dialogs.clone import CloneDialog

INACTIVE = 2


def define_owner(window, uri: str, tmp_path) -> str:
    disk = tmp_path / "owner.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    xml = DomainXML.new("owner", 65536, 1)
    xml.add_disk(Disk("vda", source=str(disk), format="qcow2"))
    window.session.bridge.connection(uri).define_xml(xml.to_string())
    return str(disk)


def clone_job(window, uri: str):
    rows = [r for r in window.session.jobs.rows() if r.key[0] == uri and r.info.operation is JobOperation.CLONE]
    return rows[0] if len(rows) == 1 else None


def test_clone_asks_a_free_name_and_runs_as_a_job(open_window, node_uri, qtbot, tmp_path):
    window = open_window(node_uri)
    disk = define_owner(window, node_uri, tmp_path)
    qtbot.waitUntil(lambda: "owner" in window.session.domains.names(node_uri), timeout=5000)
    select(window, "owner")
    action = window.findChild(QAction, "actionClone")
    assert action.isEnabled() and action.text() == "Clone" and action.shortcut().toString() == "Ctrl+Shift+N"
    action.trigger()
    dialog = window.commands.last_dialog
    assert dialog.objectName() == "cloneDialog" and dialog.isVisible()
    assert dialog.name.text() == "owner-clone" and dialog.full.isChecked() and not dialog.linked.isChecked()

    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.name.setText("web01")
    ok.click()
    assert dialog.isVisible() and dialog.error.text() == f"A domain on {node_uri} is already called web01."
    dialog.name.setText("bad/name")
    ok.click()
    assert dialog.isVisible() and "name" in dialog.error.text()
    dialog.name.setText("thin")
    dialog.linked.setChecked(True)
    ok.click()
    assert not dialog.isVisible()

    qtbot.waitUntil(lambda: clone_job(window, node_uri) is not None
                    and clone_job(window, node_uri).info.state is JobState.COMPLETED, timeout=10000)
    assert clone_job(window, node_uri).info.domain == "owner"
    qtbot.waitUntil(lambda: "thin" in window.session.domains.names(node_uri), timeout=5000)
    conn = window.session.bridge.connection(node_uri)
    thin = DomainXML.parse(conn.lookup_by_name("thin").xml_desc(INACTIVE))
    assert thin.disk("vda").source == str(tmp_path / "thin-vda.qcow2") and disk in thin.to_string()
    assert DomainXML.parse(conn.lookup_by_name("owner").xml_desc(INACTIVE)).disk("vda").readonly


def test_clone_is_for_a_shut_off_domain_and_says_so(open_window, node_uri):
    window = open_window(node_uri)
    select(window, "web01")  # running in the demo host
    action = window.findChild(QAction, "actionClone")
    assert not action.isEnabled() and "is running: shut it down to clone it" in action.toolTip()


def test_the_dialog_offers_only_a_full_copy_of_a_running_domain(qtbot):
    dialog = CloneDialog("web01", "web01-clone", lambda _name: None, running=True)
    qtbot.addWidget(dialog)
    assert dialog.full.isChecked() and not dialog.linked.isEnabled()
    assert dialog.linked.toolTip() == "web01 is running: shut it down for a linked clone"
    assert dialog.linked.accessibleName() == "Linked" and dialog.full.accessibleName() == "Full copy"
