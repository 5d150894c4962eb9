"""Removable media: the rules every driver shares for ``Domain.update_device_flags`` on a CD-ROM.

A request is a ``<disk device='cdrom'>`` naming an existing drive by its
target; its ``<source>`` is the new medium, or absent to eject (the drive
stays, empty). ``DeviceModifyFlags`` LIVE / CONFIG / CURRENT say which
definition changes, as libvirt's virDomainUpdateDeviceFlags: CURRENT is the
running domain when it runs, else its persistent definition.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from lxml import etree

from .diskimage import READ_ONLY_REFUSED_DIRS, check_path, unsafe_source
from .domxml import DomainXML
from .domxml.devices import DiskNode
from .errors import DriverError, ErrorCode, check_flags, invalid_arg
from .flags import DeviceModifyFlags
from .xmlutil import parse, to_string

ALL_FLAGS = int(DeviceModifyFlags.LIVE | DeviceModifyFlags.CONFIG | DeviceModifyFlags.FORCE)
MEDIA_FORMATS = ("raw", "qcow2")


@dataclass(frozen=True)
class MediaChange:
    """What one update asks for: drive ``target`` gets ``source`` (None: ejected)."""

    target: str
    source: str | None
    format: str
    force: bool


@dataclass(frozen=True)
class Impact:
    """Which definitions an update changes."""

    live: bool
    config: bool


def parse_change(xml: str, flags: int) -> MediaChange:
    """The request in ``xml``; INVALID_XML / NO_SUPPORT / INVALID_ARG for what cannot be a medium change."""
    flags = check_flags(flags, ALL_FLAGS, "update_device_flags")
    node = DiskNode(parse(xml, "disk", "the device"))
    if node.device != "cdrom":
        raise DriverError(ErrorCode.NO_SUPPORT, f"only a CD-ROM's medium can be changed on a defined domain, "
                                                f"not a {node.device!r} device; edit the definition instead")
    if not node.target:
        raise DriverError(ErrorCode.INVALID_XML, "the device: <target dev='...'> names the CD-ROM drive to change")
    fmt = node.format or "raw"
    if fmt not in MEDIA_FORMATS:
        raise DriverError(ErrorCode.NO_SUPPORT, f"the device: medium format {fmt!r} is not supported; use raw "
                                                "(an ISO image) or qcow2")
    source = node.source
    if source is not None:
        source = check_medium(source)
    return MediaChange(node.target, source, fmt, bool(flags & DeviceModifyFlags.FORCE))


def check_medium(path: str) -> str:
    """``path`` as a medium a guest may read: an existing, readable image file or block device."""
    path = check_path(path, "the CD image")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise invalid_arg(f"the CD image {path} does not exist") from None
    except OSError as exc:
        raise invalid_arg(f"the CD image {path} cannot be used: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise invalid_arg(f"the CD image {path} is a folder; choose an image file (.iso)")
    why = unsafe_source(path, READ_ONLY_REFUSED_DIRS)
    if why:
        raise invalid_arg(f"the CD image {why}")
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise invalid_arg(f"the CD image {path} cannot be read: {exc.strerror}") from None
    return path


def impact(flags: int, name: str, active: bool, persistent: bool) -> Impact:
    """LIVE / CONFIG resolved against the domain's state; OPERATION_INVALID for a definition it lacks."""
    live = bool(flags & DeviceModifyFlags.LIVE)
    config = bool(flags & DeviceModifyFlags.CONFIG)
    if not live and not config:
        live, config = active, not active
    if live and not active:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{name}' is not running: change its CD "
                                                       "in the persistent definition (CONFIG) instead")
    if config and not persistent:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{name}' is transient: it has no persistent "
                                                       "definition to change")
    return Impact(live, config)


def cdrom_of(definition: DomainXML, target: str) -> DiskNode:
    """The CD-ROM drive ``target`` of ``definition``; INVALID_ARG when it has none by that name."""
    for node in definition.disk_nodes():
        if node.target == target:
            if node.device != "cdrom":
                raise invalid_arg(f"'{target}' of domain '{definition.name}' is a {node.device}, not a CD-ROM "
                                  "drive: its medium cannot be changed")
            return node
    drives = ", ".join(n.target for n in definition.disk_nodes() if n.device == "cdrom") or "none"
    raise invalid_arg(f"domain '{definition.name}' has no CD-ROM drive '{target}' (its CD-ROM drives: {drives})")


def with_medium(definition: DomainXML, change: MediaChange) -> DomainXML:
    """A copy of ``definition`` whose drive holds ``change``'s medium (or none)."""
    updated = definition.copy()
    node = cdrom_of(updated, change.target)
    node.source = change.source
    if change.source is not None:
        if node.driver_name is None:
            node.driver_name = "qemu"
        node.format = change.format
    return updated


def current_medium(definition: DomainXML, target: str) -> str | None:
    return cdrom_of(definition, target).source


def request_xml(target: str, source: str | None, fmt: str = "raw") -> str:
    """The ``<disk device='cdrom'>`` that asks drive ``target`` to hold ``source`` (None: eject)."""
    node = DiskNode(etree.Element("disk"))
    node.type, node.device = "file", "cdrom"
    if source is not None:
        node.driver_name, node.format = "qemu", fmt
        node.source = source
    node.target = target
    return to_string(node.el)
