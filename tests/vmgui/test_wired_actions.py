"""The toolbar actions reach their flows: the external viewer starts a viewer, Migrate opens the checked dialog."""
from __future__ import annotations

import json

from PySide6.QtGui import QAction
from test_vnc import NS, _recording_viewer

from vmgui.views.dialogs.migrate import MigrateDialog


def test_action_opens_the_viewer(open_window, make_node, tmp_path, monkeypatch, qtbot):
    sock = str(tmp_path / "g.vnc")
    uri = make_node(xml=(f"<node><domain type='test' xmlns:test='{NS}'><name>g</name><memory unit='MiB'>64</memory>"
                         f"<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices><graphics type='vnc' "
                         f"socket='{sock}'/></devices><test:runstate>1</test:runstate></domain></node>"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorded = _recording_viewer(bin_dir, "vncviewer")
    monkeypatch.setenv("PATH", str(bin_dir))
    window = open_window(uri)
    assert window.table.select_key((uri, window.session.bridge.connection(uri).lookup_by_name("g").uuid))
    window.refresh_selection_state()
    action = window.findChild(QAction, "actionExternalViewer")
    assert action.isEnabled() and "in vncviewer" in action.toolTip()
    action.trigger()
    qtbot.waitUntil(lambda: recorded.exists() and recorded.read_text().endswith("}"), timeout=10000)
    assert json.loads(recorded.read_text())["argv"][1:] == [sock]


def test_action_migrate_opens_the_checked_dialog(open_window, node_uri, make_node, qtbot):
    dest = make_node(0)
    window = open_window(node_uri, dest)
    assert window.table.select_key((node_uri, window.session.bridge.connection(node_uri).lookup_by_name("web01").uuid))
    window.refresh_selection_state()
    window.findChild(QAction, "actionMigrate").trigger()
    dialog = window.commands.last_dialog
    assert isinstance(dialog, MigrateDialog)
    qtbot.waitUntil(dialog.start.isEnabled)
