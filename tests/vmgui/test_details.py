"""The details pane in the real window on private test:/// hosts: uptime, graphs, hardware,
the edit form and the XML editor with its diff."""
from __future__ import annotations

import re
import zlib

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton
from test_window import names, select

from drivers.domxml import DomainXML, Graphics
from vmgui.models.editing import changed_lines
from vmgui.models.hardware import summary

INACTIVE = 2
SECURE = 1


def conn(window, uri):
    return window.session.bridge.connection(uri)


def definition(window, uri: str, name: str) -> DomainXML:
    return DomainXML.parse(conn(window, uri).lookup_by_name(name).xml_desc(INACTIVE))


def open_form(window, qtbot, name: str):
    select(window, name)
    window.details.findChild(QPushButton, "editDomain").click()
    qtbot.waitUntil(lambda: window.details.flow.dialog is not None and window.details.flow.dialog.isVisible())
    return window.details.flow.dialog


def test_overview_uptime_and_graphs_follow_the_shown_running_domain(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    details = window.details
    select(window, "test")
    assert re.fullmatch(r"(\d+ d )?\d+:\d\d(:\d\d)?", details.values["Uptime"].text())
    assert details.sampling()
    key = (node_uri, conn(window, node_uri).lookup_by_name("test").uuid)
    qtbot.waitUntil(lambda: sum(p.cpu is not None for p in window.session.history.points(key)) >= 2, timeout=8000)
    # the simulated guest keeps a fixed load per uuid: CPU % = delta cpu time / delta wall time / vCPUs
    load = 5 + zlib.crc32(key[1].encode()) % 60
    cpu = details.cpu_graph.values
    assert all(abs(v - load) <= 2 for v in cpu if v is not None) and len(cpu) >= 2
    assert details.cpu_graph.last_text().endswith("%")
    assert details.cpu_graph.accessibleName() == "CPU"  # what a person reads, not the objectName
    rec = window.session.domains.get(key).rec
    used = details.memory_graph.values[-1]
    assert 0 < used < rec.memory_kib * 1024 and used % 1024 == 0  # what the guest uses, not its allocation

    details.setCurrentWidget(details.xml)
    assert not details.sampling()  # the graphs are hidden: no more re-reads
    details.setCurrentWidget(details.overview)
    assert details.sampling()
    select(window, "backup-store")
    assert not details.sampling() and details.values["Uptime"].text() == "—"
    assert details.cpu_graph.last_text() == "not running"
    select(window)
    assert not details.sampling()


def test_hardware_summary_lists_disks_nics_graphics_and_serial(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "web01")
    window.details.setCurrentWidget(window.details.hardware)
    label = window.details.findChild(QLabel, "hardwareSummary")
    qtbot.waitUntil(lambda: "Disk vda" in label.text())
    text = label.text()
    for part in ("/var/lib/vmgui/images/web01-0.qcow2", "qcow2", "network default", "52:54:00:1c:6b:4a", "VNC",
                 "Serial"):
        assert part in text, part


def test_edit_form_says_why_ok_is_disabled(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    dialog = open_form(window, qtbot, "backup-store")
    assert dialog.objectName() == "editDialog" and dialog.ok.isEnabled() and dialog.name.isEnabled()
    for field, value, sentence in ((dialog.name, "bad/name", "Invalid domain name"),
                                   (dialog.name, "web01", "already called web01")):
        field.setText(value)
        assert sentence in dialog.error.text() and not dialog.ok.isEnabled()
    dialog.name.setText("backup-store")
    dialog.memory.setValue(0)
    assert "at least 1 MiB" in dialog.error.text() and not dialog.ok.isEnabled()
    dialog.memory.setValue(1024)
    dialog.vcpus.setValue(5000)
    assert "between 1 and 4096" in dialog.error.text() and not dialog.ok.isEnabled()
    dialog.vcpus.setValue(2)
    assert dialog.ok.isEnabled() and dialog.error.text() == ""
    dialog.reject()


def test_running_domain_name_is_greyed_and_changes_wait_for_the_next_start(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    dialog = open_form(window, qtbot, "test")
    assert not dialog.name.isEnabled()
    assert "Changes apply at the next start" in dialog.findChild(QLabel, "editNotice").text()
    dialog.reject()


def test_applied_edit_becomes_the_new_definition(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    before = definition(window, node_uri, "backup-store")
    dialog = open_form(window, qtbot, "backup-store")
    dialog.title_edit.setText("Nightly backups")
    dialog.memory.setValue(2048)
    dialog.vcpus.setValue(3)
    boot = dialog.boot
    cdrom = boot.findItems("cdrom", Qt.MatchFlag.MatchExactly)[0]
    cdrom.setCheckState(Qt.CheckState.Checked)
    boot.setCurrentItem(cdrom)
    dialog.move_boot(-1)
    dialog.nic_type.setCurrentText("bridge")
    dialog.nic_source.setText("br0")
    dialog.findChild(QPushButton, "editNicAdd").click()
    assert dialog.boot_order() == ("cdrom", "hd") and dialog.ok.isEnabled()
    dialog.ok.click()
    qtbot.waitUntil(lambda: window.details.flow.diff is not None and window.details.flow.diff.isVisible())
    diff = window.details.flow.diff
    assert diff.objectName() == "xmlDiffDialog"
    assert "+  <vcpu>3</vcpu>" in diff.lines and "-  <vcpu>1</vcpu>" in diff.lines
    assert "+  <title>Nightly backups</title>" in diff.lines
    assert definition(window, node_uri, "backup-store").vcpus == before.vcpus  # nothing applied yet
    diff.findChild(QPushButton, "diffApply").click()
    qtbot.waitUntil(lambda: definition(window, node_uri, "backup-store").vcpus == 3)
    after = definition(window, node_uri, "backup-store")
    assert (after.uuid, after.title, after.memory_kib) == (before.uuid, "Nightly backups", 2048 * 1024)
    assert after.boot_devices == ["cdrom", "hd"]
    assert [(i.type, i.source) for i in after.interfaces()][-1] == ("bridge", "br0")
    assert after.disks() == before.disks()
    qtbot.waitUntil(lambda: window.details.values["vCPUs"].text() == "3")


def test_rename_of_a_shut_off_domain(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    uuid = conn(window, node_uri).lookup_by_name("backup-store").uuid
    dialog = open_form(window, qtbot, "backup-store")
    dialog.name.setText("archive")
    dialog.autostart.setChecked(True)
    dialog.ok.click()  # no XML change: no diff, straight to rename and autostart
    qtbot.waitUntil(lambda: "archive" in names(window))
    dom = conn(window, node_uri).lookup_by_name("archive")
    assert dom.uuid == uuid and dom.autostart and "backup-store" not in names(window)


def start_xml_edit(window, qtbot, name: str):
    select(window, name)
    pane = window.details.xml
    window.details.setCurrentWidget(pane)
    pane.findChild(QPushButton, "editXml").click()
    qtbot.waitUntil(lambda: not pane.isReadOnly())
    return pane


def test_xml_editor_shows_the_error_path_and_keeps_apply_disabled(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    pane = start_xml_edit(window, qtbot, "backup-store")
    apply = pane.findChild(QPushButton, "applyXml")
    assert not apply.isEnabled()  # nothing changed yet
    pane.setPlainText(pane.toPlainText().replace("<vcpu>1</vcpu>", "<vcpu>lots</vcpu>"))
    pane.findChild(QPushButton, "validateXml").click()
    assert "/domain/vcpu" in pane.findChild(QLabel, "xmlError").text() and not apply.isEnabled()
    pane.setPlainText(pane.toPlainText().replace("</domain>", ""))
    qtbot.waitUntil(lambda: "not well-formed" in pane.error.text())
    assert not apply.isEnabled()


def test_xml_editor_diff_then_apply_or_cancel(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    pane = start_xml_edit(window, qtbot, "backup-store")
    base = pane.toPlainText()
    vcpu = re.search(r"\s*<vcpu>1</vcpu>", base).group().strip("\n")
    pane.setPlainText(base.replace("<vcpu>1</vcpu>", "<vcpu>2</vcpu>"))
    qtbot.waitUntil(lambda: pane.apply_button.isEnabled())
    pane.apply_button.click()
    diff = window.details.flow.diff
    assert changed_lines(diff.lines) == ["-" + vcpu, "+" + vcpu.replace("1", "2")]
    diff.reject()  # Cancel: nothing changes, the edit stays
    qtbot.wait(50)
    assert definition(window, node_uri, "backup-store").vcpus == 1 and not pane.isReadOnly()
    pane.apply_button.click()
    window.details.flow.diff.findChild(QPushButton, "diffApply").click()
    qtbot.waitUntil(lambda: definition(window, node_uri, "backup-store").vcpus == 2)
    qtbot.waitUntil(lambda: pane.isReadOnly() and "<vcpu>2</vcpu>" in pane.toPlainText())


def test_xml_edits_survive_a_selection_change_as_a_draft(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    pane = start_xml_edit(window, qtbot, "backup-store")
    edited = pane.toPlainText().replace("<vcpu>1</vcpu>", "<vcpu>3</vcpu>")
    pane.setPlainText(edited)
    select(window, "web01")
    qtbot.waitUntil(lambda: "<name>web01</name>" in pane.toPlainText())
    assert pane.isReadOnly()
    select(window, "backup-store")
    assert pane.toPlainText() == edited and not pane.isReadOnly()
    pane.findChild(QPushButton, "discardXml").click()
    qtbot.waitUntil(lambda: "<vcpu>1</vcpu>" in pane.toPlainText() and pane.isReadOnly())


def test_remove_takes_out_only_the_selected_disk_or_nic(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    before = definition(window, node_uri, "web01")
    dialog = open_form(window, qtbot, "web01")
    disks = [dialog.disk_list.item(i).text() for i in range(dialog.disk_list.count())]
    assert disks and dialog.nic_list.count() == len(before.interfaces()) >= 1
    dialog.findChild(QPushButton, "editDiskRemove").click()  # nothing selected: nothing removed
    assert dialog.disk_list.count() == len(disks)
    dialog.disk_list.setCurrentRow(0)
    dialog.findChild(QPushButton, "editDiskRemove").click()
    assert [dialog.disk_list.item(i).text() for i in range(dialog.disk_list.count())] == disks[1:]
    dialog.nic_list.setCurrentRow(0)
    dialog.findChild(QPushButton, "editNicRemove").click()
    new = DomainXML.parse(dialog.plan().xml)
    assert [d.target for d in new.disks()] == [d.target for d in before.disks()[1:]]
    assert new.interfaces() == before.interfaces()[1:]
    dialog.reject()


def test_the_firmware_and_tpm_show_in_the_hardware_summary():
    xml = DomainXML.parse("<domain type='qemu'><name>s</name><memory>65536</memory><os firmware='efi'>"
                          "<type machine='q35'>hvm</type><firmware><feature enabled='yes' name='secure-boot'/>"
                          "</firmware></os><devices><tpm model='tpm-crb'><backend type='emulator' version='2.0'/>"
                          "</tpm></devices></domain>")
    assert ("Firmware", "UEFI with Secure Boot, TPM 2.0 (tpm-crb)") in summary(xml)
    bios = DomainXML.parse("<domain type='qemu'><name>b</name><memory>65536</memory></domain>")
    assert ("Firmware", "BIOS") in summary(bios)


def test_the_edit_form_shows_the_firmware_read_only(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    dialog = open_form(window, qtbot, "backup-store")
    assert dialog.firmware.text() == "BIOS (chosen when the VM was created)"
    assert isinstance(dialog.firmware, QLabel) and dialog.firmware.accessibleName() == "Firmware"


def test_uptime_is_frozen_and_says_paused_while_paused_and_restarts_at_a_guest_reset(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    uptime = window.details.values["Uptime"]
    dom = conn(window, node_uri).lookup_by_name("test")
    select(window, "test")
    # the pane re-reads a running domain every second: its next reading shows the time run
    qtbot.waitUntil(lambda: re.fullmatch(r"0:0[1-9]", uptime.text()) is not None, timeout=9000)
    dom.suspend()  # not through the GUI: the pane follows the event
    qtbot.waitUntil(lambda: uptime.text().endswith(" (paused)"), timeout=5000)
    frozen = uptime.text()
    assert re.fullmatch(r"0:0[1-9] \(paused\)", frozen)
    qtbot.wait(2100)
    window.refresh_selection_state()
    assert uptime.text() == frozen, "no time passes for a paused guest"
    dom.resume()
    dom.reset()  # the guest boots again: its uptime starts from 0
    qtbot.waitUntil(lambda: uptime.text() == "0:00", timeout=5000)


def test_a_display_password_is_hidden_from_the_xml_tab_and_kept_by_edits(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    dom = conn(window, node_uri).lookup_by_name("backup-store")
    with_password = DomainXML.parse(dom.xml_desc(INACTIVE | SECURE))
    with_password.add_device(Graphics("vnc", passwd="s3cret"))
    conn(window, node_uri).define_xml(with_password.to_string())
    assert "s3cret" not in dom.xml_desc(INACTIVE) and "passwd" not in dom.xml_desc(), "hidden from plain reads"
    select(window, "backup-store")
    pane = window.details.xml
    window.details.setCurrentWidget(pane)
    qtbot.waitUntil(lambda: "<graphics" in pane.toPlainText())
    assert "s3cret" not in pane.toPlainText(), "the XML tab shows what a plain read shows"

    pane = start_xml_edit(window, qtbot, "backup-store")
    assert "passwd=\"s3cret\"" in pane.toPlainText() or "passwd='s3cret'" in pane.toPlainText(), \
        "an edit starts from the whole definition, so applying it keeps the password"
    pane.setPlainText(pane.toPlainText().replace("<vcpu>1</vcpu>", "<vcpu>2</vcpu>"))
    qtbot.waitUntil(lambda: pane.apply_button.isEnabled())
    pane.apply_button.click()
    window.details.flow.diff.findChild(QPushButton, "diffApply").click()
    qtbot.waitUntil(lambda: definition(window, node_uri, "backup-store").vcpus == 2)

    dialog = open_form(window, qtbot, "backup-store")  # the form too
    memory_kib = definition(window, node_uri, "backup-store").memory_kib
    dialog.memory.setValue(memory_kib // 1024 + 256)
    dialog.ok.click()
    window.details.flow.diff.findChild(QPushButton, "diffApply").click()
    qtbot.waitUntil(lambda: definition(window, node_uri, "backup-store").memory_kib == memory_kib + 256 * 1024)
    saved = DomainXML.parse(dom.xml_desc(INACTIVE | SECURE))
    assert [g.passwd for g in saved.graphics()] == [g.passwd for g in with_password.graphics()]
    assert "s3cret" in [g.passwd for g in saved.graphics()] and saved.vcpus == 2
