"""Host facts of a libvirt host, in libvirt's own words.

* image folder: the target path of the storage pool named ``default`` (what
  virt-install and virt-manager use), None when the host has no such pool;
* KVM: the domain capabilities of ``type='kvm'`` on x86_64; libvirt's refusal
  is the reason why not;
* firmware: the domain capabilities' ``<os>`` (firmware values, UEFI loaders);
* locality: the URI names no other machine.

A question the host's driver cannot answer (libvirt's test driver has no domain
capabilities, a host without a storage driver no pools) leaves that fact empty;
a lost connection still fails the whole call.
"""
from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lxml import etree

from ..errors import DriverError
from ..hostfacts import Firmware, FirmwareInterface, HostFacts
from ..xmlutil import parse as parse_xml
from . import runtime
from .errors import libvirt_message

if TYPE_CHECKING:
    from .connection import LibvirtConnection

ARCH = "x86_64"
DEFAULT_POOL = "default"
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def host_facts(conn: LibvirtConnection) -> HostFacts:
    vconn = conn.vconn()
    hostname = conn.call("reading the host name", vconn.getHostname)
    caps, kvm_problem = _domain_caps(conn, vconn, hostname)
    pool, _ = _ask(conn, f"looking up the storage pool {DEFAULT_POOL!r}", vconn.storagePoolLookupByName,
                   DEFAULT_POOL)
    return HostFacts(hostname, _pool_path(conn, pool), kvm_problem, _firmware(caps),
                     local=is_local_uri(conn.libvirt_uri), tpm=tpm_emulator(caps),
                     memory_bytes=_memory(conn, vconn, hostname), image_free_bytes=_pool_free(conn, pool))


def is_local_uri(libvirt_uri: str) -> bool:
    """No host in the URI (``qemu:///system``, ``test:///default``) or this machine's loopback name."""
    host = urllib.parse.urlsplit(libvirt_uri).hostname
    return not host or host in LOCAL_NAMES


def _ask(conn: LibvirtConnection, what: str, fn: Callable[..., Any], *args: Any) -> tuple[Any, str | None]:
    """``fn(*args)``'s result and None, or None and libvirt's refusal; a lost connection raises."""
    try:
        return fn(*args), None
    except runtime.lv().libvirtError as exc:
        refusal = libvirt_message(exc)
        try:
            conn.call(what, _reraise, exc)  # the connection's own mapping notices a broken link
        except DriverError:
            if not conn.connected:
                raise
        return None, refusal


def _reraise(exc: BaseException) -> None:
    raise exc


def _domain_caps(conn: LibvirtConnection, vconn: Any, hostname: str) -> tuple[etree._Element | None, str | None]:
    """The domain capabilities to read firmware from (KVM's if it works, else plain QEMU's), and why no KVM."""
    text, refusal = _ask(conn, f"asking {hostname} about KVM domains", vconn.getDomainCapabilities,
                         None, ARCH, None, "kvm")
    if text is not None:
        return parse_xml(text, "domainCapabilities"), None
    problem = f"libvirt on {hostname} cannot run KVM domains ({refusal})"
    text, _ = _ask(conn, f"asking {hostname} about QEMU domains", vconn.getDomainCapabilities,
                   None, ARCH, None, "qemu")
    return (parse_xml(text, "domainCapabilities") if text is not None else None), problem


def _memory(conn: LibvirtConnection, vconn: Any, hostname: str) -> int | None:
    """The host's memory (``virNodeGetInfo``: MiB), or None where libvirt refuses to tell."""
    info, _ = _ask(conn, f"reading {hostname}'s memory", vconn.getInfo)
    return int(info[1]) * 1024 * 1024 if info and info[1] else None


def _pool_free(conn: LibvirtConnection, pool: Any) -> int | None:
    """The default pool's free bytes (``virStoragePoolGetInfo``), or None without one."""
    if pool is None:
        return None
    info, _ = _ask(conn, f"reading the storage pool {DEFAULT_POOL!r}'s free space", pool.info)
    return int(info[3]) if info else None


def _pool_path(conn: LibvirtConnection, pool: Any) -> str | None:
    if pool is None:
        return None
    text, _ = _ask(conn, f"reading the storage pool {DEFAULT_POOL!r}", pool.XMLDesc, 0)
    if text is None:
        return None
    path = parse_xml(text, "pool").findtext("target/path")
    return path.strip() if path and path.strip().startswith("/") else None


def tpm_emulator(caps: etree._Element | None) -> bool:
    """Whether the host emulates a TPM 2.0 (``<tpm supported='yes'>`` with the emulator backend)."""
    tpm = caps.find("devices/tpm") if caps is not None else None
    if tpm is None or tpm.get("supported") != "yes":
        return False
    backends = {v.text for v in tpm.iterfind("enum[@name='backendModel']/value")}
    versions = {v.text for v in tpm.iterfind("enum[@name='backendVersion']/value")}
    return "emulator" in backends and (not versions or "2.0" in versions)


def _firmware(caps: etree._Element | None) -> tuple[Firmware, ...]:
    """BIOS where the loader may be a ROM (or no loader types are listed), then each UEFI loader path."""
    if caps is None:
        return ()
    os_el = caps.find("os")
    if os_el is None or os_el.get("supported") == "no":
        return ()
    kinds = {v.text for v in os_el.iterfind("enum[@name='firmware']/value")}
    loader_types = {v.text for v in os_el.iterfind("loader/enum[@name='type']/value")}
    secure = "yes" in {v.text for v in os_el.iterfind("loader/enum[@name='secure']/value")}
    found: list[Firmware] = []
    if "bios" in kinds or not loader_types or "rom" in loader_types:
        found.append(Firmware(FirmwareInterface.BIOS))
    for value in os_el.iterfind("loader/value"):
        path = (value.text or "").strip()
        if path.startswith("/"):
            found.append(Firmware(FirmwareInterface.UEFI, path, secure and "secboot" in path.lower()))
    if "efi" in kinds and not any(f.interface is FirmwareInterface.UEFI for f in found):
        found.append(Firmware(FirmwareInterface.UEFI))  # the host picks the image itself
    return tuple(found)
