"""Domain XML edits through the typed accessors, compared byte for byte with expected files.

``domxml_golden/<input>.xml`` are definitions as libvirt or a person writes them (unknown elements,
attributes, namespaces and comments included); ``<input>.<edit>.xml`` is what one edit must serialise
to. Everything an edit does not name must come out exactly as it went in.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.domxml import (
    GUEST_AGENT_CHANNEL,
    Channel,
    CharDevice,
    Disk,
    DomainXML,
    Graphics,
    Input,
    Interface,
    Tpm,
    Video,
)

GOLDEN = Path(__file__).with_name("domxml_golden")
INPUTS = sorted(p.stem for p in GOLDEN.glob("*.xml") if "." not in p.stem)
EDITS: dict[str, Callable[[DomainXML], None]] = {}


def edit(name: str) -> Callable[[Callable[[DomainXML], None]], Callable[[DomainXML], None]]:
    def register(fn: Callable[[DomainXML], None]) -> Callable[[DomainXML], None]:
        EDITS[name] = fn
        return fn
    return register


def golden(name: str) -> str:
    return (GOLDEN / f"{name}.xml").read_text()


@edit("fedora.set-memory")
def _(dom):
    dom.memory_kib = 8 * 1024 * 1024
    dom.current_memory_kib = 6 * 1024 * 1024


@edit("fedora.set-vcpus")
def _(dom):
    dom.vcpus = 8
    dom.current_vcpus = None


@edit("fedora.rename-and-retitle")
def _(dom):
    dom.name = "fedora-40"
    dom.title = ""
    dom.description = "Rebuilt on 40"


@edit("fedora.add-disk")
def _(dom):
    dom.add_disk(Disk("vdb", source="/var/lib/libvirt/images/data.qcow2", format="qcow2", shareable=True))


@edit("fedora.remove-disk")
def _(dom):
    dom.remove_disk("sda")


@edit("fedora.eject-and-insert")
def _(dom):
    dom.disk("sda").source = None
    dom.disk("vda").source = "/var/lib/libvirt/images/fedora-copy.qcow2"


@edit("fedora.boot-order")
def _(dom):
    dom.boot_devices = ["hd", "network"]


@edit("fedora.replace-graphics")
def _(dom):
    for node in dom.graphics_nodes() + dom.video_nodes():
        dom.remove_device(node)
    dom.add_device(Graphics("vnc", listen="127.0.0.1", port=5901))
    dom.add_device(Video("vga"))


@edit("fedora.add-tablet")
def _(dom):
    assert not dom.has_tablet()
    dom.add_device(Input("tablet", "usb"))
    assert dom.has_tablet() and Input("tablet", "usb") in dom.inputs()


@edit("fedora.nics")
def _(dom):
    dom.remove_device(dom.interface_nodes()[1])
    dom.interface_nodes()[0].model = "e1000e"
    dom.add_device(Interface("bridge", "52:54:00:dd:ee:ff", "virtio", "br0"))


@edit("fedora.serial-to-file")
def _(dom):
    for node in dom.char_device_nodes():
        dom.remove_device(node)
    dom.add_device(CharDevice("serial", "file", path="/var/log/fedora.log", target_port=0))
    dom.add_device(CharDevice("console", "file", path="/var/log/fedora.log", target_type="serial", target_port=0))


@edit("fedora.cpu-features-lifecycle")
def _(dom):
    dom.cpu_mode = "host-model"
    dom.set_feature("apic", False)
    dom.set_feature("vmport", True)  # already there: keeps its state attribute
    dom.set_feature("pae", True)
    dom.set_lifecycle_action("on_reboot", "destroy")
    dom.set_lifecycle_action("on_crash", "restart")


@edit("minimal.fill-in")
def _(dom):
    dom.uuid = "0E2B0A9C-5D7F-4C1B-A3E6-9F8D7C6B5A41"
    dom.title = "Tiny"
    dom.vcpus = 2
    dom.current_memory_kib = 32768
    dom.boot_devices = ["hd"]
    dom.add_disk(Disk("vda", source="/srv/tiny.img"))
    dom.add_device(Interface("user", model="virtio"))


@edit("minimal.guest-agent")
def _(dom):
    assert dom.guest_agent_channel() is None
    dom.add_device(Channel(name=GUEST_AGENT_CHANNEL))
    assert dom.guest_agent_channel() == Channel("unix", "virtio", GUEST_AGENT_CHANNEL)


@edit("agentlive.drop-agent")
def _(dom):
    assert dom.guest_agent_channel() == Channel(
        "unix", "virtio", GUEST_AGENT_CHANNEL, "/run/libvirt/qemu/channel/7-web01/org.qemu.guest_agent.0", "bind",
        "connected")
    assert dom.channels()[1] == Channel("spicevmc", "virtio", "com.redhat.spice.0", state="disconnected")
    dom.remove_device(dom.channel_nodes()[0])
    assert dom.guest_agent_channel() is None


@edit("minimal.secure-boot-tpm")
def _(dom):
    dom.machine = "q35"
    dom.firmware = "efi"
    dom.set_firmware_feature("enrolled-keys", True)
    dom.set_firmware_feature("secure-boot", True)
    dom.set_loader("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", secure=True)
    dom.set_nvram("/srv/vms/domains/2e1b7a5d/VARS.fd", template="/usr/share/OVMF/OVMF_VARS_4M.ms.fd")
    dom.smm = True
    dom.add_device(Tpm())


@edit("ovmf.to-bios")
def _(dom):
    assert dom.uefi and dom.secure_boot and dom.firmware_feature("enrolled-keys") is True
    assert dom.tpms() == [Tpm()] and dom.smm is True
    dom.firmware = None
    dom.set_firmware_feature("enrolled-keys", None)
    dom.set_firmware_feature("secure-boot", None)
    dom.set_loader(None)
    dom.set_nvram(None)
    dom.smm = None
    dom.remove_device(dom.tpm_nodes()[0])


@edit("minimal.uefi")
def _(dom):
    dom.firmware = "efi"
    dom.set_firmware_feature("secure-boot", False)
    dom.set_firmware_feature("secure-boot", None)
    dom.set_firmware_feature("enrolled-keys", False)
    dom.set_nvram("/srv/tiny_VARS.fd")
    dom.add_device(Tpm("tpm-tis"))


@edit("minimal.direct-boot")
def _(dom):
    dom.set_direct_boot("/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0")


@edit("directboot.sources")
def _(dom):
    dom.disk("vda").source = "/dev/vg0/appliance-new"  # a block disk: @dev
    dom.disk("sdb").source = "/isos/tools.iso"  # no <source> yet: after <driver>


@edit("directboot.add-block-disk")
def _(dom):
    dom.add_disk(Disk("vdc", type="block", source="/dev/vg0/scratch"))


@edit("directboot.graphics-port")
def _(dom):
    node = dom.graphics_nodes()[0]
    node.port = 5902
    node.listen = None


@edit("directboot.disk-boot")
def _(dom):
    dom.set_direct_boot(None)
    dom.boot_devices = ["hd"]
    dom.set_lifecycle_action("on_crash", "destroy")


@edit("directboot.drop-everything")
def _(dom):
    for node in dom.disk_nodes() + dom.interface_nodes() + dom.char_device_nodes() + dom.graphics_nodes():
        dom.remove_device(node)


@pytest.mark.parametrize("name", INPUTS)
def test_parse_and_serialise_changes_nothing(name):
    text = golden(name)
    assert DomainXML.parse(text).to_string() == text


@pytest.mark.parametrize("name", sorted(EDITS))
def test_edit_serialises_to_the_expected_file(name):
    dom = DomainXML.parse(golden(name.split(".")[0]))
    EDITS[name](dom)
    out = dom.to_string()
    assert out == golden(name)
    DomainXML.parse(out)  # still a valid definition


def test_every_expected_file_has_its_edit():
    expected = sorted(p.stem for p in GOLDEN.glob("*.xml") if "." in p.stem)
    assert expected == sorted(EDITS)
    assert {name.split(".")[0] for name in EDITS} == set(INPUTS)


def test_unknown_content_survives_every_edit():
    kept = ['keep me', '<qemu:arg value="-no-hpet"/>', '<!-- edited by hand: keep this comment -->',
            'tickpolicy="catchup"', '<loader readonly="yes" type="pflash">', '<tpm model="tpm-crb">',
            'id="3"', '<bootmenu enable="yes"/>']
    for name in (n for n in EDITS if n.startswith("fedora.")):
        text = golden(name)
        assert all(k in text for k in kept), name
