"""Removable media on the test driver: update_device_flags inserts, changes and ejects a CD as libvirt does."""
from __future__ import annotations

import pytest
from refusals import refused

from drivers import DeviceModifyFlags, DomainXMLFlags, ErrorCode, EventType, Feature
from drivers.domxml import DomainXML
from drivers.flags import DefinedDetail

LIVE, CONFIG = DeviceModifyFlags.LIVE, DeviceModifyFlags.CONFIG


def cd_xml(path: object = None, target: str = "sda", device: str = "cdrom") -> str:
    source = f"<source file='{path}'/>" if path else ""
    return (f"<disk type='file' device='{device}'><driver name='qemu' type='raw'/>{source}"
            f"<target dev='{target}'/></disk>")


def vm_xml(name: str, disks: str = "") -> str:
    return (f"<domain type='test'><name>{name}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>"
            f"<devices><disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>{disks}"
            "</devices></domain>")


def medium(dom, flags: int = 0) -> str | None:
    return DomainXML.parse(dom.xml_desc(flags)).disk("sda").source


@pytest.fixture
def isos(tmp_path):
    one, two = tmp_path / "one.iso", tmp_path / "two.iso"
    one.write_bytes(b"\0" * 4096)
    two.write_bytes(b"\1" * 4096)
    return str(one), str(two)


def test_a_shut_off_domain_gets_its_cd_in_the_definition_and_eject_keeps_the_drive(conn, isos):
    one, two = isos
    assert conn.supports_feature(Feature.CHANGE_MEDIA)
    dom = conn.define_xml(vm_xml("cdvm"))
    events = []
    conn.register_event_callback(lambda c, d, e: events.append((e.type, e.detail)))
    dom.update_device_flags(cd_xml(one))
    assert medium(dom) == one and medium(dom, DomainXMLFlags.INACTIVE) == one
    conn.host.bus.flush()
    assert (EventType.DEFINED, DefinedDetail.UPDATED) in events
    dom.update_device_flags(cd_xml(two), CONFIG)
    assert medium(dom) == two
    dom.update_device_flags(cd_xml())
    definition = DomainXML.parse(dom.xml_desc())
    assert [(d.target, d.device, d.source) for d in definition.disks()] == [("sda", "cdrom", None)]
    dom.create()
    assert medium(dom) is None, "the next start has no medium"


def test_current_on_a_running_domain_changes_only_the_live_definition(conn, isos):
    one, two = isos
    dom = conn.define_xml(vm_xml("cdvm"))
    dom.create()
    dom.update_device_flags(cd_xml(one))
    assert medium(dom) == one and medium(dom, DomainXMLFlags.INACTIVE) is None
    dom.update_device_flags(cd_xml(two), LIVE | CONFIG)
    assert medium(dom) == two and medium(dom, DomainXMLFlags.INACTIVE) == two
    dom.update_device_flags(cd_xml(one), CONFIG)
    assert medium(dom) == two and medium(dom, DomainXMLFlags.INACTIVE) == one
    dom.destroy()
    assert medium(dom) == one, "the persistent definition is what the domain has once it stops"


def test_live_needs_a_running_domain_and_config_a_persistent_one(conn, isos):
    one, _ = isos
    dom = conn.define_xml(vm_xml("cdvm"))
    with refused(ErrorCode.OPERATION_INVALID, "'cdvm' is not running"):
        dom.update_device_flags(cd_xml(one), LIVE)
    transient = conn.create_xml(vm_xml("passing"))
    with refused(ErrorCode.OPERATION_INVALID, "'passing' is transient"):
        transient.update_device_flags(cd_xml(one), CONFIG)
    transient.update_device_flags(cd_xml(one))
    assert medium(transient) == one


def test_a_medium_must_exist_be_a_file_and_be_readable(conn, isos, tmp_path):
    one, _ = isos
    dom = conn.define_xml(vm_xml("cdvm"))
    with refused(ErrorCode.INVALID_ARG, f"the CD image {tmp_path}/gone.iso does not exist"):
        dom.update_device_flags(cd_xml(tmp_path / "gone.iso"))
    with refused(ErrorCode.INVALID_ARG, f"the CD image {tmp_path} is a folder"):
        dom.update_device_flags(cd_xml(tmp_path))
    with refused(ErrorCode.INVALID_ARG, "must be absolute"):
        dom.update_device_flags(cd_xml("relative.iso"))
    with refused(ErrorCode.INVALID_ARG, "/etc/shadow is a system file"):
        dom.update_device_flags(cd_xml("/etc/shadow"))
    with refused(ErrorCode.INVALID_ARG, "/dev/zero is a character device"):
        dom.update_device_flags(cd_xml("/dev/zero"))
    assert medium(dom) is None, "a refused change leaves the drive as it was"


def test_only_an_existing_cdrom_drive_changes_its_medium(conn, isos):
    one, _ = isos
    dom = conn.define_xml(vm_xml("cdvm", f"<disk type='file' device='disk'><source file='{one}'/>"
                                         "<target dev='vda'/></disk>"))
    with refused(ErrorCode.INVALID_ARG, "has no CD-ROM drive 'sdb' (its CD-ROM drives: sda)"):
        dom.update_device_flags(cd_xml(one, target="sdb"))
    with refused(ErrorCode.INVALID_ARG, "'vda' of domain 'cdvm' is a disk, not a CD-ROM drive"):
        dom.update_device_flags(cd_xml(one, target="vda"))
    with refused(ErrorCode.NO_SUPPORT, "only a CD-ROM's medium can be changed"):
        dom.update_device_flags(cd_xml(one, target="vda", device="disk"))
    with refused(ErrorCode.INVALID_XML, "expected root element <disk>"):
        dom.update_device_flags("<interface type='network'/>")
    with refused(ErrorCode.INVALID_ARG, "unsupported flags"):
        dom.update_device_flags(cd_xml(one), 1 << 8)
