"""What a host offers a new domain, as the driver knows it (``Connection.host_facts``).

The New VM wizard reads these instead of guessing from the URI: where new
disk images go by default, whether KVM works there (and why not), which
firmware images the host has, its name, whether its disk paths are paths
on this machine (so files can be checked from here), and its memory and the
free space where new images go (None where the host does not tell).
"""
from __future__ import annotations

import enum
import os
from dataclasses import dataclass


class FirmwareInterface(enum.Enum):
    """How a firmware image starts the guest (libvirt's ``<os firmware=…>`` values)."""

    BIOS = "bios"
    UEFI = "efi"


@dataclass(frozen=True)
class Firmware:
    """One firmware a new domain can boot with."""

    interface: FirmwareInterface
    #: the image (UEFI: its code part) on the host; None: the hypervisor's built-in one, no file named
    path: str | None = None
    secure_boot: bool = False
    #: Secure Boot keys (Microsoft's) are in the variable template: Secure Boot is on from the first boot
    enrolled_keys: bool = False
    #: the firmware guards its variables with SMM: the guest needs ``<smm state='on'/>`` (q35)
    requires_smm: bool = False
    #: the variable store each domain's own copy starts from (UEFI flash images that keep variables)
    nvram_template: str | None = None


@dataclass(frozen=True)
class HostFacts:
    """The host behind one connection, read once off the UI thread."""

    hostname: str
    #: absolute folder where new disk images go by default; None when the host names none
    image_dir: str | None
    #: None when KVM is usable there; else why not, in a sentence
    kvm_problem: str | None
    firmware: tuple[Firmware, ...] = ()
    #: disk paths of this host are paths on this machine: local file checks mean something
    local: bool = True
    #: the host can emulate a TPM 2.0 for a domain (swtpm)
    tpm: bool = False
    #: the host's physical memory in bytes; None when it does not tell
    memory_bytes: int | None = None
    #: bytes free where new images go by default (its nearest existing folder); None when unknown
    image_free_bytes: int | None = None

    @property
    def kvm(self) -> bool:
        return self.kvm_problem is None

    @property
    def domain_type(self) -> str:
        """The ``/domain/@type`` a new domain gets there: 'kvm' only where KVM works."""
        return "kvm" if self.kvm else "qemu"

    def firmware_of(self, interface: FirmwareInterface) -> tuple[Firmware, ...]:
        return tuple(f for f in self.firmware if f.interface is interface)


def this_machine_memory() -> int | None:
    """This machine's physical memory in bytes (None where the platform does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def free_bytes(folder: str | None) -> int | None:
    """Bytes an unprivileged user may still write under ``folder`` (or its nearest existing parent,
    since the image folder is made on first use); None when nothing there can be read."""
    path = folder
    while path:
        try:
            st = os.statvfs(path)
        except FileNotFoundError:
            parent = os.path.dirname(path)
            path = parent if parent != path else None
            continue
        except (OSError, ValueError):
            return None
        return st.f_bavail * st.f_frsize
    return None


def user_data_dir() -> str:
    """``$XDG_DATA_HOME/vmgui`` (``~/.local/share/vmgui``): this user's vmgui files."""
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "vmgui")


def user_image_dir() -> str:
    """Where new disk images go on a host that names no folder of its own."""
    return os.path.join(user_data_dir(), "images")
