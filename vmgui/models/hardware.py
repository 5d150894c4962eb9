"""The hardware summary of a domain as plain text rows, read from its XML.

One row per device a person asks about first (disks, network, graphics,
serial), in the words a person uses, with ``—`` for what the XML leaves open.
The words are marked for translation (N_); the views translate them when shown.
What the XML says (device, bus, format, paths, types) is data and stays as it is.
"""
from __future__ import annotations

from drivers.domxml import Disk, DomainXML

from ..textmark import N_, Text
from .format import DASH


def disk_text(disk: Disk) -> Text:
    """``disk on virtio: /srv/a.qcow2 (qcow2)`` for a disk."""
    where = dict(device=disk.device, bus=disk.bus, path=disk.source or N_("(empty)"), format=disk.format or DASH)
    if disk.readonly:
        return N_("{device} on {bus}: {path} ({format}, read-only)", **where)
    return N_("{device} on {bus}: {path} ({format})", **where)


def nic_text(nic_type: str, source: str | None, model: str | None, mac: str | None) -> Text:
    """``virtio on network default, MAC 52:54:…`` for a NIC."""
    where = {"user": N_("user-mode (NAT)"), "network": N_("network {source}", source=source),
             "bridge": N_("bridge {source}", source=source)}.get(nic_type) \
        or f"{nic_type} {source or ''}".strip()  # a type vmgui has no words for: the XML's own
    return N_("{model} on {where}, MAC {mac}", model=model or N_("default model"), where=where,
              mac=mac or N_("automatic"))


def firmware_text(xml: DomainXML) -> Text:
    """``UEFI with Secure Boot`` / ``UEFI`` / ``BIOS``, and the TPM when there is one."""
    boot = (N_("UEFI with Secure Boot") if xml.secure_boot else N_("UEFI")) if xml.uefi else N_("BIOS")
    tpms = xml.tpms()
    if not tpms:
        return boot
    return N_("{firmware}, TPM {version} ({model})", firmware=boot, version=tpms[0].version or "2.0",
              model=tpms[0].model)


def summary(xml: DomainXML) -> list[tuple[str, str]]:
    """(heading, text) rows: machine, firmware, then every disk, NIC, graphics and serial device."""
    rows: list[tuple[str, str]] = [
        (N_("Machine"), N_("{arch}, {machine}, {type}", arch=xml.arch, machine=xml.machine or N_("default machine"),
                           type=xml.domain_type)),
        (N_("Firmware"), firmware_text(xml)),
        (N_("Boot order"), ", ".join(xml.boot_devices) or N_("default (hd)"))]
    for disk in xml.disks():
        rows.append((N_("Disk {target}", target=disk.target), disk_text(disk)))
    for i, nic in enumerate(xml.interfaces(), 1):
        rows.append((N_("NIC {number}", number=i), nic_text(nic.type, nic.source, nic.model, nic.mac)))
    for g in xml.graphics():
        where = g.socket or (f"{g.listen or 'localhost'}:{g.port}" if g.port and g.port > 0 else N_("auto port"))
        rows.append((N_("Graphics"), N_("{type} ({where})", type=g.type.upper(), where=where)))
    for dev in xml.char_devices():
        heading = {"serial": N_("Serial"), "console": N_("Console")}.get(dev.kind) or dev.kind
        rows.append((heading, f"{dev.type}: {dev.path}" if dev.path else dev.type))
    if len(rows) == 3:
        rows.append((N_("Devices"), N_("none")))
    return rows
