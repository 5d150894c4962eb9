"""Editing a domain's definition as plain data: form values, their rules, the new XML, the diff.

The edit form and the XML editor are thin views over this module. A new
definition is always built from the *inactive* definition (what the next start
uses), keeps the uuid and the name (a new name goes through ``Domain.rename``,
which libvirt allows only while the domain is shut off), and is checked with
the core's own :meth:`DomainXML.validate` before anything reaches a driver.
"""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass

from drivers.domxml import MAX_VCPUS, Disk, DomainXML, Interface
from drivers.errors import DriverError
from drivers.flags import DomainXMLFlags

from ..textmark import N_
from .hardware import nic_text
from .validation import name_problem

XML_INACTIVE = int(DomainXMLFlags.INACTIVE)
#: the definition an edit starts from and writes back: with what a plain read hides (a display's password)
XML_SECURE = int(DomainXMLFlags.SECURE)
XML_TO_EDIT = XML_INACTIVE | XML_SECURE

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
BOOT_DEVICES = ("hd", "cdrom", "network")
NIC_TYPES = ("user", "network", "bridge")
NEXT_START = N_("Changes apply at the next start.")


@dataclass(frozen=True)
class Nic:
    """One network interface of the form; ``index`` is its place in the original XML (None: new)."""

    type: str
    source: str | None = None
    model: str | None = "virtio"
    mac: str | None = None
    index: int | None = None

    def text(self) -> str:
        return nic_text(self.type, self.source, self.model, self.mac)


@dataclass(frozen=True)
class EditValues:
    """Everything the edit form shows and changes."""

    name: str
    title: str
    memory_mib: int
    vcpus: int
    autostart: bool
    boot: tuple[str, ...]
    disks: tuple[Disk, ...]
    nics: tuple[Nic, ...]


@dataclass(frozen=True)
class EditContext:
    """Facts about the domain and its connection that the rules need."""

    taken_names: frozenset[str] = frozenset()  # other domains' names on the connection
    running: bool = False
    persistent: bool = True
    can_rename: bool = True
    max_vcpus: int = MAX_VCPUS


@dataclass(frozen=True)
class EditPlan:
    """What applying the form does: define ``xml`` (None: unchanged), rename, set autostart."""

    xml: str | None = None
    rename_to: str | None = None
    autostart: bool | None = None

    @property
    def empty(self) -> bool:
        return self.xml is None and self.rename_to is None and self.autostart is None


def values_of(xml: DomainXML, autostart: bool) -> EditValues:
    nics = tuple(Nic(i.type, i.source, i.model, i.mac, index) for index, i in enumerate(xml.interfaces()))
    return EditValues(xml.name, xml.title, max(1, xml.memory_kib // 1024), xml.vcpus, autostart,
                      tuple(xml.boot_devices), tuple(xml.disks()), nics)


# -- disks and NICs the form adds ------------------------------------------------
def next_target(disks: tuple[Disk, ...], bus: str) -> str:
    """The first free target name of ``bus`` (vda, vdb, ... / sda, sdb, ...)."""
    prefix = {"virtio": "vd", "sata": "sd", "scsi": "sd", "usb": "sd", "ide": "hd"}.get(bus, "vd")
    used = {d.target for d in disks}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        if prefix + letter not in used:
            return prefix + letter
    return prefix + "aa"  # validate() then names the clash


def disk_for_file(path: str, disks: tuple[Disk, ...]) -> Disk:
    """An existing image file as a new disk: an ISO becomes a SATA cdrom, anything else a virtio disk."""
    lower = path.lower()
    if lower.endswith(".iso"):
        return Disk(next_target(disks, "sata"), "cdrom", source=path, bus="sata", format="raw", readonly=True)
    fmt = "qcow2" if lower.endswith(".qcow2") else "raw"
    return Disk(next_target(disks, "virtio"), "disk", source=path, bus="virtio", format=fmt)


def new_nic(nic_type: str, source: str = "") -> Nic:
    return Nic(nic_type, source.strip() or None, "virtio")


# -- rules -------------------------------------------------------------------------
def problem(values: EditValues, original: EditValues, ctx: EditContext) -> str | None:
    """The first reason these values cannot be applied, as a sentence (marked for translation); None when they can."""
    if values.name != original.name:
        why = name_problem(values.name, "domain")
        if why:
            return why
        if values.name in ctx.taken_names:
            return N_("Another domain on this connection is already called {name}.", name=values.name)
        if ctx.running:
            return N_("Shut the domain off to rename it.")
        if not ctx.can_rename:
            return N_("This connection cannot rename domains.")
    texts = [(N_("The title"), values.title)]
    texts += [(N_("The path of disk {target}", target=d.target), d.source or "") for d in values.disks]
    texts += [(N_("The network or bridge name"), n.source or "") for n in values.nics]
    for what, text in texts:
        if _CONTROL.search(text):
            return N_("{what} contains a control character; XML cannot hold it.", what=what)
    if values.memory_mib < 1:
        return N_("Memory must be at least 1 MiB.")
    if not 1 <= values.vcpus <= ctx.max_vcpus:
        return N_("vCPUs must be between 1 and {most}.", most=ctx.max_vcpus)
    if len(set(values.boot)) != len(values.boot) or not set(values.boot) <= set(BOOT_DEVICES):
        return N_("Each boot device (hd, cdrom, network) may appear once.")
    for disk in values.disks:
        if disk.source and not os.path.isabs(disk.source):
            return N_("The path of disk {target} must be absolute: {path}", target=disk.target, path=disk.source)
        if disk.type == "file" and disk.device == "disk" and not disk.source:
            return N_("Disk {target} needs a file.", target=disk.target)
    for nic in values.nics:
        if nic.type not in NIC_TYPES and nic.index is None:
            return N_("Unknown network type {type}.", type=repr(nic.type))
        if nic.type in ("network", "bridge") and not nic.source:
            return N_("Name the {type} the new interface connects to.", type=nic.type)
    return None


def check(original: DomainXML, values: EditValues, before: EditValues, ctx: EditContext) -> str | None:
    """Every rule, then the core's validation of the definition the values make (with its element path)."""
    why = problem(values, before, ctx)
    if why is not None:
        return why
    try:
        build(original, values).validate()
    except DriverError as exc:
        return _sentence(exc)
    except ValueError as exc:  # a string XML cannot hold
        return f"{exc}."
    return None


def _sentence(exc: DriverError) -> str:
    return exc.message[0].upper() + exc.message[1:]


# -- building ------------------------------------------------------------------------
def build(original: DomainXML, values: EditValues) -> DomainXML:
    """A copy of ``original`` with the values applied; name and uuid stay (rename is separate)."""
    xml = original.copy()
    xml.title = values.title.strip()
    kib = values.memory_mib * 1024
    if kib != (original.memory_kib // 1024) * 1024:  # untouched memory keeps its exact size and unit
        xml.memory_kib = kib
        xml.current_memory_kib = kib
    xml.vcpus = values.vcpus
    current = xml.current_vcpus
    if current is not None and current > values.vcpus:
        xml.current_vcpus = None
    if tuple(original.boot_devices) != values.boot:
        xml.boot_devices = list(values.boot)
    _apply_disks(xml, values.disks)
    _apply_nics(xml, values.nics)
    return xml


def _apply_disks(xml: DomainXML, disks: tuple[Disk, ...]) -> None:
    wanted = {d.target: d for d in disks}
    for node in xml.disk_nodes():
        disk = wanted.get(node.target)
        if disk is None:
            xml.remove_device(node)
        elif node.source != disk.source:  # a cdrom's new ISO (or ejected with None)
            node.source = disk.source
    present = {d.target for d in xml.disks()}
    for disk in disks:
        if disk.target not in present:
            xml.add_disk(disk)


def _apply_nics(xml: DomainXML, nics: tuple[Nic, ...]) -> None:
    kept = {n.index for n in nics if n.index is not None}
    for index, node in enumerate(xml.interface_nodes()):
        if index not in kept:
            xml.remove_device(node)
    for nic in nics:
        if nic.index is None:
            xml.add_device(Interface(nic.type, nic.mac, nic.model or "virtio", nic.source))


def normalized(xml: DomainXML) -> str:
    """Serialized with fresh indentation, so added elements and old ones line up in a diff."""
    return xml.to_string(reindent=True)


def plan(original: DomainXML, values: EditValues, before: EditValues) -> EditPlan:
    """What to do to get from ``before`` (the form as opened) to ``values``."""
    new = build(original, values)
    changed = normalized(new) != normalized(original)
    return EditPlan(xml=new.to_string() if changed else None,
                    rename_to=values.name if values.name != before.name else None,
                    autostart=values.autostart if values.autostart != before.autostart else None)


# -- the XML editor ------------------------------------------------------------------
def check_edited_xml(text: str, uuid: str, name: str) -> tuple[DomainXML | None, str | None]:
    """Parse (hardened) and validate edited XML; refuse a new uuid or name with a sentence."""
    try:
        xml = DomainXML.parse(text)
    except DriverError as exc:
        return None, _sentence(exc)
    if xml.uuid != uuid:
        return None, N_("/domain/uuid: the UUID must stay {uuid}; another UUID would define a different domain.",
                        uuid=uuid)
    if xml.name != name:
        return None, N_("/domain/name: the name must stay {name}; rename the domain with Edit… instead.", name=name)
    return xml, None


def unified_diff(old: str, new: str, old_label: str = "current", new_label: str = "edited") -> list[str]:
    """Lines of a unified diff (no trailing newlines); empty when nothing changed."""
    return list(difflib.unified_diff(old.splitlines(), new.splitlines(), old_label, new_label, lineterm=""))


def is_header(line: str) -> bool:
    """A diff's ``---``/``+++`` file label, not a changed line."""
    return line.startswith(("+++", "---"))


def changed_lines(lines: list[str]) -> list[str]:
    """The removed (``-``) and added (``+``) lines of a unified diff, without its file labels."""
    return [x for x in lines if x[:1] in "+-" and not is_header(x)]
