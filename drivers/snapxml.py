"""libvirt ``<domainsnapshot>`` and ``<domainbackup>`` documents."""
from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree

from .diskimage import system_location
from .domxml import validate_name
from .errors import DriverError, ErrorCode
from .xmlutil import child_text, parse, path_of, to_string, xml_error


@dataclass(frozen=True)
class Header:
    """What ``<domainsnapshot>`` and ``<domaincheckpoint>`` share: name, description, creationTime, parent."""

    name: str
    description: str
    creation_time: int
    parent: str | None

    @classmethod
    def of(cls, root: etree._Element, what: str) -> Header:
        """Read from the document's root; a missing name is the current time, a bad one INVALID_XML."""
        name = child_text(root, "name") or str(int(time.time()))
        try:
            validate_name(name, what)
        except DriverError as exc:
            raise xml_error(f"/{root.tag}/name: {exc.message}") from None
        created = child_text(root, "creationTime")
        parent = root.find("parent")
        return cls(name=name, description=child_text(root, "description", "") or "",
                   creation_time=int(created) if created and created.isdigit() else int(time.time()),
                   parent=child_text(parent, "name") if parent is not None else None)


@dataclass
class SnapshotDef:
    """What a snapshot records: the guest's state then and its definition then."""

    name: str
    description: str = ""
    state: str = "shutoff"  # the domain state at creation, as libvirt writes it
    creation_time: int = field(default_factory=lambda: int(time.time()))
    parent: str | None = None
    domain_xml: str | None = None

    @classmethod
    def parse(cls, text: str) -> SnapshotDef:
        """A user's snapshot request or a stored snapshot; a missing name gets one."""
        return cls.of(parse(text, "domainsnapshot"))

    @classmethod
    def of(cls, root: etree._Element) -> SnapshotDef:
        """Read a ``<domainsnapshot>`` element already parsed (a node file's: parsing it again costs)."""
        head = Header.of(root, "snapshot")
        domain = root.find("domain")
        return cls(
            name=head.name, description=head.description,
            state=child_text(root, "state", "shutoff") or "shutoff",
            creation_time=head.creation_time, parent=head.parent,
            domain_xml=to_string(domain) if domain is not None else None,
        )

    def to_xml(self) -> str:
        root = etree.Element("domainsnapshot")
        etree.SubElement(root, "name").text = self.name
        if self.description:
            etree.SubElement(root, "description").text = self.description
        etree.SubElement(root, "state").text = self.state
        etree.SubElement(root, "creationTime").text = str(self.creation_time)
        if self.parent:
            etree.SubElement(etree.SubElement(root, "parent"), "name").text = self.parent
        if self.domain_xml:
            root.append(parse(self.domain_xml, "domain"))
        return to_string(root)


def snapshot_request(xml_or_name: str) -> SnapshotDef:
    """``snapshot_create`` takes either snapshot XML or just a name."""
    if not isinstance(xml_or_name, str) or not xml_or_name.strip():
        raise DriverError(ErrorCode.INVALID_ARG, "a snapshot needs a name or <domainsnapshot> XML")
    text = xml_or_name.strip()
    if text.startswith("<"):
        return SnapshotDef.parse(text)
    return SnapshotDef(name=validate_name(text, "snapshot"))


def backup_file(folder: str, domain: str, disk: str, stamp: str) -> str:
    """Where a push backup writes disk ``disk`` of ``domain``: a new qcow2 file named after both and ``stamp``."""
    return os.path.join(folder, f"{domain}-{disk}-{stamp}.qcow2")


@dataclass(frozen=True)
class BackupDisk:
    name: str  # the disk's target dev, e.g. vda
    target: str  # absolute path of the file to create
    format: str = "qcow2"


@dataclass(frozen=True)
class BackupDef:
    mode: str
    disks: tuple[BackupDisk, ...]
    #: the checkpoint whose changes since are copied (libvirt's ``<incremental>``); None: every block
    incremental: str | None = None

    @classmethod
    def into_folder(cls, domain: str, disks: Sequence[str], folder: str, stamp: str) -> BackupDef:
        """A push backup of ``disks`` (target devs) of ``domain``, each to a new :func:`backup_file` in ``folder``."""
        if not disks:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{domain}' has no disk to back up")
        return cls("push", tuple(BackupDisk(d, backup_file(folder, domain, d, stamp)) for d in disks))

    @classmethod
    def parse(cls, text: str, disk_targets: list[str]) -> BackupDef:
        """Parse push-mode backup XML and check it against the domain's disks.

        Push mode needs a target for every selected disk; an existing target is
        refused so a backup never overwrites anything.
        """
        root = parse(text, "domainbackup")
        mode = root.get("mode", "push")
        if mode != "push":
            raise DriverError(ErrorCode.NO_SUPPORT, f"backup mode '{mode}' is not supported; use mode='push'")
        disks = []
        for el in root.iterfind("disks/disk"):
            name = el.get("name")
            if name not in disk_targets:
                raise xml_error(f"{path_of(el)}: the domain has no disk '{name}'")
            if el.get("backup", "yes") == "no":
                continue
            target = el.find("target")
            path = target.get("file") if target is not None else None
            if not path:
                raise xml_error(f"{path_of(el)}/target: push mode needs a target file")
            if not os.path.isabs(path) or "\x00" in path:
                raise DriverError(ErrorCode.INVALID_ARG, f"backup target {path!r} must be an absolute path")
            if os.path.lexists(path):
                raise DriverError(ErrorCode.OPERATION_INVALID,
                                  f"backup target {path} already exists; choose a new file name")
            if not os.path.isdir(os.path.dirname(path)):
                raise DriverError(ErrorCode.INVALID_ARG,
                                  f"the folder of backup target {path} does not exist")
            if system_location(path) is not None:
                raise DriverError(ErrorCode.INVALID_ARG, f"backup target {path} is in the system folder "
                                  f"{system_location(path)}; choose a folder of your own")
            drv = el.find("driver")
            fmt = (drv.get("type") if drv is not None else None) or "qcow2"
            if drv is not None and fmt not in ("qcow2", "raw"):  # without <driver>: qcow2
                raise xml_error(f"{path_of(drv)}: backup format must be qcow2 or raw, not {fmt!r}")
            disks.append(BackupDisk(name=name, target=path, format=fmt))
        if not disks:
            raise DriverError(ErrorCode.INVALID_ARG, "the backup selects no disk")
        targets = [d.target for d in disks]
        if len(set(targets)) != len(targets):
            raise DriverError(ErrorCode.INVALID_ARG, "two disks of the backup share one target file")
        incremental = child_text(root, "incremental")
        if incremental is not None and not incremental.strip():
            raise xml_error("/domainbackup/incremental: name the checkpoint the backup copies the changes since")
        return cls(mode=mode, disks=tuple(disks), incremental=incremental.strip() if incremental else None)

    def to_xml(self) -> str:
        root = etree.Element("domainbackup", mode=self.mode)
        if self.incremental:
            etree.SubElement(root, "incremental").text = self.incremental
        disks = etree.SubElement(root, "disks")
        for d in self.disks:
            el = etree.SubElement(disks, "disk", name=d.name, type="file")
            etree.SubElement(el, "target", file=d.target)
            etree.SubElement(el, "driver", type=d.format)
        return to_string(root)
