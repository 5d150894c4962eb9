"""The hardware summary of a domain as plain text rows, read from its XML.

One row per device a person asks about first (disks, network, graphics,
serial), in the words a person uses, with ``—`` for what the XML leaves open.
"""
from __future__ import annotations

from drivers.domxml import Disk, DomainXML

from .format import DASH


def disk_text(disk: Disk) -> str:
    """``disk on virtio: /srv/a.qcow2 (qcow2)`` for a disk."""
    ro = ", read-only" if disk.readonly else ""
    return f"{disk.device} on {disk.bus}: {disk.source or '(empty)'} ({disk.format or DASH}{ro})"


def nic_text(nic_type: str, source: str | None, model: str | None, mac: str | None) -> str:
    """``virtio on network default, MAC 52:54:…`` for a NIC."""
    where = {"user": "user-mode (NAT)", "network": f"network {source}",
             "bridge": f"bridge {source}"}.get(nic_type, f"{nic_type} {source or ''}".strip())
    return f"{model or 'default model'} on {where}, MAC {mac or 'automatic'}"


def firmware_text(xml: DomainXML) -> str:
    """``UEFI with Secure Boot`` / ``UEFI`` / ``BIOS``, and the TPM when there is one."""
    boot = ("UEFI with Secure Boot" if xml.secure_boot else "UEFI") if xml.uefi else "BIOS"
    tpms = xml.tpms()
    return boot + (f", TPM {tpms[0].version or '2.0'} ({tpms[0].model})" if tpms else "")


def summary(xml: DomainXML) -> list[tuple[str, str]]:
    """(heading, text) rows: machine, firmware, then every disk, NIC, graphics and serial device."""
    rows = [("Machine", f"{xml.arch}, {xml.machine or 'default machine'}, {xml.domain_type}"),
            ("Firmware", firmware_text(xml)),
            ("Boot order", ", ".join(xml.boot_devices) or "default (hd)")]
    for disk in xml.disks():
        rows.append((f"Disk {disk.target}", disk_text(disk)))
    for i, nic in enumerate(xml.interfaces(), 1):
        rows.append((f"NIC {i}", nic_text(nic.type, nic.source, nic.model, nic.mac)))
    for g in xml.graphics():
        where = g.socket or (f"{g.listen or 'localhost'}:{g.port}" if g.port and g.port > 0 else "auto port")
        rows.append(("Graphics", f"{g.type.upper()} ({where})"))
    for dev in xml.char_devices():
        rows.append((dev.kind.capitalize(), f"{dev.type}" + (f": {dev.path}" if dev.path else "")))
    if len(rows) == 3:
        rows.append(("Devices", "none"))
    return rows
