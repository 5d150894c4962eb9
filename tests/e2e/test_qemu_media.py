"""Real QEMU, real Linux: a running guest's CD is inserted, changed and ejected, and the guest reads each medium."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from refusals import refused

from drivers import DeviceModifyFlags, DomainXMLFlags, ErrorCode
from drivers.domxml import DomainXML
from drivers.locking import LeaseMode
from drivers.locking.holders import inspect

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

EMPTY_CD = ("<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
            "<target dev='sda' bus='sata'/><readonly/></disk>")


def cd_drive(path: str) -> str:
    """A SATA CD-ROM drive holding ``path``."""
    return EMPTY_CD.replace("<target", f"<source file='{path}'/><target")
_VOLID = re.compile(rb"VMGUI VOLID \[([^\]\r\n]*)\]")


def make_iso(path: Path, volume_id: str) -> str:
    """A small ISO 9660 image whose volume id is ``volume_id``."""
    content = path.with_suffix(".d")
    content.mkdir()
    (content / "README.TXT").write_text(f"medium {volume_id}\n")
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", volume_id, "-o", str(path), str(content)],
                   check=True, capture_output=True)
    return str(path)


def cd_xml(path: str | None) -> str:
    source = f"<source file='{path}'/>" if path else ""
    return f"<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>{source}<target dev='sda'/></disk>"


class GuestCD:
    """The guest's view of /dev/sr0, asked through its serial shell."""

    def __init__(self, dom, serial) -> None:
        self.dom, self.serial, self.asked = dom, serial, 0

    def volume_id(self) -> str:
        """The volume id the guest reads at offset 32808 of /dev/sr0 ("" without a medium).

        The kernel notices a new medium at the next open; a read right after the
        change may still find the tray moving, so the guest retries a few times.
        """
        self.asked += 1
        with self.dom.open_console() as console:
            console.write(b"for i in 1 2 3 4 5 6 7 8 9 10; do v=$(dd if=/dev/sr0 bs=1 skip=32808 count=32 "
                          b"2>/dev/null | tr -d ' '); [ -n \"$v\" ] && break; sleep 0.5; done; "
                          b"echo \"VMGUI VO\"\"LID [$v]\"\r")
            self.serial.wait_for(b"VMGUI VOLID [", timeout=60, count=self.asked)
        return _VOLID.findall(self.serial.text())[self.asked - 1].decode()


def medium(xml: str) -> str | None:
    return DomainXML.parse(xml).disk("sda").source


def test_a_running_guest_reads_each_cd_inserted_changed_and_ejected(env, linux_guest, tmp_path):
    one, two = make_iso(tmp_path / "one.iso", "VMGUIONE"), make_iso(tmp_path / "two.iso", "VMGUITWO")
    conn = env.open()
    dom = conn.define_xml(env.linux_xml("cd", extra_devices=EMPTY_CD))
    dom.create()
    serial = env.guest("cd")
    serial.wait_for(b"VMGUI READY", timeout=90)
    guest = GuestCD(dom, serial)
    assert guest.volume_id() == "", "the drive starts empty"

    dom.update_device_flags(cd_xml(one))
    assert guest.volume_id() == "VMGUIONE", "the guest reads the inserted medium"
    assert medium(dom.xml_desc()) == one
    assert medium(dom.xml_desc(DomainXMLFlags.INACTIVE)) is None, "CURRENT on a running domain is LIVE only"
    assert inspect(one).mode is LeaseMode.READONLY, "the running VM holds a read-only lease on its medium"
    with refused(ErrorCode.RESOURCE_BUSY, "'cd'"):
        conn.delete_disks([one])

    dom.update_device_flags(cd_xml(two))
    assert guest.volume_id() == "VMGUITWO", "the guest reads the new medium after a change"
    assert inspect(two).mode is LeaseMode.READONLY and inspect(one).free, "the lease follows the medium"

    dom.update_device_flags(cd_xml(None))
    assert guest.volume_id() == "", "the guest finds no medium after an eject"
    assert inspect(two).free
    live = DomainXML.parse(dom.xml_desc())
    assert [d.device for d in live.disks() if d.target == "sda"] == ["cdrom"], "eject keeps the drive"

    dom.update_device_flags(cd_xml(one), DeviceModifyFlags.LIVE | DeviceModifyFlags.CONFIG)
    assert guest.volume_id() == "VMGUIONE"
    assert medium(dom.xml_desc(DomainXMLFlags.INACTIVE)) == one, "CONFIG writes the persistent definition"
    assert medium(conn.lookup_by_name("cd").xml_desc(DomainXMLFlags.INACTIVE)) == one
    assert not serial.kernel_trouble()


def test_a_missing_medium_or_drive_is_refused_and_the_cd_stays(env, linux_guest, tmp_path):
    one = make_iso(tmp_path / "one.iso", "VMGUIONE")
    conn = env.open()
    dom = conn.define_xml(env.linux_xml("cd", extra_devices=cd_drive(one)))
    dom.create()
    env.guest("cd").wait_for(b"VMGUI READY", timeout=90)

    with refused(ErrorCode.INVALID_ARG, f"the CD image {tmp_path}/gone.iso does not exist"):
        dom.update_device_flags(cd_xml(str(tmp_path / "gone.iso")))
    with refused(ErrorCode.INVALID_ARG, "is a folder"):
        dom.update_device_flags(cd_xml(str(tmp_path)))
    with refused(ErrorCode.INVALID_ARG, "has no CD-ROM drive 'sdb'"):
        dom.update_device_flags(cd_xml(one).replace("dev='sda'", "dev='sdb'"))
    assert medium(dom.xml_desc()) == one and inspect(one).mode is LeaseMode.READONLY


def test_a_tray_the_guest_locked_needs_force(env, linux_guest, tmp_path):
    one, two = make_iso(tmp_path / "one.iso", "VMGUIONE"), make_iso(tmp_path / "two.iso", "VMGUITWO")
    conn = env.open()
    dom = conn.define_xml(env.linux_xml("cd", extra_devices=cd_drive(one)))
    dom.create()
    serial = env.guest("cd")
    serial.wait_for(b"VMGUI READY", timeout=90)
    with dom.open_console() as console:  # the kernel locks the door of an open /dev/sr0; the shell keeps it open
        console.write(b"exec 3< /dev/sr0; echo \"VMGUI HE\"\"LD\"\r")
        serial.wait_for(b"VMGUI HELD", timeout=60)

    with refused(ErrorCode.OPERATION_INVALID, "has locked the tray of CD-ROM drive 'sda'"):
        dom.update_device_flags(cd_xml(two))
    assert medium(dom.xml_desc()) == one and inspect(two).free, "a refused change keeps the medium and takes no lease"

    dom.update_device_flags(cd_xml(two), DeviceModifyFlags.FORCE)
    assert medium(dom.xml_desc()) == two
    assert inspect(two).mode is LeaseMode.READONLY and inspect(one).free
