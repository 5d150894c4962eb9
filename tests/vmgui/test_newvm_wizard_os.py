"""The New VM wizard names the system on a real ISO, proposes what it wants, warns before Finish, and stays
open with everything typed when creating fails (real window on the test driver, offscreen)."""
from __future__ import annotations

import os

import pytest
import test_newvm
from isoimages import DEBIAN_11, DEBIAN_11_FILE, MICROSOFT, WINDOWS_11, make_iso, stated_ram_and_storage
from PySide6.QtWidgets import QLabel, QWizard
from test_newvm import answer_at_once, disk_jobs, next_button, open_wizard, settle, shown

from drivers.osinfo import OsInfoDb
from vmgui.models.newvm import GIB, MIB, Boot, Devices, Target
from vmgui.views.dialogs.newvm import NewVMDialog
from vmgui.views.theme import error_style

images = test_newvm.images  # test:/// keeps new disks in a private data folder
needs_db = pytest.mark.skipif(OsInfoDb().root is None, reason="osinfo-db is not installed (Debian: osinfo-db)")


def label(dialog: NewVMDialog, name: str) -> QLabel:
    found = dialog.findChild(QLabel, name)
    assert found is not None, name
    return found


def warnings_of(dialog: NewVMDialog, page: str) -> str:
    box = label(dialog, f"newVmWarnings{page}")
    return box.text() if box.isVisibleTo(dialog) else ""


def first_page(qtbot, dialog: NewVMDialog, name: str, iso: str) -> None:
    dialog.name.setText(name)
    dialog.iso.setText(iso)
    qtbot.waitUntil(next_button(dialog).isEnabled, timeout=10000)


@needs_db
def test_a_debian_iso_is_detected_and_its_recommendations_are_proposed(open_window, node_uri, images, qtbot,
                                                                      tmp_path):
    window = open_window(node_uri)
    dialog = open_wizard(window, qtbot)
    first_page(qtbot, dialog, "deb", str(make_iso(tmp_path / "debian.iso", DEBIAN_11)))
    detected = label(dialog, "newVmDetected")
    qtbot.waitUntil(lambda: detected.text() == "Detected: Debian 11 (bullseye)", timeout=10000)
    assert detected.isVisibleTo(dialog)
    dialog.next()
    ram, _, storage, _ = stated_ram_and_storage(window.session.osinfo.root, DEBIAN_11_FILE)
    assert (dialog.memory.value(), dialog.disk_size.text()) == (ram // MIB, f"{storage // GIB} GiB")
    assert dialog.devices.currentData() is Devices.VIRTIO and dialog.firmware.currentData() is Boot.BIOS
    assert label(dialog, "newVmProposed").text() == (
        f"Proposed for Debian 11 (bullseye): {ram // MIB} MiB memory, {storage // GIB} GiB disk, BIOS firmware, "
        "virtio devices. Change any of them here.")
    # every proposal stays the user's to change: a later look at the files does not undo it
    dialog.memory.setValue(1536)
    dialog.disk_size.setText("8 GiB")
    settle(qtbot, dialog)
    assert (dialog.memory.value(), dialog.disk_size.text()) == (1536, "8 GiB")
    assert "Debian 11 (bullseye) needs a disk of at least 10.0 GiB." in warnings_of(dialog, "1")
    assert next_button(dialog).isEnabled()  # a warning, not a problem
    dialog.next()
    assert "(detected: Debian 11 (bullseye))" in dialog.summary.text()


@needs_db
def test_windows_11_gets_uefi_secure_boot_a_tpm_and_emulated_devices(qtbot, tmp_path):
    images_dir = tmp_path / "images"
    images_dir.mkdir()
    target = Target("qemu:///embed", str(images_dir), boots=(Boot.BIOS, Boot.UEFI, Boot.SECURE_BOOT), tpm=True,
                    memory_bytes=16 * GIB, image_free_bytes=500 * GIB)
    dialog = NewVMDialog([target], lambda _uri: frozenset(), None, 16384, 4)
    answer_at_once(dialog)
    db = OsInfoDb()
    asked = []
    dialog.medium_seen.connect(lambda medium: (asked.append(medium), dialog.detect(medium, db.identify(medium))))
    qtbot.addWidget(dialog)
    dialog.open()
    first_page(qtbot, dialog, "win11", str(make_iso(tmp_path / "win11.iso", WINDOWS_11, MICROSOFT)))
    qtbot.waitUntil(lambda: label(dialog, "newVmDetected").text() == "Detected: Microsoft Windows 11")
    dialog.next()
    assert (dialog.memory.value(), dialog.disk_size.text()) == (4096, "64 GiB")
    assert dialog.firmware.currentData() is Boot.SECURE_BOOT and dialog.tpm.isChecked()
    assert dialog.devices.currentData() is Devices.EMULATED
    assert dialog.devices.currentText() == "SATA disk and e1000e network card (no extra drivers needed)"
    assert warnings_of(dialog, "1") == ""
    dialog.tpm.setChecked(False)  # the user may still say no
    assert warnings_of(dialog, "1") == \
        "Microsoft Windows 11 needs a TPM 2.0: its installer refuses to go on without one."
    assert not dialog.tpm.isChecked() and next_button(dialog).isEnabled()
    assert len(asked) == 1  # the ISO's names were handed over once, not on every re-check


def test_a_file_that_is_not_an_iso_is_refused_on_the_first_page(qtbot, tmp_path):
    not_a_cd = tmp_path / "passwd"
    not_a_cd.write_text("root:x:0:0:root:/root:/bin/bash\n")
    dialog = NewVMDialog([Target("test:///x", str(tmp_path))], lambda _uri: frozenset(), None)
    answer_at_once(dialog)
    qtbot.addWidget(dialog)
    dialog.open()
    dialog.name.setText("vm1")
    dialog.iso.setText(str(not_a_cd))
    settle(qtbot, dialog)
    error = dialog.source_page.findChild(QLabel, "dialogError")
    assert error.text() == (f"{not_a_cd} is not a CD/DVD image (no ISO 9660 or UDF volume descriptor): "
                            "choose an installer .iso file.")
    assert not next_button(dialog).isEnabled() and error.styleSheet() == error_style()


def test_without_osinfo_db_the_wizard_keeps_its_defaults_and_says_nothing(open_window, node_uri, images, qtbot,
                                                                          tmp_path):
    window = open_window(node_uri)
    window.session.osinfo = OsInfoDb(str(tmp_path / "no-osinfo"))
    dialog = open_wizard(window, qtbot)
    before = dialog.memory.value()
    first_page(qtbot, dialog, "plain", str(make_iso(tmp_path / "debian.iso", DEBIAN_11)))
    qtbot.wait(300)  # time for an answer that must not change anything
    assert label(dialog, "newVmDetected").text() == ""
    dialog.next()
    assert (dialog.memory.value(), dialog.disk_size.text()) == (before, "20 GiB")
    assert not label(dialog, "newVmProposed").isVisibleTo(dialog)
    assert dialog.devices.currentData() is Devices.VIRTIO


def test_memory_beyond_90_percent_of_the_host_and_a_disk_beyond_its_free_space_warn(open_window, node_uri,
                                                                                     images, qtbot, tmp_path):
    window = open_window(node_uri)
    dialog = open_wizard(window, qtbot)
    host = dialog.target().memory_bytes
    assert host == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")  # the simulated host is this machine
    first_page(qtbot, dialog, "big", str(make_iso(tmp_path / "installer.iso", "INSTALLER")))
    dialog.next()
    dialog.disk_size.setText("1 GiB")  # fits wherever the tests run (a CI root's /tmp may be small)
    qtbot.waitUntil(lambda: warnings_of(dialog, "1") == "", timeout=10000)
    dialog.memory.setValue(host // MIB)
    assert warnings_of(dialog, "1").startswith(f"{host // MIB} MiB is more than 90 % of the host's ")
    folder = tmp_path / "small"
    folder.mkdir()
    dialog.disk_path.setText(str(folder / "big.qcow2"))
    dialog.disk_size.setText("64 TiB")
    qtbot.waitUntil(lambda: "free in " + str(folder) in warnings_of(dialog, "1"), timeout=10000)
    assert "The 65536 GiB disk is larger than the " in warnings_of(dialog, "1")
    assert next_button(dialog).isEnabled()  # warnings never block


def test_a_taken_name_is_refused_on_the_first_page_before_finish(open_window, node_uri, images, qtbot, tmp_path):
    window = open_window(node_uri)
    dialog = open_wizard(window, qtbot)
    dialog.name.setText("test")  # test:///default's own domain
    dialog.iso.setText(str(make_iso(tmp_path / "installer.iso", "INSTALLER")))
    settle(qtbot, dialog)
    error = dialog.source_page.findChild(QLabel, "dialogError")
    assert error.text() == f"A domain named “test” already exists on {node_uri}."
    assert not next_button(dialog).isEnabled()


def test_a_failure_after_finish_keeps_the_wizard_open_with_everything_typed(open_window, node_uri, images, qtbot,
                                                                           tmp_path):
    window = open_window(node_uri)
    dialog = open_wizard(window, qtbot)
    first_page(qtbot, dialog, "late", str(make_iso(tmp_path / "installer.iso", "INSTALLER")))
    dialog.next()
    dialog.memory.setValue(768)
    dialog.disk_size.setText("64 MiB")
    qtbot.waitUntil(next_button(dialog).isEnabled)
    dialog.next()
    images.mkdir(parents=True, exist_ok=True)
    (images / "late.qcow2").write_bytes(b"mine")  # another program takes the file after the wizard looked
    finish = dialog.button(QWizard.WizardButton.FinishButton)
    ended: list[int] = []
    dialog.finished.connect(ended.append)
    finish.click()
    failure = label(dialog, "newVmFailure")
    qtbot.waitUntil(lambda: "was not created" in failure.text(), timeout=10000)
    assert failure.text() == (f"late was not created: {images / 'late.qcow2'} already exists: choose another "
                              "file name, or import it.")
    assert failure.styleSheet() == error_style()
    assert dialog.isVisible() and ended == []
    assert (dialog.name.text(), dialog.memory.value(), dialog.disk_size.text()) == ("late", 768, "64 MiB")
    assert (images / "late.qcow2").read_bytes() == b"mine" and disk_jobs(window, node_uri) == []
    # the user moves the file away and presses Finish again: now it is created and the wizard closes
    (images / "late.qcow2").unlink()
    dialog.back()
    dialog.next()
    qtbot.waitUntil(finish.isEnabled, timeout=10000)
    finish.click()
    qtbot.waitUntil(lambda: shown(window, node_uri, "late"), timeout=10000)
    qtbot.waitUntil(lambda: ended == [QWizard.DialogCode.Accepted.value], timeout=10000)
