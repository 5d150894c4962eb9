"""libvirt ``<domaincheckpoint>`` documents: a point in time incremental backups copy the changes since.

A request names the checkpoint (and may describe it); a stored checkpoint
adds its parent, creation time and the disks it tracks, each as the dirty
bitmap holding the changes since that moment.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from lxml import etree

from .errors import DriverError, ErrorCode
from .snapxml import Header
from .xmlutil import parse, to_string


@dataclass(frozen=True)
class CheckpointDisk:
    """One disk a checkpoint tracks: its target dev and the bitmap recording its writes since then."""

    name: str
    bitmap: str


@dataclass(frozen=True)
class CheckpointDef:
    name: str
    description: str = ""
    parent: str | None = None
    creation_time: int = field(default_factory=lambda: int(time.time()))
    disks: tuple[CheckpointDisk, ...] = ()

    @classmethod
    def parse(cls, text: str) -> CheckpointDef:
        """A checkpoint request (name, description) or a stored checkpoint; a missing name gets one."""
        root = parse(text, "domaincheckpoint")
        head = Header.of(root, "checkpoint")
        disks = tuple(CheckpointDisk(name=str(d.get("name")), bitmap=str(d.get("bitmap") or head.name))
                      for d in root.iterfind("disks/disk") if d.get("name") and d.get("checkpoint") != "no")
        return cls(name=head.name, description=head.description, parent=head.parent,
                   creation_time=head.creation_time, disks=disks)

    def to_xml(self) -> str:
        root = etree.Element("domaincheckpoint")
        etree.SubElement(root, "name").text = self.name
        if self.description:
            etree.SubElement(root, "description").text = self.description
        if self.parent:
            etree.SubElement(etree.SubElement(root, "parent"), "name").text = self.parent
        etree.SubElement(root, "creationTime").text = str(self.creation_time)
        disks = etree.SubElement(root, "disks")
        for d in self.disks:
            etree.SubElement(disks, "disk", name=d.name, checkpoint="bitmap", bitmap=d.bitmap)
        return to_string(root)


def checkpoint_request(xml: str) -> CheckpointDef:
    """The checkpoint ``checkpoint_create`` or ``backup_begin`` is asked for (name and description only)."""
    if not isinstance(xml, str) or not xml.strip():
        raise DriverError(ErrorCode.INVALID_ARG, "a checkpoint needs <domaincheckpoint> XML naming it")
    request = CheckpointDef.parse(xml.strip())
    return CheckpointDef(name=request.name, description=request.description)


def no_checkpoint(domain: str, name: str) -> DriverError:
    return DriverError(ErrorCode.NO_DOMAIN_CHECKPOINT, f"domain '{domain}' has no checkpoint '{name}'")
