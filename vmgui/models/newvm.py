"""The New VM wizard's plan as plain data: what to create, what is wrong with it, its domain XML.

No widgets, no driver calls and no file system: the wizard, the flow that
runs it and the tests share one set of rules. File checks (does the ISO exist,
is the target disk free) read :class:`PathFacts` that a worker gathered for
:meth:`NewVMPlan.local_paths` (a hung mount must never freeze the window); a
path without facts yet reads "Checking …". Paths on another host are only
checked for their form: that host refuses bad ones itself. Warnings (the
memory or disk may not fit the host, the system on the ISO wants more) never
block Finish; :func:`propose` turns what osinfo-db says about the ISO's system
into the plan's starting values, which the user may change.
"""
from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from drivers.diskimage import FORMATS
from drivers.domxml import (
    GUEST_AGENT_CHANNEL,
    MAX_VCPUS,
    Channel,
    CharDevice,
    Disk,
    DomainXML,
    Graphics,
    Input,
    Interface,
    Tpm,
    Video,
)
from drivers.hostfacts import FirmwareInterface, HostFacts
from drivers.osinfo import OsProfile

from ..textmark import N_, NP_
from .format import bytes_text
from .pathprobe import PathFacts, unsettled
from .validation import name_problem

MIB = 1024 * 1024
GIB = 1024 * MIB
DEFAULT_MEMORY_MIB = 2048
DEFAULT_VCPUS = 2
DEFAULT_DISK_BYTES = 20 * GIB
MIN_MEMORY_MIB = 16
MAX_MEMORY_MIB = 4 * 1024 * 1024  # 4 TiB
MIN_DISK_BYTES = MIB
MAX_DISK_BYTES = 64 * 1024 * GIB  # 64 TiB
QCOW2_MAGIC = b"QFI\xfb"


class Source(enum.Enum):
    """How the new VM gets an operating system."""

    ISO = "iso"  # boot an installer CD first, install onto a new empty disk
    IMPORT = "import"  # an existing disk image that already holds a system
    KERNEL = "kernel"  # direct kernel boot (kernel, optional initrd and command line)


class Boot(enum.Enum):
    """The firmware the new VM starts with."""

    BIOS = "bios"
    UEFI = "uefi"
    SECURE_BOOT = "secure-boot"  # UEFI with Secure Boot on and Microsoft's keys enrolled


BOOT_LABELS = {Boot.BIOS: N_("BIOS"), Boot.UEFI: N_("UEFI"), Boot.SECURE_BOOT: N_("UEFI with Secure Boot")}


class Devices(enum.Enum):
    """The disk and network models: paravirtual, or emulated hardware every system has drivers for."""

    VIRTIO = "virtio"
    EMULATED = "emulated"


#: the network card of :attr:`Devices.EMULATED` unless the system's osinfo entry names another
EMULATED_NIC = "e1000e"


def devices_label(devices: Devices, nic_model: str = EMULATED_NIC) -> str:
    """How the wizard offers a choice of device models."""
    if devices is Devices.VIRTIO:
        return N_("virtio disk and network (fastest; the system needs virtio drivers)")
    return N_("SATA disk and {nic} network card (no extra drivers needed)", nic=nic_model)

#: the memory a new VM may take of its host before the wizard warns
HOST_MEMORY_SHARE = 0.9

#: which wizard page shows the problems of which field
PAGE_FIELDS = {0: frozenset({"name", "connection", "source"}),
               1: frozenset({"memory", "vcpus", "firmware", "tpm", "devices", "disk"})}


@dataclass(frozen=True)
class Target:
    """What the wizard knows about one connection it may create the VM on (read once, off the UI thread)."""

    uri: str
    image_dir: str  # where new disks go by default
    can_create_disks: bool = True  # Feature.DISK_CREATE
    graphics: bool = True  # the driver shows a screen (VNC)
    domain_type: str = "qemu"  # 'kvm' where KVM works on that host
    #: the host is another machine: its files cannot be checked from here (it refuses bad ones itself)
    remote: bool = False
    #: the firmware the host has (UEFI only where OVMF was found)
    boots: tuple[Boot, ...] = (Boot.BIOS,)
    #: the host can emulate a TPM 2.0 (swtpm)
    tpm: bool = False
    #: the host's memory in bytes and the free bytes of its image folder; None when it does not tell
    memory_bytes: int | None = None
    image_free_bytes: int | None = None


def boots_of(facts: HostFacts) -> tuple[Boot, ...]:
    """The firmware choices a host's facts allow: BIOS always, UEFI and Secure Boot where found."""
    uefi = facts.firmware_of(FirmwareInterface.UEFI)
    return (Boot.BIOS,) + ((Boot.UEFI,) if uefi else ()) + \
        ((Boot.SECURE_BOOT,) if any(f.secure_boot for f in uefi) else ())


@dataclass(frozen=True)
class Issue:
    """One reason the plan cannot be created, and the field it belongs to (for the page that shows it)."""

    field: str
    text: str


def user_data_dir() -> str:
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "vmgui")


def image_dir_for(root: str | None) -> str:
    """``<root>/images`` for a connection with a root folder (qemu:///embed), else a per-user data folder."""
    return os.path.join(root, "images") if root else os.path.join(user_data_dir(), "images")


def host_memory_mib() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // MIB
    except (OSError, ValueError):
        return None


def default_memory_mib(host_mib: int | None) -> int:
    """2 GiB, but never more than half of this machine's memory (at least 256 MiB)."""
    if not host_mib:
        return DEFAULT_MEMORY_MIB
    return max(256, min(DEFAULT_MEMORY_MIB, host_mib // 2 // 256 * 256))


def default_vcpus(cpus: int | None) -> int:
    return max(1, min(DEFAULT_VCPUS, cpus or 1))


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": GIB, "k": 1024, "m": MIB, "g": GIB, "t": 1024 * GIB}


def parse_size(text: str) -> int | None:
    """``'20 GiB'``, ``'64M'``, ``'1.5 TB'`` (binary units; a bare number is GiB) -> bytes, rounded up
    to a whole MiB; None when it is not a size."""
    match = _SIZE_RE.match(text)
    if not match:
        return None
    value = float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
    return int(-(-value // MIB)) * MIB


def size_text(size: int) -> str:
    """The inverse of :func:`parse_size` for whole MiB or GiB."""
    return f"{size // GIB} GiB" if size % GIB == 0 else f"{size // MIB} MiB"


def image_format(path: str, facts: PathFacts | None) -> str:
    """qcow2 when the file starts with qcow2's magic (read by the probe), else raw; a file without facts
    (on a remote host) by its name."""
    if facts is None:
        return "qcow2" if path.lower().endswith((".qcow2", ".qcow")) else "raw"
    return "qcow2" if facts.magic == QCOW2_MAGIC else "raw"


def file_problem(path: str, what: str, facts: Mapping[str, PathFacts], local: bool = True) -> str | None:
    """Why ``path`` cannot be used as ``what`` (an existing, readable file), or None.

    On another host only the form is checked: a local look would test the wrong machine.
    """
    if not path:
        return N_("Choose the {what}.", what=what)
    if not os.path.isabs(path):
        return N_("The {what} must be an absolute path: {path}", what=what, path=path)
    if not local:
        return None
    why = unsettled(facts, path, N_("The {what}", what=what))
    if why:
        return why
    found = facts[path]
    if not found.exists:
        return N_("The {what} {path} does not exist.", what=what, path=path)
    if not found.is_file:
        return N_("The {what} {path} is not a file.", what=what, path=path)
    if not found.readable:
        return N_("The {what} {path} cannot be read (permissions).", what=what, path=path)
    return None


@dataclass(frozen=True)
class NewVMPlan:
    """Everything the wizard asked; :meth:`problems` says what is wrong, :meth:`xml` what gets defined."""

    target: Target
    name: str = ""
    source: Source = Source.ISO
    iso: str = ""
    import_path: str = ""
    kernel: str = ""
    initrd: str = ""
    cmdline: str = ""
    new_disk: bool = True  # ISO and kernel boot: create an empty disk (import never does)
    disk_path: str = ""  # empty: <image dir>/<name>.<format>
    disk_size: int = DEFAULT_DISK_BYTES
    disk_format: str = "qcow2"
    preallocate: bool = False
    memory_mib: int = DEFAULT_MEMORY_MIB
    vcpus: int = DEFAULT_VCPUS
    boot: Boot = Boot.BIOS
    tpm: bool = False
    devices: Devices = Devices.VIRTIO
    nic_model: str = EMULATED_NIC  # with Devices.EMULATED
    #: the system osinfo-db names for the ISO (None: not detected)
    os: OsProfile | None = None
    start: bool = True
    uuid: str = ""  # fixed by the wizard so the preview shows exactly what gets defined
    #: names already used on the target connection (from the domain table)
    taken: frozenset[str] = field(default_factory=frozenset)
    #: what a worker found at :meth:`local_paths` (a path missing here is still being looked at)
    facts: Mapping[str, PathFacts] = field(default_factory=dict, hash=False)

    @property
    def uri(self) -> str:
        return self.target.uri

    def with_(self, **changes: object) -> NewVMPlan:
        return replace(self, **changes)  # type: ignore[arg-type]

    # -- the disk ---------------------------------------------------------------
    def creates_disk(self) -> bool:
        return self.source is not Source.IMPORT and self.new_disk

    def default_disk_path(self) -> str:
        return os.path.join(self.target.image_dir, f"{self.name or 'new-vm'}.{self.disk_format}")

    def disk_target(self) -> str:
        """The new disk's file: what the user typed, else the default in the image folder."""
        return self.disk_path or self.default_disk_path()

    def needs_image_dir(self) -> bool:
        """The new disk goes into the default image folder, which the flow creates when missing."""
        return self.creates_disk() and os.path.dirname(self.disk_target()) == self.target.image_dir

    # -- checks -----------------------------------------------------------------
    def source_files(self) -> list[str]:
        """The files the chosen source boots from (as typed; empty ones included)."""
        if self.source is Source.ISO:
            return [self.iso]
        if self.source is Source.IMPORT:
            return [self.import_path]
        return [self.kernel] + ([self.initrd] if self.initrd else [])

    def local_paths(self) -> list[str]:
        """Every path whose facts :meth:`issues` reads: what a worker must look at (none on another host)."""
        if self.target.remote:
            return []
        out = [p for p in self.source_files() if os.path.isabs(p)]
        disk = self._disk_file()
        if disk is not None:
            out.append(disk)
            if not self.needs_image_dir():
                out.append(os.path.dirname(disk))
        return out

    def _disk_file(self) -> str | None:
        """The new disk's file when it is checked on this machine (an absolute path, a valid default name)."""
        if not self.creates_disk() or not self.target.can_create_disks:
            return None
        if not self.disk_path and name_problem(self.name, "domain"):
            return None  # the default file is named after the VM: fix the name first
        path = self.disk_target()
        return path if os.path.isabs(path) else None

    def problems(self) -> list[str]:
        return [issue.text for issue in self.issues()]

    def issues(self) -> list[Issue]:
        """Every reason the plan cannot be created, in the order the wizard asks."""
        out: list[Issue] = []
        why = name_problem(self.name, "domain")
        if why:
            out.append(Issue("name", why))
        elif self.name in self.taken:
            out.append(Issue("name", N_("A domain named “{name}” already exists on {uri}.", name=self.name,
                                        uri=self.uri)))
        if not self.uri:
            out.append(Issue("connection", N_("Open a connection that can define domains first.")))
        out += [Issue("source", text) for text in self._source_problems()]
        if not MIN_MEMORY_MIB <= self.memory_mib <= MAX_MEMORY_MIB:
            out.append(Issue("memory", N_("Memory must be {least} MiB to {most}.", least=MIN_MEMORY_MIB,
                                          most=bytes_text(MAX_MEMORY_MIB * MIB))))
        if not 1 <= self.vcpus <= MAX_VCPUS:
            out.append(Issue("vcpus", N_("vCPUs must be 1 to {most}.", most=MAX_VCPUS)))
        if self.boot not in self.target.boots:
            out.append(Issue("firmware", N_("{connection} has no {firmware} firmware: choose BIOS, or install OVMF "
                                            "(Debian: ovmf) on that host.", connection=self._connection(),
                                            firmware=BOOT_LABELS[self.boot])))
        if self.tpm and not self.target.tpm:
            out.append(Issue("tpm", N_("{connection} cannot emulate a TPM: untick it, or install swtpm "
                                       "(Debian: swtpm swtpm-tools) on that host.", connection=self._connection())))
        out += [Issue("disk", text) for text in self._disk_problems()]
        return out

    def _connection(self) -> str:
        """The connection as a sentence names it."""
        return self.uri or N_("This connection")

    def _source_problems(self) -> list[str]:
        whats = {Source.ISO: [N_("ISO image")], Source.IMPORT: [N_("disk image to import")],
                 Source.KERNEL: [N_("kernel"), N_("initrd")]}[self.source]
        found = [file_problem(path, what, self.facts, not self.target.remote)
                 for path, what in zip(self.source_files(), whats, strict=False)]
        out = [why for why in found if why]
        medium = self.facts.get(self.iso) if self.source is Source.ISO and not self.target.remote else None
        if not out and medium is not None and medium.medium_problem:
            out.append(medium.medium_problem)
        return out

    def _disk_problems(self) -> list[str]:
        if not self.creates_disk():
            return []
        if not self.target.can_create_disks:
            return [N_("{uri} cannot create disk images: untick “Create a new disk”, or import an existing disk.",
                       uri=self.uri)]
        out: list[str] = []
        if self.disk_format not in FORMATS:
            out.append(N_("Unknown disk format “{format}”: use {formats}.", format=self.disk_format,
                          formats=" or ".join(FORMATS)))
        if not MIN_DISK_BYTES <= self.disk_size <= MAX_DISK_BYTES:
            out.append(N_("The disk size must be {least} to {most}.", least=bytes_text(MIN_DISK_BYTES),
                          most=bytes_text(MAX_DISK_BYTES)))
        if not self.disk_path and name_problem(self.name, "domain"):
            return out  # the default file is named after the VM: fix the name first
        path = self.disk_target()
        if not os.path.isabs(path):
            out.append(N_("The new disk file must be an absolute path: {path}", path=path))
        elif not self.target.remote and (why := self._disk_file_problem(path)):
            out.append(why)  # (another host refuses an existing file or a missing folder itself)
        return out

    def _disk_file_problem(self, path: str) -> str | None:
        why = unsettled(self.facts, path, N_("The new disk file"))
        if why:
            return why
        if self.facts[path].lexists:
            return N_("{path} already exists: choose another file name, or import it.", path=path)
        if self.needs_image_dir():
            return None  # the flow creates the default image folder
        folder = os.path.dirname(path)
        why = unsettled(self.facts, folder, N_("The folder"))
        if why:
            return why
        if not self.facts[folder].is_dir:
            return N_("The folder {folder} does not exist.", folder=folder)
        if not self.facts[folder].writable:
            return N_("The folder {folder} cannot be written to (permissions): choose another folder.", folder=folder)
        return None

    # -- warnings ---------------------------------------------------------------
    def warnings(self) -> list[Issue]:
        """What may go wrong but does not stop Finish: the host's memory and disk space, the system's needs."""
        out: list[Issue] = []
        host = self.target.memory_bytes
        if host is None:
            out.append(Issue("memory", N_("{connection} does not tell its memory: not checked against it.",
                                          connection=self._connection())))
        elif self.memory_mib * MIB > HOST_MEMORY_SHARE * host:
            out.append(Issue("memory", N_("{memory} MiB is more than 90 % of the host's {host} of memory: the host "
                                          "may slow down or stop other VMs.", memory=self.memory_mib,
                                          host=bytes_text(host))))
        os_ = self.os
        if os_ is not None and os_.min_ram and self.memory_mib * MIB < os_.min_ram:
            out.append(Issue("memory", N_("{system} needs at least {least} of memory.", system=os_.label,
                                          least=bytes_text(os_.min_ram))))
        if os_ is not None and os_.needs_uefi and self.boot is Boot.BIOS:
            out.append(Issue("firmware", N_("{system} does not start with BIOS firmware: choose UEFI.",
                                            system=os_.label)))
        if os_ is not None and os_.secure_boot and self.boot is Boot.UEFI:
            out.append(Issue("firmware", N_("{system} wants Secure Boot: its installer may refuse to go on.",
                                            system=os_.label)))
        if os_ is not None and os_.tpm and not self.tpm:
            out.append(Issue("tpm", N_("{system} needs a TPM 2.0: its installer refuses to go on without one.",
                                       system=os_.label)))
        if os_ is not None and self.devices is Devices.VIRTIO and not (os_.virtio_disk and os_.virtio_net):
            out.append(Issue("devices", N_("{system} has no virtio drivers of its own: its installer may not see "
                                           "the disk. Choose the SATA disk, or add a virtio driver disk.",
                                           system=os_.label)))
        out += self._disk_warnings()
        return out

    def _disk_warnings(self) -> list[Issue]:
        if not self.creates_disk() or not MIN_DISK_BYTES <= self.disk_size <= MAX_DISK_BYTES:
            return []
        out = []
        if self.os is not None and self.os.min_storage and self.disk_size < self.os.min_storage:
            out.append(Issue("disk", N_("{system} needs a disk of at least {least}.", system=self.os.label,
                                        least=bytes_text(self.os.min_storage))))
        folder = os.path.dirname(self.disk_target())
        facts = None if self.target.remote else self.facts.get(folder)
        free = facts.free_bytes if facts is not None and facts.is_dir else self.target.image_free_bytes \
            if folder == self.target.image_dir else None
        if free is None:
            if self.target.remote or folder == self.target.image_dir:
                out.append(Issue("disk", N_("{connection} does not tell the free space in {folder}: the disk size "
                                            "is not checked against it.", connection=self._connection(),
                                            folder=folder)))
        elif self.disk_size > free:
            out.append(Issue("disk", N_("The {size} disk is larger than the {free} free in {folder}: it may run out "
                                        "of space.", size=size_text(self.disk_size), free=bytes_text(free),
                                        folder=folder)))
        return out

    # -- the definition ---------------------------------------------------------
    def xml(self) -> str:
        """The domain XML to define (call when :meth:`problems` is empty)."""
        dom = DomainXML.new(self.name, self.memory_mib * 1024, self.vcpus, self.target.domain_type,
                            self.uuid or None)
        boot = []
        if self.source is Source.ISO:
            dom.add_disk(Disk("sda", device="cdrom", source=self.iso, bus="sata", format="raw", readonly=True))
            boot.append("cdrom")
        elif self.source is Source.IMPORT:
            fmt = image_format(self.import_path, None if self.target.remote else self.facts.get(self.import_path))
            dom.add_disk(Disk("vda", source=self.import_path, format=fmt))
            boot.append("hd")
        else:
            dom.set_direct_boot(self.kernel, self.initrd or None, self.cmdline or None)
        if self.creates_disk():
            if self.devices is Devices.VIRTIO:
                dom.add_disk(Disk("vda", source=self.disk_target(), format=self.disk_format))
            else:
                dom.add_disk(Disk("sdb", source=self.disk_target(), format=self.disk_format, bus="sata"))
            if self.source is Source.ISO:
                boot.append("hd")
        if boot:
            dom.boot_devices = boot
        if self.boot is not Boot.BIOS:
            secure = self.boot is Boot.SECURE_BOOT
            dom.firmware = "efi"  # the host picks the image and makes the variable store
            dom.set_firmware_feature("enrolled-keys", secure)
            dom.set_firmware_feature("secure-boot", secure)
        _add_standard_devices(dom, self.target.graphics,
                              "virtio" if self.devices is Devices.VIRTIO else self.nic_model)
        if self.tpm:
            dom.add_device(Tpm())
        return dom.to_string()

    def summary(self) -> list[str]:
        """Lines for the wizard's last page."""
        source = {Source.ISO: N_("Install from {path}", path=self.iso),
                  Source.IMPORT: N_("Boot the existing disk {path}", path=self.import_path),
                  Source.KERNEL: N_("Boot the kernel {path}", path=self.kernel)}[self.source]
        if self.os is not None:
            source = N_("{source} (detected: {system})", source=source, system=self.os.label)
        lines: list[str] = [
            N_("{name} on {uri}", name=self.name, uri=self.uri), source,
            NP_("{memory} MiB memory, %n vCPU", "{memory} MiB memory, %n vCPUs", self.vcpus, memory=self.memory_mib),
            N_("{firmware} firmware, TPM 2.0", firmware=BOOT_LABELS[self.boot]) if self.tpm
            else N_("{firmware} firmware", firmware=BOOT_LABELS[self.boot]),
            N_("virtio disk and network") if self.devices is Devices.VIRTIO
            else N_("SATA disk, {nic} network card", nic=self.nic_model)]
        if self.creates_disk():
            disk = {"size": size_text(self.disk_size), "format": self.disk_format, "path": self.disk_target()}
            lines.append(N_("New {size} {format} disk {path}, allocated now", **disk) if self.preallocate
                         else N_("New {size} {format} disk {path}", **disk))
        elif self.source is not Source.IMPORT:
            lines.append(N_("No disk"))
        return lines


def propose(plan: NewVMPlan, profile: OsProfile) -> NewVMPlan:
    """``plan`` with what ``profile``'s system wants, as far as the target host has it.

    Memory: the recommendation, but at most half the host's memory unless the minimum needs more
    (rounded up to 256 MiB); disk: the recommendation; UEFI (with Secure Boot where wanted and offered)
    when BIOS does not boot it; a TPM where needed and emulated; virtio only with virtio drivers.
    """
    changes: dict[str, object] = {"os": profile}
    if profile.ram:
        ram = profile.ram
        host = plan.target.memory_bytes
        if host and ram > host // 2:
            ram = max(profile.min_ram or 0, host // 2)
        changes["memory_mib"] = max(MIN_MEMORY_MIB, -(-ram // (256 * MIB)) * 256)
    if profile.storage:
        changes["disk_size"] = min(MAX_DISK_BYTES, profile.storage)
    boots = plan.target.boots
    if profile.needs_uefi:
        wanted = [Boot.SECURE_BOOT] if profile.secure_boot else []
        changes["boot"] = next((b for b in wanted + [Boot.UEFI] if b in boots), plan.boot)
    changes["tpm"] = profile.tpm and plan.target.tpm
    virtio = profile.virtio_disk and profile.virtio_net
    changes["devices"] = Devices.VIRTIO if virtio else Devices.EMULATED
    changes["nic_model"] = profile.nic_model or EMULATED_NIC
    return plan.with_(**changes)


def _add_standard_devices(dom: DomainXML, graphics: bool, nic_model: str) -> None:
    """What someone who just wants a VM expects: user-mode network, serial console, the guest agent's
    channel (host name, addresses, clean shutdowns and backups when the guest runs qemu-ga), a screen."""
    dom.add_device(Interface("user", model=nic_model))
    dom.add_device(CharDevice("serial", "pty", target_port=0))
    dom.add_device(CharDevice("console", "pty", target_type="serial", target_port=0))
    dom.add_device(Channel(name=GUEST_AGENT_CHANNEL))
    if graphics:
        dom.add_device(Graphics("vnc"))
        dom.add_device(Video("vga"))
        dom.add_device(Input("tablet", "usb"))  # absolute pointer: the display never grabs the mouse
