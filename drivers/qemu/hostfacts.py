"""``qemu:///embed`` host facts: this machine, the root's image folder, KVM as checked, firmware found.

Firmware comes from QEMU's firmware descriptors (``docs/interop/firmware.json``:
``$XDG_CONFIG_HOME/qemu/firmware``, ``/etc/qemu/firmware``,
``/usr/share/qemu/firmware``; a file of a later folder with the same name
wins, an empty one hides it), then from the usual OVMF paths for builds
that ship no descriptors. QEMU's own SeaBIOS is always there.
"""
from __future__ import annotations

import glob
import json
import logging
import os
import socket
from collections.abc import Iterable

from ..hostfacts import Firmware, FirmwareInterface, HostFacts, free_bytes, this_machine_memory
from .cmdline import kvm_problem
from .swtpm import swtpm_binary

log = logging.getLogger(__name__)

ARCH = "x86_64"
#: descriptor folders, lowest precedence first
SYSTEM_DESCRIPTOR_DIRS = ("/usr/share/qemu/firmware", "/etc/qemu/firmware")
#: SeaBIOS images QEMU loads by default (Debian keeps them in seabios, linked from qemu's data folder)
BIOS_IMAGES = ("/usr/share/qemu/bios-256k.bin", "/usr/share/seabios/bios-256k.bin")
#: UEFI code images where no descriptor names them (Debian's, Fedora's and older layouts)
UEFI_IMAGES = ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_CODE.fd",
               "/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/ovmf/OVMF.fd")
#: a descriptor is a few hundred bytes: anything far bigger is not one
MAX_DESCRIPTOR_BYTES = 64 * 1024
_INTERFACES = {"bios": FirmwareInterface.BIOS, "uefi": FirmwareInterface.UEFI}


def host_facts(root: str) -> HostFacts:
    """The facts of the root ``root`` on this machine (new images go to ``ROOT/images``)."""
    images = os.path.join(root, "images")
    return HostFacts(socket.gethostname(), images, kvm_problem(), find_firmware(), local=True,
                     tpm=swtpm_binary() is not None, memory_bytes=this_machine_memory(),
                     image_free_bytes=free_bytes(images))


def descriptor_dirs() -> tuple[str, ...]:
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return (*SYSTEM_DESCRIPTOR_DIRS, os.path.join(config, "qemu", "firmware"))


def find_firmware(dirs: Iterable[str] | None = None) -> tuple[Firmware, ...]:
    """The BIOS first, then every x86_64 UEFI image the descriptors (or the usual paths) name, in order."""
    bios = next((p for p in BIOS_IMAGES if os.path.isfile(p)), None)
    found = [Firmware(FirmwareInterface.BIOS, bios)]
    described = [f for f in (_read_descriptor(p) for p in _descriptor_files(dirs or descriptor_dirs())) if f]
    if not any(f.interface is FirmwareInterface.UEFI for f in described):
        described += [Firmware(FirmwareInterface.UEFI, p, "secboot" in os.path.basename(p))
                      for p in UEFI_IMAGES if os.path.isfile(p)]
    for fw in described:
        if fw.interface is FirmwareInterface.BIOS and fw.path == bios:
            continue
        if fw not in found:
            found.append(fw)
    return tuple(found)


def _descriptor_files(dirs: Iterable[str]) -> list[str]:
    """The descriptor that counts for each file name, sorted by name (the spec's priority order)."""
    by_name: dict[str, str] = {}
    for folder in dirs:
        for path in glob.glob(os.path.join(glob.escape(folder), "*.json")):
            by_name[os.path.basename(path)] = path
    return [by_name[name] for name in sorted(by_name)]


def _read_descriptor(path: str) -> Firmware | None:
    """The firmware one descriptor describes, if it is for x86_64 and its image exists; None otherwise."""
    try:
        if os.path.getsize(path) > MAX_DESCRIPTOR_BYTES:
            log.warning("ignoring the firmware descriptor %s: too big to be one", path)
            return None
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        if not text.strip():
            return None  # an empty file hides a system descriptor of the same name
        data = json.loads(text)
        interfaces = [_INTERFACES[i] for i in data.get("interface-types", []) if i in _INTERFACES]
        arches = {t.get("architecture") for t in data.get("targets", []) if isinstance(t, dict)}
        mapping = data.get("mapping", {})
        flash = mapping.get("device") == "flash"
        image = (mapping.get("executable") or {}).get("filename") if flash else mapping.get("filename")
        template = (mapping.get("nvram-template") or {}).get("filename") if flash else None
        features = set(data.get("features", []))
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        log.warning("ignoring the firmware descriptor %s: %s", path, exc)
        return None
    if not interfaces or ARCH not in arches or not isinstance(image, str) or not os.path.isfile(image):
        return None
    interface = FirmwareInterface.UEFI if FirmwareInterface.UEFI in interfaces else interfaces[0]
    template = template if isinstance(template, str) and os.path.isfile(template) else None
    return Firmware(interface, image, "secure-boot" in features, "enrolled-keys" in features,
                    "requires-smm" in features, template)
