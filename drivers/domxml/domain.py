"""The domain definition: typed fields declared on the tree, device lists, validation."""
from __future__ import annotations

import copy
import re
import uuid as uuidlib
from collections.abc import Callable, Iterator

from lxml import etree

from ..errors import DriverError, ErrorCode
from ..xmlutil import parse, to_string
from .checks import validate_disks, validate_domain, validate_name, validate_uuid, validate_vcpus
from .devices import (
    CHAR_KINDS,
    GUEST_AGENT_CHANNEL,
    Channel,
    ChannelNode,
    CharDevice,
    CharDeviceNode,
    Device,
    Disk,
    DiskNode,
    Graphics,
    GraphicsNode,
    Input,
    InputNode,
    Interface,
    InterfaceNode,
    Tpm,
    TpmNode,
    Video,
    VideoNode,
    node_for,
    tag_of,
)
from .props import XMLNode, XMLProperty

#: libvirt's default action and the actions it accepts for each lifecycle event
LIFECYCLE_ACTIONS = {
    "on_poweroff": ("destroy", ("destroy", "restart", "preserve", "rename-restart")),
    "on_reboot": ("restart", ("destroy", "restart", "preserve", "rename-restart")),
    "on_crash": ("destroy", ("destroy", "restart", "preserve", "rename-restart", "coredump-destroy",
                             "coredump-restart")),
}
_FEATURE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
#: the firmware features libvirt matches against QEMU's descriptors (``<os><firmware><feature>``)
FIRMWARE_FEATURES = ("enrolled-keys", "secure-boot")
#: the order libvirt writes the firmware elements of ``<os>`` in, right after ``<type>``
_OS_HEAD = ("type", "firmware", "loader", "nvram")


def _positive_kib(tag: str) -> Callable[[int | None], int]:
    def check(kib: int | None) -> int:
        if not isinstance(kib, int) or kib <= 0:
            raise DriverError(ErrorCode.INVALID_ARG, f"{tag} must be a positive number of KiB")
        return kib
    return check


def _none_if_empty(text: str) -> str | None:
    return text or None


class DomainXML(XMLNode):
    """A domain definition: typed access to the common subset, the rest kept as is."""

    domain_type = XMLProperty[str]("@type", default="qemu")
    name = XMLProperty[str]("name", default="", check=validate_name)
    uuid = XMLProperty[str]("uuid", default="", check=validate_uuid)
    title = XMLProperty[str]("title", default="", check=_none_if_empty)
    description = XMLProperty[str]("description", default="", check=_none_if_empty)
    memory_kib = XMLProperty[int]("memory", kind=int, unit="KiB", default=0, check=_positive_kib("memory"))
    _current_memory_kib = XMLProperty[int | None]("currentMemory", kind=int, unit="KiB",
                                                  check=_positive_kib("currentMemory"))
    vcpus = XMLProperty[int]("vcpu", kind=int, default=1, check=validate_vcpus)
    #: the vCPUs online at start when fewer than ``vcpus`` (None: all); not a number reads as None
    current_vcpus = XMLProperty[int | None]("vcpu/@current", kind=int, lenient=True)
    os_type = XMLProperty[str]("os/type", default="hvm")
    arch = XMLProperty[str]("os/type/@arch", default="x86_64")
    machine = XMLProperty[str | None]("os/type/@machine")
    kernel = XMLProperty[str | None]("os/kernel")
    initrd = XMLProperty[str | None]("os/initrd")
    cmdline = XMLProperty[str | None]("os/cmdline")
    cpu_mode = XMLProperty[str | None]("cpu/@mode")
    #: ``efi`` or ``bios``: the driver picks the image from QEMU's firmware descriptors (None: as loader says)
    firmware = XMLProperty[str | None]("os/@firmware")
    #: the firmware image (UEFI: its code part); None: the hypervisor's built-in BIOS
    loader = XMLProperty[str | None]("os/loader")
    loader_type = XMLProperty[str | None]("os/loader/@type")
    loader_readonly = XMLProperty[str | None]("os/loader/@readonly")
    loader_secure = XMLProperty[str | None]("os/loader/@secure")
    #: the domain's own copy of the UEFI variable store, and the file it is first copied from
    nvram = XMLProperty[str | None]("os/nvram")
    nvram_template = XMLProperty[str | None]("os/nvram/@template")
    _smm = XMLProperty[bool]("features/smm", kind=bool)
    _smm_state = XMLProperty[str]("features/smm/@state", default="on")

    @property
    def root(self) -> etree._Element:
        """The ``<domain>`` element (for what has no typed field yet)."""
        return self.el

    # -- construction ------------------------------------------------------
    @classmethod
    def parse(cls, text: str | bytes) -> DomainXML:
        """Parse and validate; INVALID_XML names the offending element."""
        dom = cls(parse(text, "domain"))
        dom.validate()
        return dom

    @classmethod
    def read(cls, text: str | bytes) -> DomainXML:
        """Parse (hardened) without validating: a definition that may be broken, to show or take apart."""
        return cls(parse(text, "domain"))

    @classmethod
    def new(cls, name: str, memory_kib: int, vcpus: int = 1, domain_type: str = "qemu",
            uuid: str | None = None) -> DomainXML:
        dom = cls(etree.Element("domain"))
        dom.domain_type = domain_type
        dom.name = name
        dom.uuid = uuid or str(uuidlib.uuid4())
        dom.memory_kib = memory_kib
        dom.current_memory_kib = memory_kib
        dom.vcpus = vcpus
        dom.os_type, dom.arch, dom.machine = "hvm", "x86_64", "q35"
        dom.child("devices")
        return dom

    def copy(self) -> DomainXML:
        return DomainXML(copy.deepcopy(self.el))

    def shown(self, secure: bool) -> str:
        """The XML text as a driver's ``xml_desc`` gives it: a display's password only when ``secure``
        (libvirt's DomainXMLFlags.SECURE), as libvirt hides it from plain reads."""
        if secure or not any(node.passwd for node in self.graphics_nodes()):
            return self.to_string()
        hidden = self.copy()
        for node in hidden.graphics_nodes():
            node.passwd = None
        return hidden.to_string()

    def to_string(self, reindent: bool = False) -> str:
        """The XML text; ``reindent`` lines added elements up with the old ones (for a diff)."""
        if not reindent:
            return to_string(self.el)
        fresh = copy.deepcopy(self.el)
        etree.indent(fresh, space="  ")
        return to_string(fresh)

    def ensure_uuid(self) -> str:
        if not self.uuid:
            self.uuid = str(uuidlib.uuid4())
        return self.uuid

    def validate(self) -> None:
        validate_domain(self.el)

    # -- resources, os and behaviour ------------------------------------------
    @property
    def current_memory_kib(self) -> int:
        current = self._current_memory_kib
        return current if current is not None else self.memory_kib

    @current_memory_kib.setter
    def current_memory_kib(self, kib: int) -> None:
        self._current_memory_kib = kib

    @property
    def boot_devices(self) -> list[str]:
        os_el = self.el.find("os")
        return [b.get("dev", "") for b in os_el.iterfind("boot")] if os_el is not None else []

    @boot_devices.setter
    def boot_devices(self, devs: list[str]) -> None:
        os_el = self.child("os")
        for el in os_el.findall("boot"):
            os_el.remove(el)
        for dev in devs:
            etree.SubElement(os_el, "boot", dev=dev)

    def set_direct_boot(self, kernel: str | None, initrd: str | None = None,
                        cmdline: str | None = None) -> None:
        self.child("os")
        self.kernel, self.initrd, self.cmdline = kernel, initrd, cmdline

    @property
    def smm(self) -> bool | None:
        """System Management Mode, which a Secure Boot firmware needs to protect its variables (None: not stated)."""
        return self._smm_state == "on" if self._smm else None

    @smm.setter
    def smm(self, on: bool | None) -> None:
        if on is None:
            self._smm = False
        else:
            self._smm_state = "on" if on else "off"

    @property
    def uefi(self) -> bool:
        """Whether the domain boots UEFI firmware (chosen by ``firmware='efi'`` or a pflash loader)."""
        return self.firmware == "efi" or self.loader_type == "pflash"

    @property
    def secure_boot(self) -> bool:
        """Whether the domain asks for Secure Boot (a firmware feature or a secure loader)."""
        return self.firmware_feature("secure-boot") is True or self.loader_secure == "yes"

    def firmware_feature(self, name: str) -> bool | None:
        """``<os><firmware><feature name=… enabled=…>``: True, False, or None when not stated."""
        for el in self.el.iterfind("os/firmware/feature"):
            if el.get("name") == name:
                return el.get("enabled") == "yes"
        return None

    def set_firmware_feature(self, name: str, enabled: bool | None) -> None:
        """State (or, with None, drop) one firmware feature the firmware must have or lack."""
        if name not in FIRMWARE_FEATURES:
            raise DriverError(ErrorCode.INVALID_ARG, f"unknown firmware feature {name!r}: use "
                              f"{', '.join(FIRMWARE_FEATURES)}")
        holder = self.el.find("os/firmware")
        if holder is not None:
            for el in [f for f in holder.iterfind("feature") if f.get("name") == name]:
                holder.remove(el)
        if enabled is not None:
            holder = holder if holder is not None else self._os_slot("firmware")
            etree.SubElement(holder, "feature", enabled="yes" if enabled else "no", name=name)
        elif holder is not None and not len(holder):
            self.child("os").remove(holder)

    def set_loader(self, path: str | None, *, secure: bool = False, kind: str = "pflash") -> None:
        """Name the firmware image (read-only, as libvirt writes a UEFI code image); None drops it."""
        if path is None:
            self.loader = None
            return
        self._os_slot("loader")
        self.loader_readonly, self.loader_secure, self.loader_type = "yes", "yes" if secure else "no", kind
        self.loader = path

    def set_nvram(self, path: str | None, template: str | None = None) -> None:
        """Name the domain's variable store and the template it starts from; None drops it."""
        if path is None:
            self.nvram = None
            return
        self._os_slot("nvram")
        self.nvram_template = template
        self.nvram = path

    def _os_slot(self, tag: str) -> etree._Element:
        """``os/<tag>``, created after the ``<os>`` children libvirt writes before it."""
        os_el = self.child("os")
        found = os_el.find(tag)
        if found is not None:
            return found
        el = etree.Element(tag)
        before = _OS_HEAD[:_OS_HEAD.index(tag)]
        prior = [c for c in os_el if c.tag in before]
        if prior:
            prior[-1].addnext(el)
            el.tail = prior[-1].tail  # keep the indentation of hand-written XML
        else:
            os_el.insert(0, el)
        return el

    @property
    def features(self) -> list[str]:
        el = self.el.find("features")
        return [f.tag for f in el if isinstance(f.tag, str)] if el is not None else []

    def set_feature(self, feature: str, present: bool) -> None:
        """Add (empty) or remove a ``<features>`` child such as ``acpi``; an existing one keeps its attributes."""
        if not _FEATURE_RE.match(feature):
            raise DriverError(ErrorCode.INVALID_ARG, f"invalid feature name {feature!r}: use lower-case letters, "
                              "digits, - or _, starting with a letter")
        el = self.el.find(f"features/{feature}")
        if present and el is None:
            etree.SubElement(self.child("features"), feature)
        elif not present and el is not None:
            self.child("features").remove(el)

    def lifecycle_action(self, event: str) -> str:
        """``on_poweroff``/``on_reboot``/``on_crash`` with libvirt's defaults."""
        default = LIFECYCLE_ACTIONS[event][0]
        el = self.el.find(event)
        return ((el.text or "").strip() or default) if el is not None else default

    def set_lifecycle_action(self, event: str, action: str) -> None:
        """What the domain does on ``event``; INVALID_ARG for an event or action libvirt does not know."""
        if event not in LIFECYCLE_ACTIONS:
            raise DriverError(ErrorCode.INVALID_ARG, f"unknown lifecycle event {event!r}: use "
                              f"{', '.join(LIFECYCLE_ACTIONS)}")
        allowed = LIFECYCLE_ACTIONS[event][1]
        if action not in allowed:
            raise DriverError(ErrorCode.INVALID_ARG, f"{event} cannot be {action!r}: use {', '.join(allowed)}")
        self.child(event).text = action

    # -- devices -----------------------------------------------------------
    def _device_elements(self, tag: str) -> list[etree._Element]:
        return list(self.el.iterfind(f"devices/{tag}"))

    def disk_nodes(self) -> list[DiskNode]:
        return [DiskNode(el) for el in self._device_elements("disk")]

    def interface_nodes(self) -> list[InterfaceNode]:
        return [InterfaceNode(el) for el in self._device_elements("interface")]

    def graphics_nodes(self) -> list[GraphicsNode]:
        return [GraphicsNode(el) for el in self._device_elements("graphics")]

    def char_device_nodes(self) -> list[CharDeviceNode]:
        """Serial ports first, then consoles."""
        return [CharDeviceNode(el) for kind in CHAR_KINDS for el in self._device_elements(kind)]

    def channel_nodes(self) -> list[ChannelNode]:
        return [ChannelNode(el) for el in self._device_elements("channel")]

    def channels(self) -> list[Channel]:
        return [node.values(Channel) for node in self.channel_nodes()]

    def guest_agent_channel(self) -> Channel | None:
        """The virtio channel the QEMU guest agent talks over, if the domain has one."""
        for channel in self.channels():
            if channel.target_type == "virtio" and channel.name == GUEST_AGENT_CHANNEL:
                return channel
        return None

    def video_nodes(self) -> list[VideoNode]:
        return [VideoNode(el) for el in self._device_elements("video")]

    def tpm_nodes(self) -> list[TpmNode]:
        return [TpmNode(el) for el in self._device_elements("tpm")]

    def tpms(self) -> list[Tpm]:
        return [node.values(Tpm) for node in self.tpm_nodes()]

    def input_nodes(self) -> list[InputNode]:
        return [InputNode(el) for el in self._device_elements("input")]

    def disk(self, target: str) -> DiskNode:
        """The disk at ``target`` (``vda``, ``sda``, ...) to edit in place; INVALID_ARG when there is none."""
        for node in self.disk_nodes():
            if node.target == target:
                return node
        raise DriverError(ErrorCode.INVALID_ARG, f"no disk with target '{target}'")

    def disks(self) -> list[Disk]:
        return [node.values(Disk) for node in self.disk_nodes()]

    def interfaces(self) -> list[Interface]:
        return [node.values(Interface) for node in self.interface_nodes()]

    def graphics(self) -> list[Graphics]:
        return [node.values(Graphics) for node in self.graphics_nodes()]

    def char_devices(self) -> list[CharDevice]:
        return [node.values(CharDevice) for node in self.char_device_nodes()]

    def videos(self) -> list[Video]:
        return [node.values(Video) for node in self.video_nodes()]

    def inputs(self) -> list[Input]:
        return [node.values(Input) for node in self.input_nodes()]

    def has_tablet(self) -> bool:
        """An absolute pointer is there: the guest's cursor follows the host's, nothing grabs the mouse."""
        return any(i.type == "tablet" for i in self.inputs())

    def add_device(self, device: Device) -> XMLNode:
        """Append ``device`` as a new element after the other devices; returns its node."""
        if isinstance(device, Disk):
            return self.add_disk(device)
        node = node_for(device, etree.SubElement(self.child("devices"), tag_of(device)))
        node.assign(device)
        return node

    def add_disk(self, disk: Disk) -> DiskNode:
        """Append a disk; INVALID_ARG for a target in use, INVALID_XML for what validation refuses."""
        if any(d.target == disk.target for d in self.disks()):
            raise DriverError(ErrorCode.INVALID_ARG, f"disk target '{disk.target}' already exists")
        node = DiskNode(etree.SubElement(self.child("devices"), "disk"))
        node.assign(disk)
        validate_disks(self.el)
        return node

    def remove_disk(self, target: str) -> None:
        self.remove_device(self.disk(target))

    def remove_device(self, node: XMLNode) -> None:
        """Take a device (a node from :meth:`disk_nodes`, :meth:`interface_nodes`, ...) out of the definition."""
        parent = node.el.getparent()
        if parent is None or parent.getparent() is not self.el:
            raise DriverError(ErrorCode.INVALID_ARG, f"<{node.el.tag}> is not a device of this domain")
        parent.remove(node.el)

    def device_tags(self) -> Iterator[str]:
        """Tags of every device, e.g. for a hardware summary."""
        devices = self.el.find("devices")
        if devices is not None:
            for el in devices:
                if isinstance(el.tag, str):
                    yield el.tag


