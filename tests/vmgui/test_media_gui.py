"""The Hardware tab's CD rows in the real window on a private test:/// host: Change… and Eject."""
from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QLabel, QPushButton
from test_window import select

from drivers.domxml import DomainXML

INACTIVE = 2
CD_VM = ("<domain type='test'><name>cdvm</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>"
         "<devices><disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk></devices>"
         "</domain>")


def medium(window, uri: str, flags: int = 0) -> str | None:
    dom = window.session.bridge.connection(uri).lookup_by_name("cdvm")
    return DomainXML.parse(dom.xml_desc(flags)).disk("sda").source


def hardware_of(window, qtbot, uri: str):
    window.session.bridge.connection(uri).define_xml(CD_VM)
    qtbot.waitUntil(lambda: "cdvm" in window.session.domains.names(uri), timeout=5000)
    select(window, "cdvm")
    window.details.setCurrentWidget(window.details.hardware)
    hardware = window.details.hardware
    qtbot.waitUntil(lambda: hardware.findChild(QLabel, "cdMedium_sda") is not None, timeout=5000)
    return hardware


def row(hardware) -> tuple[QLabel, QPushButton, QPushButton]:
    return (hardware.findChild(QLabel, "cdMedium_sda"), hardware.findChild(QPushButton, "changeCd_sda"),
            hardware.findChild(QPushButton, "ejectCd_sda"))


def test_change_puts_the_chosen_image_in_the_drive_and_eject_empties_it(open_window, node_uri, qtbot, tmp_path):
    iso = tmp_path / "install.iso"
    iso.write_bytes(b"\0" * 4096)
    window = open_window(node_uri)
    hardware = hardware_of(window, qtbot, node_uri)
    label, change, eject = row(hardware)
    assert label.text() == "CD sda: empty"
    assert change.isEnabled() and change.text() == "Change…"
    assert change.accessibleName() == "Change the CD in drive sda"
    assert not eject.isEnabled() and eject.toolTip() == "Drive sda is empty"

    change.click()
    chooser = hardware.findChild(QFileDialog, "cdImageChooser")
    assert chooser is not None and chooser.isVisible() and chooser.fileMode() is QFileDialog.FileMode.ExistingFile
    chooser.selectFile(str(iso))
    chooser.accept()
    qtbot.waitUntil(lambda: row(hardware)[0] is not None and row(hardware)[0].text() == f"CD sda: {iso}",
                    timeout=5000)
    assert medium(window, node_uri) == str(iso), "a shut-off domain gets the medium in its definition"
    assert window.statusBar().currentMessage() == f"cdvm has {iso} in drive sda"

    window.session.bridge.connection(node_uri).lookup_by_name("cdvm").create()
    qtbot.waitUntil(lambda: window.session.domains.get((node_uri, _uuid(window, node_uri))).rec.active, timeout=5000)
    label, change, eject = row(hardware)
    assert eject.isEnabled() and eject.accessibleName() == "Eject the CD from drive sda"
    eject.click()
    qtbot.waitUntil(lambda: row(hardware)[0] is not None and row(hardware)[0].text() == "CD sda: empty", timeout=5000)
    assert medium(window, node_uri) is None and medium(window, node_uri, INACTIVE) is None, \
        "a running persistent domain has the CD ejected now and at its next start"
    assert window.statusBar().currentMessage() == "Ejected the CD of cdvm (drive sda)"


def test_a_missing_image_is_refused_with_a_sentence(open_window, node_uri, qtbot, tmp_path):
    window = open_window(node_uri)
    hardware = hardware_of(window, qtbot, node_uri)
    drive = hardware.drives[0]
    hardware.controller.change(hardware.key, drive, str(tmp_path / "gone.iso"))
    messages = window.session.messages
    qtbot.waitUntil(lambda: any("gone.iso does not exist" in m.full_text() for m in messages.messages()),
                    timeout=5000)
    shown = next(m for m in messages.messages() if "gone.iso does not exist" in m.full_text())
    assert shown.level == "error" and shown.title.startswith("Changing the CD of cdvm")
    assert medium(window, node_uri) is None and row(hardware)[0].text() == "CD sda: empty"


def _uuid(window, uri: str) -> str:
    return window.session.bridge.connection(uri).lookup_by_name("cdvm").uuid

