"""What makes a domain definition valid: names, UUIDs, sizes, counts and disks, with element paths."""
from __future__ import annotations

import re
import uuid as uuidlib

from lxml import etree

from ..errors import DriverError, ErrorCode
from ..xmlutil import path_of, xml_error
from .props import to_kib

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


def validate_vcpus(count: int) -> int:
    if not isinstance(count, int) or not 1 <= count <= MAX_VCPUS:
        raise DriverError(ErrorCode.INVALID_ARG, f"vCPU count must be 1..{MAX_VCPUS}")
    return count


def validate_domain(root: etree._Element) -> None:
    """INVALID_XML naming the first element of ``root`` that libvirt would refuse; canonicalises the uuid."""
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
    validate_disks(root)
    for iface in root.iterfind("devices/interface"):
        mac = iface.find("mac")
        if mac is not None and not _MAC_RE.match(mac.get("address") or ""):
            raise xml_error(f"{path_of(mac)}: invalid MAC address {mac.get('address')!r}")


def validate_disks(root: etree._Element) -> None:
    """Every disk has a unique, well-formed target, a known device and bus, and an absolute path."""
    seen: set[str] = set()
    for el in root.iterfind("devices/disk"):
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
