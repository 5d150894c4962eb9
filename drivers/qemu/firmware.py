"""UEFI firmware of a domain: picked from QEMU's descriptors at define, its variable store made at start.

``<os firmware='efi'>`` is resolved as libvirt does: the first descriptor
(in the spec's priority order) that has the firmware features the XML asks
for (``secure-boot``, ``enrolled-keys``) names the code image, written to
``<loader readonly='yes' type='pflash'>``; one that guards its variables
with SMM gets ``secure='yes'`` and ``<smm state='on'/>``. Every UEFI
domain keeps its own copy of the variables (``<nvram template=…>PATH``),
by default in its folder under the root, copied from the template at its
first start and kept across restarts.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

from ..domxml import FIRMWARE_FEATURES, DomainXML
from ..errors import DriverError, ErrorCode
from ..fsutil import publish_new
from ..hostfacts import Firmware, FirmwareInterface


def resolve(definition: DomainXML, available: Sequence[Firmware], nvram_path: str) -> None:
    """Fill in the loader and variable store of a UEFI ``definition`` (in place); BIOS ones are left alone.

    INVALID_ARG when no installed firmware has the features asked for, or
    Secure Boot meets a machine or SMM setting it cannot run with.
    """
    d = definition
    if d.firmware == "efi" and not d.loader:
        fw = _choose(d, available)
        d.set_loader(fw.path, secure=fw.requires_smm)
        for feature in FIRMWARE_FEATURES:
            d.set_firmware_feature(feature, fw.enrolled_keys if feature == "enrolled-keys" else fw.secure_boot)
        if fw.requires_smm and d.smm is None:
            d.smm = True
    if not d.uefi:
        return
    if d.loader_secure == "yes":
        if d.smm is False:
            raise DriverError(ErrorCode.INVALID_ARG, "/domain/features/smm: a Secure Boot firmware needs SMM; "
                              "set <smm state='on'/> or choose UEFI without Secure Boot")
        if _i440fx(d.machine):
            raise DriverError(ErrorCode.INVALID_ARG, "/domain/os/type/@machine: Secure Boot needs the q35 "
                              f"machine, not {d.machine!r}")
    _store_in_a_file(d)
    if not d.nvram:
        template = d.nvram_template or _template_of(d.loader, available)
        d.set_nvram(nvram_path, template)


def _i440fx(machine: str | None) -> bool:
    """Whether ``machine`` is the older PC (i440FX) machine, which has no SMM for Secure Boot (None: q35)."""
    return machine is not None and machine.startswith("pc") and not machine.startswith("pc-q35")


def _store_in_a_file(d: DomainXML) -> None:
    """A variable store given as ``<nvram type='file'><source file=…/></nvram>`` is written as libvirt's
    other form, the path as the element's text; one on a network (NBD, iSCSI) is refused: QEMU here
    keeps each domain's variables in a file of its own."""
    os_el = d.root.find("os")
    nvram = os_el.find("nvram") if os_el is not None else None
    source = nvram.find("source") if nvram is not None else None
    if nvram is None or source is None:
        return
    # both forms (an earlier vmgui wrote its own path beside the source): the text is the store it ran on
    path = (nvram.text or "").strip() or source.get("file")
    if not (nvram.text or "").strip() and (nvram.get("type", "file") != "file" or source.get("protocol")
                                           or not path):
        raise DriverError(ErrorCode.NO_SUPPORT, "/domain/os/nvram: a UEFI variable store on a network "
                          "(NBD, iSCSI) or a block device is not supported here; name a file")
    nvram.remove(source)
    nvram.attrib.pop("type", "")
    d.nvram = path


def _choose(d: DomainXML, available: Sequence[Firmware]) -> Firmware:
    """The first UEFI descriptor with the firmware features asked for, that the machine and the domain's
    SMM and loader settings can run (as libvirt picks: no SMM-guarded firmware for i440FX, ``<smm
    state='off'/>`` or ``<loader secure='no'/>``)."""
    wanted = {f: d.firmware_feature(f) for f in FIRMWARE_FEATURES}
    # Secure Boot asked for in so many words goes on to say why it cannot run here
    without_smm = wanted["secure-boot"] is not True and (d.smm is False or d.loader_secure == "no"
                                                         or _i440fx(d.machine))
    for fw in available:
        if fw.interface is not FirmwareInterface.UEFI or not fw.path or not fw.nvram_template:
            continue
        if fw.requires_smm and without_smm:
            continue
        has = {"secure-boot": fw.secure_boot, "enrolled-keys": fw.enrolled_keys}
        if all(want is None or has[f] == want for f, want in wanted.items()):
            return fw
    asked = ", ".join(f"{f} {'on' if w else 'off'}" for f, w in wanted.items() if w is not None)
    raise DriverError(ErrorCode.INVALID_ARG, "no UEFI firmware on this host fits /domain/os"
                      + (f" ({asked})" if asked else "") + "; install OVMF (Debian: ovmf) or choose BIOS")


def _template_of(loader: str | None, available: Sequence[Firmware]) -> str | None:
    """The variable template of the descriptor whose code image is ``loader`` (links resolved)."""
    if not loader:
        return None
    real = os.path.realpath(loader)
    for fw in available:
        if fw.path and fw.nvram_template and os.path.realpath(fw.path) == real:
            return fw.nvram_template
    return None


def prepare_nvram(definition: DomainXML) -> str | None:
    """Make sure a UEFI domain's variable store exists before QEMU opens it; returns its path.

    The first start copies the template (a whole copy under a temporary
    name, then linked into place: a variable store is never half written).
    OPERATION_INVALID when there is neither store nor template.
    """
    path = definition.nvram
    if not definition.uefi or not path:
        return None
    if os.path.isfile(path):
        return path
    template = definition.nvram_template
    if not template or not os.path.isfile(template):
        raise DriverError(ErrorCode.OPERATION_INVALID,
                          f"the UEFI variable store {path} does not exist and there is no template to make it "
                          "from; name one in <nvram template=…> or install OVMF (Debian: ovmf)")
    tmp = f"{path}.{os.getpid()}.new"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        shutil.copyfile(template, tmp)
        os.chmod(tmp, 0o600)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        try:
            publish_new(tmp, path)
        except FileExistsError:
            os.unlink(tmp)  # another start made it meanwhile: keep that one
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise DriverError(ErrorCode.OPERATION_FAILED,
                          f"cannot create the UEFI variable store {path}: {exc.strerror}") from None
    return path
