"""What libvirt reports through the guest agent, as the core's values (:mod:`drivers.guestagent`).

``virDomainInterfaceAddresses`` answers a dict per interface and
``virDomainGetGuestInfo`` flat typed parameters (``os.id``, ``fs.0.mountpoint``,
…); both become the values ``qemu:///embed`` returns, so the GUI shows either
host alike.
"""
from __future__ import annotations

from typing import Any

from ..guestagent import GuestFilesystem, GuestInfo, GuestInterface, GuestOS, IPAddress

#: virIPAddrType
_ADDRESS_TYPES = {0: "ipv4", 1: "ipv6"}


def interfaces(answer: Any) -> list[GuestInterface]:
    """virDomainInterfaceAddresses' ``{name: {"hwaddr": …, "addrs": [{"type", "addr", "prefix"}]}}``."""
    out = []
    for name, item in sorted((answer or {}).items()):
        item = item if isinstance(item, dict) else {}
        addresses = tuple(IPAddress(_ADDRESS_TYPES.get(int(a.get("type", 0)), "ipv4"), str(a["addr"]),
                                    int(a.get("prefix") or 0))
                          for a in item.get("addrs") or [] if isinstance(a, dict) and a.get("addr"))
        out.append(GuestInterface(str(name), item.get("hwaddr") or None, addresses))
    return out


def _text(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    return str(value) if value not in (None, "") else None


def _int(params: dict[str, Any], key: str) -> int | None:
    value = params.get(key)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def info(params: dict[str, Any], os_asked: bool, hostname_asked: bool, fs_asked: bool) -> GuestInfo:
    """virDomainGetGuestInfo's typed parameters; what was not asked for stays None."""
    os_info = GuestOS(_text(params, "os.id"), _text(params, "os.name"), _text(params, "os.pretty-name"),
                      _text(params, "os.version"), _text(params, "os.kernel-release"),
                      _text(params, "os.machine")) if os_asked else None
    filesystems = None
    if fs_asked:
        found = []
        for i in range(_int(params, "fs.count") or 0):
            disks = tuple(d for j in range(_int(params, f"fs.{i}.disk.count") or 0)
                          if (d := _text(params, f"fs.{i}.disk.{j}.device") or _text(params, f"fs.{i}.disk.{j}.alias")))
            found.append(GuestFilesystem(_text(params, f"fs.{i}.mountpoint") or "", _text(params, f"fs.{i}.name") or "",
                                         _text(params, f"fs.{i}.fstype") or "", disks,
                                         _int(params, f"fs.{i}.used-bytes"), _int(params, f"fs.{i}.total-bytes")))
        filesystems = tuple(found)
    return GuestInfo(_text(params, "hostname") if hostname_asked else None, os_info, filesystems)
