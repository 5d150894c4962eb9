"""Real QEMU and the real Linux guest behind the Hardware tab's CD row: the guest reads what Change… put in.

The private-root fixtures (``env``, ``linux_guest``, ``guest_kernel``) are tests/e2e/conftest.py's
(borrowed_fixtures); the window is this directory's offscreen one.
"""
from __future__ import annotations

import pytest
from borrowed_fixtures import borrow
from PySide6.QtWidgets import QFileDialog, QLabel, QPushButton
from test_window import select

_e2e = borrow("e2e")  # also puts tests/e2e on sys.path
env, guest_kernel, linux_guest = _e2e.env, _e2e.guest_kernel, _e2e.linux_guest
import e2e_helpers as h  # noqa: E402
from test_qemu_media import EMPTY_CD, GuestCD, make_iso  # noqa: E402

pytestmark = [pytest.mark.qemu, pytest.mark.slow,
              pytest.mark.skipif(not (h.QEMU and h.QEMU_IMG), reason="qemu-system-x86_64 / qemu-img are not installed")]


def test_the_guest_reads_the_cd_chosen_in_the_hardware_tab_and_finds_none_after_eject(env, linux_guest, open_window,
                                                                                      qtbot, tmp_path):
    iso = make_iso(tmp_path / "tools.iso", "VMGUITOOLS")
    conn = env.open()
    dom = conn.define_xml(env.linux_xml("cdgui", extra_devices=EMPTY_CD))
    dom.create()
    serial = env.guest("cdgui")
    serial.wait_for(b"VMGUI READY", timeout=90)
    guest = GuestCD(dom, serial)
    window = open_window(env.uri())
    select(window, "cdgui")
    window.details.setCurrentWidget(window.details.hardware)
    hardware = window.details.hardware

    def medium_text() -> str | None:
        label = hardware.findChild(QLabel, "cdMedium_sda")
        return label.text() if label is not None else None
    qtbot.waitUntil(lambda: medium_text() == "CD sda: empty", timeout=10000)
    hardware.findChild(QPushButton, "changeCd_sda").click()
    chooser = hardware.findChild(QFileDialog, "cdImageChooser")
    chooser.selectFile(iso)
    chooser.accept()
    qtbot.waitUntil(lambda: medium_text() == f"CD sda: {iso}", timeout=20000)
    assert guest.volume_id() == "VMGUITOOLS"

    hardware.findChild(QPushButton, "ejectCd_sda").click()
    qtbot.waitUntil(lambda: medium_text() == "CD sda: empty", timeout=20000)
    assert guest.volume_id() == ""
    assert hardware.findChild(QPushButton, "changeCd_sda").isEnabled(), "the drive stays, ready for another CD"
