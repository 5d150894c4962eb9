"""Devices of a domain: frozen values to read and add, and the element views that edit them in place.

A value class (:class:`Disk`, :class:`Interface`, ...) is what callers pass
around and compare; its node class declares, field by field, where each value
lives in the device's element, so reading (``node.values(Disk)``) and adding
(``node.assign(disk)``) share one mapping.
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from ..errors import DriverError, ErrorCode
from .props import XMLNode, XMLProperty, drop_attributes


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
    #: the VNC password a client must give (libvirt's ``passwd``; shown only with DomainXMLFlags.SECURE)
    passwd: str | None = None


@dataclass(frozen=True)
class CharDevice:
    """A serial or console port: ``type`` is file, unix, pty, null, ..."""

    kind: str  # 'serial' or 'console'
    type: str
    path: str | None = None
    mode: str | None = None
    target_type: str | None = None  # a console's 'serial', 'virtio', ...
    target_port: int | None = None


#: the name of the virtio-serial port the QEMU guest agent listens on
GUEST_AGENT_CHANNEL = "org.qemu.guest_agent.0"


@dataclass(frozen=True)
class Channel:
    """A host-guest channel, e.g. the guest agent's virtio-serial port ``org.qemu.guest_agent.0``.

    ``path`` is the host's socket (None: the driver picks one in its private
    run folder); ``state`` is what a live definition reports (connected or
    disconnected), never written by a definition of ours.
    """

    type: str = "unix"
    target_type: str = "virtio"
    name: str | None = None
    path: str | None = None
    mode: str | None = None
    state: str | None = None


@dataclass(frozen=True)
class Video:
    model: str | None = None


@dataclass(frozen=True)
class Tpm:
    """A TPM: ``tpm-crb`` or ``tpm-tis`` with an emulator (swtpm) or passthrough backend."""

    model: str = "tpm-crb"
    backend: str = "emulator"
    version: str | None = "2.0"


@dataclass(frozen=True)
class Input:
    """A pointer or keyboard: ``type`` is tablet (absolute: the pointer is never grabbed), mouse or keyboard."""

    type: str
    bus: str | None = None


class DiskNode(XMLNode):
    """A ``<disk>`` element."""

    type = XMLProperty[str]("@type", default="file")
    device = XMLProperty[str]("@device", default="disk")
    driver_name = XMLProperty[str | None]("driver/@name")
    format = XMLProperty[str | None]("driver/@type")
    target = XMLProperty[str]("target/@dev", default="")
    bus = XMLProperty[str]("target/@bus", default="virtio")
    readonly = XMLProperty[bool]("readonly", kind=bool)
    shareable = XMLProperty[bool]("shareable", kind=bool)

    @property
    def source(self) -> str | None:
        """The image file or block device (``source/@file`` or ``source/@dev``)."""
        src = self.el.find("source")
        return (src.get("file") or src.get("dev")) if src is not None else None

    @source.setter
    def source(self, path: str | None) -> None:
        """Point the disk at ``path`` (``@dev`` for a block disk, else ``@file``); None ejects it."""
        src = self.el.find("source")
        if path is None:
            if src is not None:
                self.el.remove(src)
            return
        if src is None:
            src = etree.Element("source")
            driver = self.el.find("driver")
            (driver.addnext(src) if driver is not None else self.el.insert(0, src))
        drop_attributes(src, "dev", "file")
        src.set("dev" if self.el.get("type") == "block" else "file", path)

    @property
    def backing_files(self) -> list[str]:
        """The base images under this disk's image (libvirt's ``<backingStore>`` chain, nearest first)."""
        found = (store.find("source") for store in self.el.iter("backingStore"))
        return [src.get("file", "") for src in found if src is not None and src.get("file")]

    def set_backing(self, path: str, fmt: str) -> None:
        """Name ``path`` (format ``fmt``) as the one base image under this disk's overlay."""
        for old in self.el.findall("backingStore"):
            self.el.remove(old)
        store = etree.SubElement(self.el, "backingStore", type="file")
        etree.SubElement(store, "format", type=fmt)
        etree.SubElement(store, "source", file=path)

    def assign(self, disk: object) -> None:
        """Fill a new, empty ``<disk>`` element: driver, source, target, flags."""
        if not isinstance(disk, Disk):
            raise TypeError(f"a <disk> element holds a Disk, not {type(disk).__name__}")
        self.type, self.device = disk.type, disk.device
        self.driver_name, self.format = "qemu", disk.format or "raw"
        if disk.source:
            self.source = disk.source
        self.target, self.bus = disk.target, disk.bus
        self.readonly, self.shareable = disk.readonly, disk.shareable


class InterfaceNode(XMLNode):
    """An ``<interface>`` element; its source attribute is named after its type (network, bridge)."""

    FIELD_ORDER = ("type", "mac", "source", "model")
    type = XMLProperty[str]("@type", default="user")
    mac = XMLProperty[str | None]("mac/@address")
    model = XMLProperty[str | None]("model/@type")

    @property
    def source(self) -> str | None:
        src = self.el.find("source")
        return (src.get("network") or src.get("bridge")) if src is not None else None

    @source.setter
    def source(self, name: str | None) -> None:
        src = self.el.find("source")
        if name is None:
            if src is not None:
                self.el.remove(src)
            return
        src = src if src is not None else self.child("source")
        drop_attributes(src, "network", "bridge")
        src.set(self.type, name)


class GraphicsNode(XMLNode):
    """A ``<graphics>`` element; a port that is not a number reads as None."""

    type = XMLProperty[str]("@type", default="")
    listen = XMLProperty[str | None]("@listen")
    socket = XMLProperty[str | None]("@socket")
    port = XMLProperty[int | None]("@port", kind=int, lenient=True)
    passwd = XMLProperty[str | None]("@passwd")


class CharDeviceNode(XMLNode):
    """A ``<serial>`` or ``<console>`` element."""

    type = XMLProperty[str]("@type", default="pty")
    path = XMLProperty[str | None]("source/@path")
    mode = XMLProperty[str | None]("source/@mode")
    target_type = XMLProperty[str | None]("target/@type")
    target_port = XMLProperty[int | None]("target/@port", kind=int, lenient=True)

    @property
    def kind(self) -> str:
        return str(self.el.tag)

    @kind.setter
    def kind(self, tag: str) -> None:
        if tag != self.el.tag:
            raise ValueError(f"a <{self.el.tag}> element cannot become a <{tag}>")


class ChannelNode(XMLNode):
    """A ``<channel>`` element."""

    FIELD_ORDER = ("type", "mode", "path", "target_type", "name", "state")
    type = XMLProperty[str]("@type", default="pty")
    mode = XMLProperty[str | None]("source/@mode")
    path = XMLProperty[str | None]("source/@path")
    target_type = XMLProperty[str | None]("target/@type")
    name = XMLProperty[str | None]("target/@name")
    state = XMLProperty[str | None]("target/@state")


class VideoNode(XMLNode):
    """A ``<video>`` element."""

    model = XMLProperty[str | None]("model/@type")


class TpmNode(XMLNode):
    """A ``<tpm>`` element."""

    model = XMLProperty[str]("@model", default="tpm-tis")
    backend = XMLProperty[str]("backend/@type", default="")
    version = XMLProperty[str | None]("backend/@version")


class InputNode(XMLNode):
    """An ``<input>`` element."""

    type = XMLProperty[str]("@type", default="mouse")
    bus = XMLProperty[str | None]("@bus")


def node_for(value: Device, el: etree._Element) -> XMLNode:
    """The node class that maps ``value``'s kind of device, bound to ``el``."""
    return _NODES[type(value)][1](el)


def tag_of(value: Device) -> str:
    """The element tag of a device value: ``serial``/``console`` from a char device's kind."""
    if not isinstance(value, CharDevice):
        return _NODES[type(value)][0]
    if value.kind not in CHAR_KINDS:
        raise DriverError(ErrorCode.INVALID_ARG, f"a character device is a serial or console port, not {value.kind!r}")
    return value.kind


CHAR_KINDS = ("serial", "console")
Device = Disk | Interface | Graphics | CharDevice | Channel | Video | Tpm | Input
_NODES: dict[type, tuple[str, type[XMLNode]]] = {
    Disk: ("disk", DiskNode), Interface: ("interface", InterfaceNode), Graphics: ("graphics", GraphicsNode),
    CharDevice: ("", CharDeviceNode), Channel: ("channel", ChannelNode), Video: ("video", VideoNode),
    Tpm: ("tpm", TpmNode), Input: ("input", InputNode),
}
