"""Domain XML: parsing, validation with element paths, round trips and a hardened parser."""
from __future__ import annotations

import pytest

import drivers
from drivers import ErrorCode
from drivers.domxml import CharDevice, Disk, DomainXML, Graphics, Interface, Video, XMLProperty

VIRSH_DUMP = """<domain type='kvm' id='3' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>fedora</name>
  <uuid>2E1B7A5D-3C4F-4A6B-9D8E-0F1A2B3C4D5E</uuid>
  <title>Fedora workstation</title>
  <metadata><app:info xmlns:app='http://example.org/app'>keep me</app:info></metadata>
  <memory unit='GiB'>4</memory>
  <currentMemory unit='MiB'>2048</currentMemory>
  <vcpu placement='static'>4</vcpu>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type><boot dev='cdrom'/><boot dev='hd'/></os>
  <features><acpi/><apic/><vmport state='off'/></features>
  <cpu mode='host-passthrough' check='none' migratable='on'/>
  <clock offset='utc'><timer name='rtc' tickpolicy='catchup'/></clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='/var/lib/libvirt/images/fedora.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='/isos/Fedora.iso'/><target dev='sda' bus='sata'/><readonly/>
    </disk>
    <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/>
      <model type='virtio'/></interface>
    <serial type='pty'><target type='isa-serial' port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <graphics type='spice' autoport='yes'><listen type='address'/></graphics>
    <video><model type='virtio' heads='1' primary='yes'/></video>
    <tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>
  </devices>
  <qemu:commandline><qemu:arg value='-no-hpet'/></qemu:commandline>
</domain>"""


def test_virsh_dumpxml_parses_into_typed_fields():
    dom = DomainXML.parse(VIRSH_DUMP)
    assert (dom.name, dom.uuid, dom.title) == ("fedora", "2e1b7a5d-3c4f-4a6b-9d8e-0f1a2b3c4d5e", "Fedora workstation")
    assert dom.memory_kib == 4 * 1024 * 1024 and dom.current_memory_kib == 2048 * 1024 and dom.vcpus == 4
    assert (dom.os_type, dom.arch, dom.machine) == ("hvm", "x86_64", "pc-q35-7.2")
    assert dom.boot_devices == ["cdrom", "hd"] and dom.features == ["acpi", "apic", "vmport"]
    assert dom.cpu_mode == "host-passthrough"
    disks = dom.disks()
    assert disks[0] == Disk("vda", "disk", "file", "/var/lib/libvirt/images/fedora.qcow2", "virtio", "qcow2")
    assert disks[1].device == "cdrom" and disks[1].readonly and disks[1].bus == "sata"
    assert dom.interfaces()[0].mac == "52:54:00:aa:bb:cc" and dom.graphics()[0].type == "spice"
    assert [c.kind for c in dom.char_devices()] == ["serial", "console"]


def test_unknown_elements_survive_a_round_trip_and_an_edit():
    dom = DomainXML.parse(VIRSH_DUMP)
    dom.vcpus = 8
    dom.memory_kib = 8 * 1024 * 1024
    dom.add_disk(Disk("vdb", source="/var/lib/libvirt/images/data.qcow2", format="qcow2"))
    again = DomainXML.parse(dom.to_string())
    text = again.to_string()
    for kept in ("keep me", "<tpm model=\"tpm-crb\">", "qemu:arg value=\"-no-hpet\"", "tickpolicy=\"catchup\"",
                 "discard=\"unmap\"", "<address type=\"pci\""):
        assert kept in text
    assert again.vcpus == 8 and again.memory_kib == 8 * 1024 * 1024 and len(again.disks()) == 3


@pytest.mark.parametrize("broken,where", [
    ("<domain><memory>1</memory></domain>", "/domain/name"),
    ("<domain><name>x</name></domain>", "/domain/memory"),
    ("<domain><name>x</name><memory unit='parsecs'>1</memory></domain>", "/domain/memory"),
    ("<domain><name>x</name><memory>lots</memory></domain>", "/domain/memory"),
    ("<domain><name>x</name><memory>1024</memory><currentMemory>2048</currentMemory></domain>",
     "/domain/currentMemory"),
    ("<domain><name>x</name><memory>1024</memory><vcpu>0</vcpu></domain>", "/domain/vcpu"),
    ("<domain><name>x</name><uuid>not-a-uuid</uuid><memory>1024</memory></domain>", "/domain/uuid"),
    ("<domain><name>../../etc</name><memory>1024</memory></domain>", "/domain/name"),
    ("<domain><name>x</name><memory>1024</memory><devices><disk><target dev='vda'/></disk>"
     "<disk><target dev='vda'/></disk></devices></domain>", "/domain/devices/disk[2]/target"),
    ("<domain><name>x</name><memory>1024</memory><devices><disk/></devices></domain>",
     "/domain/devices/disk/target"),
    ("<domain><name>x</name><memory>1024</memory><devices><disk><source file='rel.img'/>"
     "<target dev='vda'/></disk></devices></domain>", "/domain/devices/disk/source"),
    ("<domain><name>x</name><memory>1024</memory><devices><disk device='tape'><target dev='vda'/>"
     "</disk></devices></domain>", "/domain/devices/disk"),
    ("<domain><name>x</name><memory>1024</memory><devices><interface type='user'>"
     "<mac address='zz'/></interface></devices></domain>", "/domain/devices/interface/mac"),
    ("<domian/>", "<domain>"),
    ("<domain><name>x</name>", "not well-formed"),
    ("", "empty"),
])
def test_invalid_xml_names_the_element(broken, where):
    with pytest.raises(drivers.DriverError) as info:
        DomainXML.parse(broken)
    assert info.value.code is ErrorCode.INVALID_XML
    assert where in info.value.message


def test_a_field_reads_its_own_element_only():
    """Not a namesake in another namespace, nor one deeper down, nor a comment before it."""
    dom = DomainXML.read("<domain xmlns:app='http://example.org/app'><metadata><name>inner</name></metadata>"
                         "<app:name>other</app:name><!-- <name>comment</name> --><name> real </name>"
                         "<name>second</name><vcpu>2</vcpu></domain>")
    assert dom.name == "real"
    assert dom.vcpus == 2
    assert dom.title == ""


def test_memory_is_written_in_kib_whatever_unit_it_was_read_in():
    dom = DomainXML.parse(VIRSH_DUMP)  # <memory unit='GiB'>4</memory>, <currentMemory unit='MiB'>
    dom.memory_kib = 3 * 1024 * 1024
    dom.current_memory_kib = 1024 * 1024
    text = dom.to_string()
    assert '<memory unit="KiB">3145728</memory>' in text and '<currentMemory unit="KiB">1048576</currentMemory>' in text
    bare = DomainXML.parse("<domain><name>x</name><memory>2048</memory></domain>")
    bare.current_memory_kib = 1024  # an element it did not have
    assert DomainXML.parse(bare.to_string()).current_memory_kib == 1024


def test_remove_disk_removes_that_disk_only():
    dom = DomainXML.parse(VIRSH_DUMP)
    targets = [d.target for d in dom.disks()]
    dom.remove_disk(targets[0])
    assert [d.target for d in DomainXML.parse(dom.to_string()).disks()] == targets[1:]
    with pytest.raises(drivers.DriverError) as info:
        dom.remove_disk(targets[0])
    assert info.value.code is ErrorCode.INVALID_ARG and targets[0] in info.value.message


def test_read_takes_a_broken_definition_apart_without_validating_it():
    dom = DomainXML.read("<domain><name>../x</name><devices><disk><source file='rel.img'/></disk></devices></domain>")
    assert dom.name == "../x" and dom.memory_kib == 0 and dom.disks()[0].source == "rel.img"
    for bad in ("<domain><name>x", "<!DOCTYPE d [<!ENTITY e 'e'>]><domain/>", "<domian/>"):
        with pytest.raises(drivers.DriverError) as info:
            DomainXML.read(bad)
        assert info.value.code is ErrorCode.INVALID_XML


def test_entities_and_doctypes_are_refused():
    laughs = ("<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
              "<!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>]>"
              "<domain><name>&lol2;</name><memory>1</memory></domain>")
    external = ("<!DOCTYPE d [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>"
                "<domain><name>&xxe;</name><memory>1</memory></domain>")
    for doc in (laughs, external):
        with pytest.raises(drivers.DriverError) as info:
            DomainXML.parse(doc)
        assert info.value.code is ErrorCode.INVALID_XML and "DOCTYPE" in info.value.message


def test_oversized_documents_are_refused():
    huge = "<domain><name>x</name><memory>1</memory><description>" + "a" * (5 * 1024 * 1024) + \
        "</description></domain>"
    with pytest.raises(drivers.DriverError) as info:
        DomainXML.parse(huge)
    assert info.value.code is ErrorCode.INVALID_XML


def test_non_string_input_is_invalid_arg():
    with pytest.raises(drivers.DriverError) as info:
        DomainXML.parse(None)
    assert info.value.code is ErrorCode.INVALID_ARG


def test_new_builds_a_valid_definition():
    dom = DomainXML.new("web-02", 512 * 1024, 2)
    dom.set_direct_boot("/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0")
    again = DomainXML.parse(dom.to_string())
    assert (again.name, again.vcpus, again.kernel, again.cmdline) == ("web-02", 2, "/boot/vmlinuz", "console=ttyS0")
    assert len(again.uuid) == 36


def test_define_xml_through_the_driver_rejects_invalid_xml(conn):
    with pytest.raises(drivers.DriverError) as info:
        conn.define_xml("<domain><name>x</name></domain>")
    assert info.value.code is ErrorCode.INVALID_XML
    assert "x" not in {d.name for d in conn.list_all_domains()}


@pytest.mark.parametrize("change, words", [
    (lambda d: setattr(d, "memory_kib", 0), "memory must be a positive number of KiB"),
    (lambda d: setattr(d, "current_memory_kib", -5), "currentMemory must be a positive number of KiB"),
    (lambda d: setattr(d, "vcpus", 0), "vCPU count must be 1..4096"),
    (lambda d: setattr(d, "vcpus", 4097), "vCPU count must be 1..4096"),
    (lambda d: setattr(d, "name", "../etc"), "invalid domain name"),
    (lambda d: setattr(d, "name", None), "invalid domain name"),
    (lambda d: setattr(d, "uuid", "not-a-uuid"), "invalid UUID"),
    (lambda d: d.set_lifecycle_action("on_boot", "destroy"), "unknown lifecycle event 'on_boot'"),
    (lambda d: d.set_lifecycle_action("on_reboot", "coredump-destroy"), "on_reboot cannot be 'coredump-destroy'"),
    (lambda d: d.set_feature("acpi/../..", True), "invalid feature name 'acpi/../..'"),
    (lambda d: d.add_device(CharDevice("parallel", "pty")), "serial or console port, not 'parallel'"),
    (lambda d: d.remove_disk("vdz"), "no disk with target 'vdz'"),
    (lambda d: d.disk("vdz"), "no disk with target 'vdz'"),
    (lambda d: d.add_disk(Disk("vda", source="/srv/other.img")), "disk target 'vda' already exists"),
    (lambda d: d.remove_device(DomainXML.parse(VIRSH_DUMP).disk_nodes()[0]), "not a device of this domain"),
])
def test_refused_edits_are_invalid_arg_and_change_nothing(change, words):
    dom = DomainXML.parse(VIRSH_DUMP)
    before = dom.to_string()
    with pytest.raises(drivers.DriverError) as info:
        change(dom)
    assert info.value.code is ErrorCode.INVALID_ARG and words in info.value.message
    assert dom.to_string() == before


def test_a_disk_that_validation_refuses_is_invalid_xml():
    dom = DomainXML.parse(VIRSH_DUMP)
    with pytest.raises(drivers.DriverError) as info:
        dom.add_disk(Disk("vdb", source="relative.img"))
    assert info.value.code is ErrorCode.INVALID_XML and "must be absolute" in info.value.message


def test_device_values_read_every_mapped_field():
    dom = DomainXML.parse(VIRSH_DUMP)
    assert dom.char_devices() == [CharDevice("serial", "pty", target_type="isa-serial", target_port=0),
                                  CharDevice("console", "pty", target_type="serial", target_port=0)]
    assert dom.videos() == [Video("virtio")]
    assert dom.interfaces() == [Interface("network", "52:54:00:aa:bb:cc", "virtio", "default")]
    assert dom.graphics() == [Graphics("spice")]
    assert (dom.current_vcpus, dom.lifecycle_action("on_crash"), dom.machine) == (None, "destroy", "pc-q35-7.2")


def test_integers_that_are_not_numbers():
    dom = DomainXML.parse(VIRSH_DUMP.replace("<vcpu placement='static'>", "<vcpu placement='static' current='x'>")
                          .replace("autoport='yes'", "port='auto'"))
    assert dom.current_vcpus is None and dom.graphics()[0].port is None  # lenient fields
    dom.el.find("vcpu").text = "many"  # strict: names the element
    with pytest.raises(drivers.DriverError) as info:
        _ = dom.vcpus
    assert info.value.code is ErrorCode.INVALID_XML and info.value.message.startswith("/domain/vcpu:")
    dom.el.find("memory").set("unit", "parsecs")
    with pytest.raises(drivers.DriverError, match="unknown unit 'parsecs'"):
        _ = dom.memory_kib


def test_a_property_declaration_that_cannot_work_is_refused():
    with pytest.raises(ValueError, match="presence"):
        XMLProperty[bool]("target/@flag", kind=bool)
    with pytest.raises(ValueError, match="unit"):
        XMLProperty[int]("memory/@size", kind=int, unit="KiB")
    with pytest.raises(ValueError, match="unit"):
        XMLProperty[int]("memory", kind=int, unit="furlongs")
