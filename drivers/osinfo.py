"""Which operating system an installer image holds, and what it wants, from osinfo-db.

osinfo-db (Debian: ``osinfo-db``) describes ~800 systems in one XML file each
under ``<db>/os/<vendor>/``; each ``<media><iso><volume-id>`` is a regular
expression a medium's volume id is searched with (libosinfo's rule). Reading
every file is the slow part, so :class:`OsInfoDb` first indexes only the media
(volume id, publisher id, architecture) plus each system's file, release
date and parent, once, when first asked; the matched system's resources,
firmware and devices are read from its file (and its ``<derives-from>``
parents for what it leaves out) when it is identified. Without osinfo-db the
index is empty and nothing is identified: callers keep their own defaults.
Blocking file I/O: call in a worker. No Qt.
"""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field

from lxml import etree

from . import xmlutil
from .errors import DriverError
from .isoinfo import IsoInfo

#: where osinfo-db installs (the system copy; libosinfo also reads the other two)
DB_DIRS = ("/usr/share/osinfo", "/etc/osinfo", "/usr/local/share/osinfo")
ARCH = "x86_64"
#: architectures whose media boot on an x86_64 guest, best first
_COMPATIBLE = {ARCH: 0, "all": 0, "i686": 1, "i386": 1}
#: PCI ids (``http://pcisig.com/pci/<vendor>/<device>``) of the virtio devices the wizard uses
VIRTIO_BLK = frozenset({"1af4/1001", "1af4/1042"})
VIRTIO_NET = frozenset({"1af4/1000", "1af4/1041"})
#: emulated NICs by preference when a system has no virtio-net driver: (PCI id, QEMU/libvirt model)
NIC_MODELS = (("8086/10d3", "e1000e"), ("8086/100e", "e1000"), ("10ec/8139", "rtl8139"))
_PCI = "http://pcisig.com/pci/"
#: requirements osinfo-db releases before 2023 do not state: Windows 11's installer refuses a machine
#: without TPM 2.0 and Secure Boot
_STATED_ELSEWHERE = {"http://microsoft.com/win/11": {"tpm", "secure-boot"}}
#: an osinfo-db file is a few kB; anything far bigger is not one
MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Medium:
    """One ``<media>`` entry of the index: which system a matching volume id means."""

    os_id: str
    arch: str
    volume_id: re.Pattern[str]
    publisher_id: re.Pattern[str] | None = None


@dataclass(frozen=True)
class _Entry:
    """What the index keeps of one system's file."""

    path: str
    release: str = ""  # ISO date; empty when the file has none
    parent: str | None = None  # the <derives-from> system


@dataclass(frozen=True)
class OsProfile:
    """A system osinfo-db knows, with what a new VM for it should get (bytes; None: not stated)."""

    os_id: str
    short_id: str
    name: str
    codename: str = ""
    family: str = ""
    min_ram: int | None = None
    ram: int | None = None  # recommended
    min_storage: int | None = None
    storage: int | None = None  # recommended
    min_cpus: int | None = None
    #: UEFI is needed (its BIOS boot is marked unsupported)
    needs_uefi: bool = False
    secure_boot: bool = False
    tpm: bool = False
    virtio_disk: bool = False
    virtio_net: bool = False
    #: the emulated NIC it has a driver for when not virtio (None: nothing stated)
    nic_model: str | None = None
    devices: frozenset[str] = field(default_factory=frozenset)

    @property
    def label(self) -> str:
        """``Debian 11 (bullseye)``: the name, and the codename when the name does not carry it."""
        if self.codename and self.codename.lower() not in self.name.lower():
            return f"{self.name} ({self.codename})"
        return self.name


class OsInfoDb:
    """osinfo-db under ``roots`` (the first that has an ``os`` folder), indexed on first use, thread-safe."""

    def __init__(self, roots: tuple[str, ...] | str = DB_DIRS) -> None:
        self._roots = (roots,) if isinstance(roots, str) else roots
        self._lock = threading.Lock()
        self._media: list[Medium] | None = None
        self._entries: dict[str, _Entry] = {}
        self._profiles: dict[str, OsProfile] = {}

    @property
    def root(self) -> str | None:
        return next((r for r in self._roots if os.path.isdir(os.path.join(r, "os"))), None)

    def media(self) -> list[Medium]:
        """Every x86-bootable medium of the db (read once; empty without osinfo-db)."""
        with self._lock:
            if self._media is None:
                self._media, self._entries = _index(self.root)
            return self._media

    def identify(self, info: IsoInfo) -> OsProfile | None:
        """The system whose media match ``info`` (its own architecture first, then the newest), or None."""
        found = [m for m in self.media() if _matches(m, info)]
        if not found:
            return None
        best = min(found, key=lambda m: (_COMPATIBLE[m.arch], _negated(self._entries[m.os_id].release)))
        return self.profile(best.os_id)

    def profile(self, os_id: str) -> OsProfile:
        """What ``os_id`` wants, read from its file and its parents' (cached)."""
        self.media()
        with self._lock:
            if os_id not in self._profiles:
                self._profiles[os_id] = _profile(os_id, self._entries)
            return self._profiles[os_id]


def _negated(date: str) -> tuple[int, ...]:
    """A sort key that puts later ISO dates first."""
    return tuple(-int(part) for part in re.findall(r"\d+", date))


def _matches(medium: Medium, info: IsoInfo) -> bool:
    if not info.volume_id or not medium.volume_id.search(info.volume_id):
        return False
    return medium.publisher_id is None or bool(medium.publisher_id.search(info.publisher_id))


def _files(root: str) -> list[str]:
    out = []
    for folder, _dirs, names in os.walk(os.path.join(root, "os")):
        out += [os.path.join(folder, n) for n in names if n.endswith(".xml")]
    return sorted(out)


def _read(path: str) -> etree._Element | None:
    """One db file's ``<os>`` element, or None when it is unreadable or not an osinfo-db file."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
        return xmlutil.parse(data, "libosinfo", path).find("os")
    except (OSError, DriverError):
        return None


def _regex(text: str | None) -> re.Pattern[str] | None:
    try:
        return re.compile(text) if text else None
    except re.error:
        return None


def _index(root: str | None) -> tuple[list[Medium], dict[str, _Entry]]:
    media: list[Medium] = []
    entries: dict[str, _Entry] = {}
    for path in _files(root) if root else []:
        os_el = _read(path)
        os_id = os_el.get("id") if os_el is not None else None
        if os_el is None or not os_id:
            continue
        parent = os_el.find("derives-from")
        entries[os_id] = _Entry(path, xmlutil.child_text(os_el, "release-date", "") or "",
                                parent.get("id") if parent is not None else None)
        for medium in os_el.iterfind("media"):
            arch = medium.get("arch", "all")
            volume = _regex(medium.findtext("iso/volume-id"))
            if arch in _COMPATIBLE and volume is not None:
                media.append(Medium(os_id, arch, volume, _regex(medium.findtext("iso/publisher-id"))))
    return media, entries


def _lineage(os_id: str, entries: dict[str, _Entry]) -> list[etree._Element]:
    """The system's ``<os>`` element, then its parents' (a loop or a missing parent ends the line)."""
    out: list[etree._Element] = []
    seen: set[str] = set()
    current: str | None = os_id
    while current and current in entries and current not in seen:
        seen.add(current)
        el = _read(entries[current].path)
        if el is None:
            break
        out.append(el)
        current = entries[current].parent
    return out


def _resource(lineage: list[etree._Element], kind: str, what: str) -> int | None:
    """The first ``<resources><kind><what>`` for x86_64 (or all) along the lineage, in bytes or a count."""
    for el in lineage:
        for res in el.iterfind("resources"):
            if res.get("arch", "all") in (ARCH, "all"):
                text = res.findtext(f"{kind}/{what}")
                if text and text.strip().isdigit():
                    return int(text)
    return None


def _profile(os_id: str, entries: dict[str, _Entry]) -> OsProfile:
    lineage = _lineage(os_id, entries)
    own = lineage[0] if lineage else None
    devices = frozenset(d.get("id", "").removeprefix(_PCI) for el in lineage for d in el.iterfind("devices/device"))
    firmware = [f for f in own.iterfind("firmware") if f.get("arch", ARCH) in (ARCH, "all")] if own is not None else []
    no_bios = any(f.get("type") == "bios" and f.get("supported") == "false" for f in firmware)
    secure = any(feat.get("name") == "secure-boot" and feat.get("supported", "true") != "false"
                 for f in firmware if f.get("type") == "efi" for feat in f.iterfind("feature"))
    stated = _STATED_ELSEWHERE.get(os_id, set())
    min_ram, ram = _resource(lineage, "minimum", "ram"), _resource(lineage, "recommended", "ram")
    min_disk, disk = _resource(lineage, "minimum", "storage"), _resource(lineage, "recommended", "storage")

    def text(tag: str) -> str:
        return (xmlutil.child_text(own, tag, "") or "") if own is not None else ""
    return OsProfile(
        os_id, text("short-id"), text("name") or os_id, text("codename"), text("family"),
        min_ram, max(filter(None, (ram, min_ram)), default=None), min_disk,
        max(filter(None, (disk, min_disk)), default=None), _resource(lineage, "minimum", "n-cpus"),
        needs_uefi=no_bios, secure_boot=secure or "secure-boot" in stated,
        tpm="tpm" in stated or any("tpm" in d.lower() for d in devices),
        virtio_disk=bool(devices & VIRTIO_BLK), virtio_net=bool(devices & VIRTIO_NET),
        nic_model=next((model for pci, model in NIC_MODELS if pci in devices), None), devices=devices)
