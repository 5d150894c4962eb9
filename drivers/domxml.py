"""libvirt-compatible domain XML over lxml.

:class:`DomainXML` wraps the parsed element tree and exposes the common subset
(name, uuid, memory, vcpus, os, devices, ...) as Python properties. Everything
else stays in the tree untouched, so ``virsh dumpxml`` output survives a round
trip through vmgui and our output is read by libvirt.
"""
from __future__ import annotations

import copy
import re
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from .errors import DriverError, ErrorCode
from .xmlutil import child_text, ensure_child, parse, path_of, set_child_text, to_string, xml_error

_UNITS = {
    "b": 1, "bytes": 1, "k": 1024, "kib": 1024, "kb": 1000, "m": 1024 ** 2, "mib": 1024 ** 2,
    "mb": 1000 ** 2, "g": 1024 ** 3, "gib": 1024 ** 3, "gb": 1000 ** 3, "t": 1024 ** 4,
    "tib": 1024 ** 4, "tb": 1000 ** 4,
}
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+:@ -]{0,199}$")
_DEV_RE = re.compile(r"^[a-z]{2,4}[a-z0-9]{1,8}$")
_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
DISK_DEVICES = ("disk", "cdrom", "floppy", "lun")
DISK_BUSES = ("virtio", "sata", "ide", "scsi", "usb", "fdc", "xen", "sd")
MAX_VCPUS = 4096


def validate_name(name: object, what: str = "domain") -> str:
    """A domain or snapshot name that is safe in file names and messages."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or name != name.strip():
        raise DriverError(
            ErrorCode.INVALID_ARG,
            f"invalid {what} name {name!r}: use 1-200 letters, digits, spaces or _ . + : @ -, "
            "starting with a letter, digit or underscore")
    return name


def validate_uuid(value: str) -> str:
    """Canonical lower-case dashed form of a UUID string, else INVALID_ARG."""
    try:
        return str(uuidlib.UUID(str(value)))
    except ValueError:
        raise DriverError(ErrorCode.INVALID_ARG, f"invalid UUID {value!r}") from None


def to_kib(el: etree._Element) -> int:
    """Read a libvirt memory element (with its ``unit``) as KiB."""
    unit = (el.get("unit") or "KiB").lower()
    factor = _UNITS.get(unit)
    if factor is None:
        raise xml_error(f"{path_of(el)}: unknown unit {el.get('unit')!r}")
    try:
        value = int((el.text or "").strip())
    except ValueError:
        raise xml_error(f"{path_of(el)}: expected an integer, found {el.text!r}") from None
    if value <= 0:
        raise xml_error(f"{path_of(el)}: must be positive")
    return value * factor // 1024


@dataclass(frozen=True)
class Disk:
    target: str
    device: str = "disk"
    type: str = "file"
    source: str | None = None
    bus: str = "virtio"
    format: str | None = None
    readonly: bool = False
    shareable: bool = False


@dataclass(frozen=True)
class Interface:
    type: str
    mac: str | None = None
    model: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Graphics:
    type: str
    listen: str | None = None
    socket: str | None = None
    port: int | None = None


@dataclass(frozen=True)
class CharDevice:
    """A serial or console port: ``type`` is file, unix, pty, null, ..."""

    kind: str  # 'serial' or 'console'
    type: str
    path: str | None = None
    mode: str | None = None


class DomainXML:
    """A domain definition: typed access to the common subset, the rest kept as is."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root

    # -- construction ------------------------------------------------------
    @classmethod
    def parse(cls, text: str | bytes) -> DomainXML:
        """Parse and validate; INVALID_XML names the offending element."""
        dom = cls(parse(text, "domain"))
        dom.validate()
        return dom

    @classmethod
    def new(cls, name: str, memory_kib: int, vcpus: int = 1, domain_type: str = "qemu",
            uuid: str | None = None) -> DomainXML:
        root = etree.Element("domain", type=domain_type)
        dom = cls(root)
        dom.name = name
        dom.uuid = uuid or str(uuidlib.uuid4())
        dom.memory_kib = memory_kib
        dom.current_memory_kib = memory_kib
        dom.vcpus = vcpus
        os_el = etree.SubElement(root, "os")
        etree.SubElement(os_el, "type", arch="x86_64", machine="q35").text = "hvm"
        etree.SubElement(root, "devices")
        return dom

    def copy(self) -> DomainXML:
        return DomainXML(copy.deepcopy(self.root))

    def to_string(self) -> str:
        return to_string(self.root)

    def ensure_uuid(self) -> str:
        if not self.uuid:
            self.uuid = str(uuidlib.uuid4())
        return self.uuid

    # -- validation --------------------------------------------------------
    def validate(self) -> None:
        root = self.root
        name_el = root.find("name")
        if name_el is None or not (name_el.text or "").strip():
            raise xml_error("/domain/name: a domain needs a name")
        try:
            validate_name(name_el.text)
        except DriverError as exc:
            raise xml_error(f"/domain/name: {exc.message}") from None
        uuid_el = root.find("uuid")
        if uuid_el is not None:
            try:
                uuid_el.text = validate_uuid((uuid_el.text or "").strip())
            except DriverError:
                raise xml_error(f"/domain/uuid: {uuid_el.text!r} is not a UUID") from None
        mem_el = root.find("memory")
        if mem_el is None:
            raise xml_error("/domain/memory: a domain needs a memory size")
        memory = to_kib(mem_el)
        cur_el = root.find("currentMemory")
        if cur_el is not None and to_kib(cur_el) > memory:
            raise xml_error("/domain/currentMemory: larger than /domain/memory")
        vcpu_el = root.find("vcpu")
        if vcpu_el is not None:
            try:
                count = int((vcpu_el.text or "").strip())
            except ValueError:
                raise xml_error(f"/domain/vcpu: expected an integer, found {vcpu_el.text!r}") from None
            if not 1 <= count <= MAX_VCPUS:
                raise xml_error(f"/domain/vcpu: {count} is outside 1..{MAX_VCPUS}")
        self._validate_disks()
        for iface in root.iterfind("devices/interface"):
            mac = iface.find("mac")
            if mac is not None and not _MAC_RE.match(mac.get("address") or ""):
                raise xml_error(f"{path_of(mac)}: invalid MAC address {mac.get('address')!r}")

    def _validate_disks(self) -> None:
        seen: set[str] = set()
        for el in self.root.iterfind("devices/disk"):
            target = el.find("target")
            dev = target.get("dev") if target is not None else None
            if target is None or not dev or not _DEV_RE.match(dev):
                raise xml_error(f"{path_of(el)}/target: missing or invalid dev {dev!r}")
            if dev in seen:
                raise xml_error(f"{path_of(target)}: target '{dev}' is used twice")
            seen.add(dev)
            device = el.get("device", "disk")
            if device not in DISK_DEVICES:
                raise xml_error(f"{path_of(el)}: unknown device {device!r}")
            bus = target.get("bus")
            if bus is not None and bus not in DISK_BUSES:
                raise xml_error(f"{path_of(target)}: unknown bus {bus!r}")
            src = el.find("source")
            if src is not None:
                path = src.get("file") or src.get("dev")
                if path is not None and (not path.startswith("/") or "\x00" in path):
                    raise xml_error(f"{path_of(src)}: disk path {path!r} must be absolute")

    # -- identity ----------------------------------------------------------
    @property
    def domain_type(self) -> str:
        return self.root.get("type", "qemu")

    @domain_type.setter
    def domain_type(self, value: str) -> None:
        self.root.set("type", value)

    @property
    def name(self) -> str:
        return child_text(self.root, "name", "") or ""

    @name.setter
    def name(self, value: str) -> None:
        set_child_text(self.root, "name", validate_name(value))

    @property
    def uuid(self) -> str:
        return child_text(self.root, "uuid", "") or ""

    @uuid.setter
    def uuid(self, value: str) -> None:
        set_child_text(self.root, "uuid", validate_uuid(value))

    @property
    def title(self) -> str:
        return child_text(self.root, "title", "") or ""

    @title.setter
    def title(self, value: str) -> None:
        set_child_text(self.root, "title", value or None)

    @property
    def description(self) -> str:
        return child_text(self.root, "description", "") or ""

    @description.setter
    def description(self, value: str) -> None:
        set_child_text(self.root, "description", value or None)

    # -- resources ---------------------------------------------------------
    @property
    def memory_kib(self) -> int:
        el = self.root.find("memory")
        return to_kib(el) if el is not None else 0

    @memory_kib.setter
    def memory_kib(self, kib: int) -> None:
        self._set_memory("memory", kib)

    @property
    def current_memory_kib(self) -> int:
        el = self.root.find("currentMemory")
        return to_kib(el) if el is not None else self.memory_kib

    @current_memory_kib.setter
    def current_memory_kib(self, kib: int) -> None:
        self._set_memory("currentMemory", kib)

    def _set_memory(self, tag: str, kib: int) -> None:
        if not isinstance(kib, int) or kib <= 0:
            raise DriverError(ErrorCode.INVALID_ARG, f"{tag} must be a positive number of KiB")
        child = ensure_child(self.root, tag)
        child.text = str(kib)
        child.set("unit", "KiB")

    @property
    def vcpus(self) -> int:
        text = child_text(self.root, "vcpu")
        return int(text) if text else 1

    @vcpus.setter
    def vcpus(self, count: int) -> None:
        if not isinstance(count, int) or not 1 <= count <= MAX_VCPUS:
            raise DriverError(ErrorCode.INVALID_ARG, f"vCPU count must be 1..{MAX_VCPUS}")
        set_child_text(self.root, "vcpu", str(count))

    # -- os and behaviour --------------------------------------------------
    def _os(self) -> etree._Element | None:
        return self.root.find("os")

    def _os_for_edit(self) -> etree._Element:
        el = self.root.find("os")
        return el if el is not None else etree.SubElement(self.root, "os")

    @property
    def os_type(self) -> str:
        os_el = self._os()
        return (child_text(os_el, "type") if os_el is not None else None) or "hvm"

    @property
    def arch(self) -> str:
        os_el = self._os()
        type_el = os_el.find("type") if os_el is not None else None
        return (type_el.get("arch") if type_el is not None else None) or "x86_64"

    @property
    def machine(self) -> str | None:
        os_el = self._os()
        type_el = os_el.find("type") if os_el is not None else None
        return type_el.get("machine") if type_el is not None else None

    @property
    def boot_devices(self) -> list[str]:
        os_el = self._os()
        return [b.get("dev", "") for b in os_el.iterfind("boot")] if os_el is not None else []

    @boot_devices.setter
    def boot_devices(self, devs: list[str]) -> None:
        os_el = self._os_for_edit()
        for el in os_el.findall("boot"):
            os_el.remove(el)
        for dev in devs:
            etree.SubElement(os_el, "boot", dev=dev)

    def _os_text(self, tag: str) -> str | None:
        os_el = self._os()
        return child_text(os_el, tag) if os_el is not None else None

    @property
    def kernel(self) -> str | None:
        return self._os_text("kernel")

    @property
    def initrd(self) -> str | None:
        return self._os_text("initrd")

    @property
    def cmdline(self) -> str | None:
        return self._os_text("cmdline")

    def set_direct_boot(self, kernel: str | None, initrd: str | None = None,
                        cmdline: str | None = None) -> None:
        os_el = self._os_for_edit()
        for tag, value in (("kernel", kernel), ("initrd", initrd), ("cmdline", cmdline)):
            set_child_text(os_el, tag, value)

    @property
    def features(self) -> list[str]:
        el = self.root.find("features")
        return [f.tag for f in el if isinstance(f.tag, str)] if el is not None else []

    @property
    def cpu_mode(self) -> str | None:
        el = self.root.find("cpu")
        return el.get("mode") if el is not None else None

    def lifecycle_action(self, event: str) -> str:
        """``on_poweroff``/``on_reboot``/``on_crash`` with libvirt's defaults."""
        default = {"on_poweroff": "destroy", "on_reboot": "restart", "on_crash": "destroy"}[event]
        return child_text(self.root, event, default) or default

    # -- devices -----------------------------------------------------------
    def _devices(self) -> etree._Element:
        el = self.root.find("devices")
        if el is None:
            el = etree.SubElement(self.root, "devices")
        return el

    def disks(self) -> list[Disk]:
        return [self._disk_of(el) for el in self.root.iterfind("devices/disk")]

    @staticmethod
    def _disk_of(el: etree._Element) -> Disk:
        target = el.find("target")
        src = el.find("source")
        drv = el.find("driver")
        return Disk(
            target=target.get("dev", "") if target is not None else "",
            device=el.get("device", "disk"), type=el.get("type", "file"),
            source=(src.get("file") or src.get("dev")) if src is not None else None,
            bus=(target.get("bus") if target is not None else None) or "virtio",
            format=drv.get("type") if drv is not None else None,
            readonly=el.find("readonly") is not None, shareable=el.find("shareable") is not None,
        )

    def add_disk(self, disk: Disk) -> None:
        if any(d.target == disk.target for d in self.disks()):
            raise DriverError(ErrorCode.INVALID_ARG, f"disk target '{disk.target}' already exists")
        el = etree.SubElement(self._devices(), "disk", type=disk.type, device=disk.device)
        etree.SubElement(el, "driver", name="qemu", type=disk.format or "raw")
        if disk.source:
            etree.SubElement(el, "source", file=disk.source)
        etree.SubElement(el, "target", dev=disk.target, bus=disk.bus)
        if disk.readonly:
            etree.SubElement(el, "readonly")
        if disk.shareable:
            etree.SubElement(el, "shareable")
        self._validate_disks()

    def remove_disk(self, target: str) -> None:
        for devices in self.root.iterfind("devices"):
            for el in devices.iterfind("disk"):
                if self._disk_of(el).target == target:
                    devices.remove(el)
                    return
        raise DriverError(ErrorCode.INVALID_ARG, f"no disk with target '{target}'")

    def interfaces(self) -> list[Interface]:
        out = []
        for el in self.root.iterfind("devices/interface"):
            mac, model, src = el.find("mac"), el.find("model"), el.find("source")
            out.append(Interface(
                type=el.get("type", "user"), mac=mac.get("address") if mac is not None else None,
                model=model.get("type") if model is not None else None,
                source=(src.get("network") or src.get("bridge")) if src is not None else None))
        return out

    def graphics(self) -> list[Graphics]:
        out = []
        for el in self.root.iterfind("devices/graphics"):
            port = el.get("port")
            out.append(Graphics(type=el.get("type", ""), listen=el.get("listen"), socket=el.get("socket"),
                                port=int(port) if port and port.lstrip("-").isdigit() else None))
        return out

    def char_devices(self) -> list[CharDevice]:
        out = []
        for kind in ("serial", "console"):
            for el in self.root.iterfind(f"devices/{kind}"):
                src = el.find("source")
                out.append(CharDevice(kind=kind, type=el.get("type", "pty"),
                                      path=src.get("path") if src is not None else None,
                                      mode=src.get("mode") if src is not None else None))
        return out

    def device_tags(self) -> Iterator[str]:
        """Tags of every device, e.g. for a hardware summary."""
        devices = self.root.find("devices")
        if devices is not None:
            for el in devices:
                if isinstance(el.tag, str):
                    yield el.tag
