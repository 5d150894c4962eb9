"""The delete dialog: warnings, explicit undefine flags, and disk files removed only when ticked."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QAction

from drivers import DriverError, ErrorCode
from drivers.domxml import Disk, DomainXML
from vmgui.views.dialogs.delete import DeleteDialog


def _uuid(window, uri: str, name: str) -> str | None:
    try:
        return window.session.bridge.connection(uri).lookup_by_name(name).uuid
    except Exception:  # noqa: BLE001 - gone
        return None


def open_delete(window, uri: str, name: str, qtbot) -> DeleteDialog:
    window.commands.last_dialog = None
    window.table.clearSelection()
    assert window.table.select_key((uri, _uuid(window, uri, name)))
    window.refresh_selection_state()
    window.findChild(QAction, "actionDelete").trigger()
    qtbot.waitUntil(lambda: isinstance(window.commands.last_dialog, DeleteDialog))
    return window.commands.last_dialog


def gone_from_table(window, key) -> bool:
    return window.session.domains.get(key) is None


def test_warnings_and_the_explicit_snapshot_tick(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    dialog = open_delete(window, node_uri, "win11", qtbot)
    assert "managed save" in dialog.warning.text() and dialog.metadata.isVisibleTo(dialog)
    assert all(not b.isChecked() for b in dialog.file_checks.values()) and dialog.file_checks
    dialog.reject()
    key = (node_uri, _uuid(window, node_uri, "legacy-app"))
    dialog = open_delete(window, node_uri, "legacy-app", qtbot)
    assert "⚠ legacy-app has 1 snapshot: its metadata would be removed" in dialog.warning.text()
    dialog.ok.click()  # without the tick: libvirt refuses
    qtbot.waitUntil(lambda: any(m.level == "error" and "legacy-app" in m.title
                                for m in window.session.messages.messages()))
    msg = next(m for m in window.session.messages.messages() if m.level == "error")
    assert "snapshot" in msg.text and window.session.domains.get(key) is not None
    dialog = open_delete(window, node_uri, "legacy-app", qtbot)
    dialog.metadata.setChecked(True)
    dialog.ok.click()
    qtbot.waitUntil(lambda: gone_from_table(window, key))


def test_disk_file_deleted_only_when_ticked(open_window, node_uri, tmp_path: Path, qtbot):
    window = open_window(node_uri)
    conn = window.session.bridge.connection(node_uri)
    files = {}
    for name in ("keep-me", "drop-me"):
        image = tmp_path / f"{name}.qcow2"
        image.write_bytes(b"disk")
        files[name] = image
        xml = DomainXML.new(name, 65536, 1)
        xml.add_disk(Disk("vda", source=str(image), format="qcow2"))
        conn.define_xml(xml.to_string())
    window.session.mark_dirty(node_uri, {_uuid(window, node_uri, n) for n in files})
    qtbot.waitUntil(lambda: all(window.session.domains.get((node_uri, _uuid(window, node_uri, n))) is not None
                                for n in files))
    for name, tick in (("keep-me", False), ("drop-me", True)):
        key = (node_uri, _uuid(window, node_uri, name))
        dialog = open_delete(window, node_uri, name, qtbot)
        box = dialog.file_checks[(name, str(files[name]))]
        assert not box.isChecked()
        box.setChecked(tick)
        dialog.ok.click()
        qtbot.waitUntil(lambda key=key: gone_from_table(window, key))
    qtbot.waitUntil(lambda: not files["drop-me"].exists())
    assert files["keep-me"].exists()
    assert not any(m.level == "error" for m in window.session.messages.messages())


def test_shared_disk_warning(qtbot):
    entry_disks = [Disk("vda", source="/img/shared.qcow2", shareable=True)]
    from vmgui.models.deletion import DeleteEntry
    entry = DeleteEntry("a", False, False, 0, entry_disks, {"/img/shared.qcow2": ["a", "b"]})
    dialog = DeleteDialog([entry])
    qtbot.addWidget(dialog)
    text = dialog.warning.text()
    assert "shareable" in text and "also used by b" in text
    assert dialog.flags() == 0 and not dialog.metadata.isVisibleTo(dialog)


def test_a_remote_hosts_disk_files_are_never_offered_for_deletion(qtbot, tmp_path: Path):
    from vmgui.models.deletion import DeleteEntry
    local_twin = tmp_path / "db01.qcow2"  # the same path on this machine must survive
    local_twin.write_text("not the remote disk")
    entry = DeleteEntry("db01", False, False, 0, [Disk("vda", source=str(local_twin))], {}, "db-host.example")
    dialog = DeleteDialog([entry])
    qtbot.addWidget(dialog)
    assert dialog.file_checks == {} and dialog.files("db01") == []
    assert "stay on db-host.example" in dialog.warning.text()


def test_running_domain_needs_the_force_off_tick(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    key = (node_uri, _uuid(window, node_uri, "test"))
    dialog = open_delete(window, node_uri, "test", qtbot)
    assert dialog.force.isVisibleTo(dialog) and not dialog.ok.isEnabled()
    assert "Force off" in dialog.error.text()
    dialog.force.setChecked(True)
    assert dialog.ok.isEnabled() and not dialog.error.text()
    dialog.ok.click()
    qtbot.waitUntil(lambda: gone_from_table(window, key))
    assert not any(m.level == "error" for m in window.session.messages.messages())


def _define_with_disk(window, uri: str, name: str, image: Path) -> str:
    conn = window.session.bridge.connection(uri)
    xml = DomainXML.new(name, 65536, 1)
    xml.add_disk(Disk("vda", source=str(image), format="qcow2"))
    uuid = conn.define_xml(xml.to_string()).uuid
    window.session.mark_dirty(uri, {uuid})
    return uuid


@pytest.fixture
def two_hosts(open_window, node_uri, make_node, tmp_path: Path):
    """(window showing the demo host and an empty second host, that host's URI, a disk image file)."""
    other = make_node(0)
    image = tmp_path / "disk.qcow2"
    image.write_bytes(b"guest data")
    return open_window(node_uri, other), other, image


def test_a_disk_another_hosts_vm_runs_on_is_not_offered_and_the_reason_is_shown(two_hosts, node_uri, qtbot):
    window, other, image = two_hosts
    writer = _define_with_disk(window, other, "writer", image)
    window.session.bridge.connection(other).lookup_by_uuid(writer).create()
    copy = _define_with_disk(window, node_uri, "copy", image)  # the shut-off copy a migration leaves
    qtbot.waitUntil(lambda: window.session.domains.get((node_uri, copy)) is not None)
    dialog = open_delete(window, node_uri, "copy", qtbot)
    box = dialog.file_checks[("copy", str(image))]
    note = dialog.refusals[("copy", str(image))]
    assert not box.isEnabled() and not box.isChecked()
    assert f"disk {image} is in use by VM 'writer' (uuid {writer}, running on {other})" in note.text()
    assert note.isVisibleTo(dialog) and "in use by VM 'writer'" in box.accessibleDescription()
    box.setChecked(True)  # even forced, a disabled box deletes nothing
    assert dialog.files("copy") == []
    dialog.ok.click()
    qtbot.waitUntil(lambda: gone_from_table(window, (node_uri, copy)))
    assert image.read_bytes() == b"guest data"
    assert not any(m.level == "error" for m in window.session.messages.messages())


def test_when_the_driver_refuses_at_delete_time_nothing_is_undefined(two_hosts, node_uri, qtbot):
    window, other, image = two_hosts
    key = (node_uri, _define_with_disk(window, node_uri, "late", image))
    qtbot.waitUntil(lambda: window.session.domains.get(key) is not None)
    dialog = open_delete(window, node_uri, "late", qtbot)
    box = dialog.file_checks[("late", str(image))]
    assert box.isEnabled() and not dialog.refusals
    # while the dialog is open, a VM of another host starts on the same file
    writer = _define_with_disk(window, other, "late-writer", image)
    window.session.bridge.connection(other).lookup_by_uuid(writer).create()
    box.setChecked(True)
    dialog.ok.click()
    qtbot.waitUntil(lambda: any(m.level == "error" for m in window.session.messages.messages()))
    msg = next(m for m in window.session.messages.messages() if m.level == "error")
    assert "'late' was not deleted" in msg.text and "in use by VM 'late-writer'" in msg.text
    assert window.session.bridge.connection(node_uri).lookup_by_uuid(key[1]).is_persistent()
    assert window.session.domains.get(key) is not None and image.read_bytes() == b"guest data"


def test_without_an_answer_from_the_driver_no_disk_file_is_offered(two_hosts, node_uri, monkeypatch, qtbot):
    window, _other, image = two_hosts
    key = (node_uri, _define_with_disk(window, node_uri, "unsure", image))
    qtbot.waitUntil(lambda: window.session.domains.get(key) is not None)

    async def no_answer(uri, uuid, paths):
        raise DriverError(ErrorCode.OPERATION_TIMEOUT, "the host did not answer within 30 s")
    monkeypatch.setattr(window.session.bridge, "check_delete_disks", no_answer)
    dialog = open_delete(window, node_uri, "unsure", qtbot)
    assert not dialog.file_checks[("unsure", str(image))].isEnabled()
    assert "cannot tell whether" in dialog.refusals[("unsure", str(image))].text()
    assert "did not answer" in dialog.refusals[("unsure", str(image))].text()
