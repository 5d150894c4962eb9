"""libvirt-compatible domain XML over lxml.

:class:`DomainXML` wraps the parsed element tree and exposes the common subset
(name, uuid, memory, vcpus, os, devices, ...) as typed properties declared with
:class:`~drivers.domxml.props.XMLProperty`; devices are read as frozen values
(:class:`Disk`, :class:`Interface`, ...) and edited through their nodes.
Everything else stays in the tree untouched, so ``virsh dumpxml`` output
survives a round trip through vmgui and our output is read by libvirt.
"""
from __future__ import annotations

from .checks import DISK_BUSES, DISK_DEVICES, MAX_VCPUS, validate_name, validate_uuid
from .devices import (
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
)
from .domain import FIRMWARE_FEATURES, LIFECYCLE_ACTIONS, DomainXML
from .props import XMLNode, XMLProperty, to_kib

__all__ = [
    "DISK_BUSES", "DISK_DEVICES", "FIRMWARE_FEATURES", "GUEST_AGENT_CHANNEL", "LIFECYCLE_ACTIONS", "MAX_VCPUS",
    "Channel", "ChannelNode", "CharDevice", "CharDeviceNode", "Device", "Disk", "DiskNode", "DomainXML", "Graphics",
    "GraphicsNode", "Input", "InputNode", "Interface", "InterfaceNode", "Tpm", "TpmNode", "Video", "VideoNode",
    "XMLNode", "XMLProperty", "to_kib", "validate_name", "validate_uuid",
]
