"""UEFI firmware picked from QEMU's descriptors at define, as libvirt does, and the variable store's first copy."""
from __future__ import annotations

import os

import pytest

from drivers import DriverError, ErrorCode
from drivers.domxml import DomainXML
from drivers.hostfacts import Firmware, FirmwareInterface
from drivers.qemu import firmware


@pytest.fixture
def images(tmp_path):
    for name in ("CODE.fd", "CODE.secboot.fd", "VARS.fd", "VARS.ms.fd"):
        (tmp_path / name).write_bytes(name.encode() * 64)
    bios = Firmware(FirmwareInterface.BIOS)
    secure = Firmware(FirmwareInterface.UEFI, str(tmp_path / "CODE.secboot.fd"), True, True, True,
                      str(tmp_path / "VARS.ms.fd"))
    plain = Firmware(FirmwareInterface.UEFI, str(tmp_path / "CODE.fd"), nvram_template=str(tmp_path / "VARS.fd"))
    return tmp_path, (bios, secure, plain)


def _efi(machine: str = "q35", secure_boot: bool | None = None) -> DomainXML:
    dom = DomainXML.parse(f"<domain type='qemu'><name>u</name><memory>65536</memory>"
                          f"<os firmware='efi'><type machine='{machine}'>hvm</type></os></domain>")
    if secure_boot is not None:
        dom.set_firmware_feature("secure-boot", secure_boot)
    return dom


def test_the_first_descriptor_with_the_features_asked_for_is_written_down(images):
    folder, found = images
    dom = _efi(secure_boot=False)
    firmware.resolve(dom, found, "/root/d/VARS.fd")
    assert (dom.loader, dom.loader_secure, dom.nvram, dom.nvram_template) == (
        str(folder / "CODE.fd"), "no", "/root/d/VARS.fd", str(folder / "VARS.fd"))
    assert dom.smm is None and dom.firmware_feature("secure-boot") is False
    unsaid = _efi()  # no feature named: the first in priority order, as libvirt
    firmware.resolve(unsaid, found, "/root/d/VARS.fd")
    assert unsaid.loader == str(folder / "CODE.secboot.fd") and unsaid.loader_secure == "yes"
    assert unsaid.smm is True and unsaid.firmware_feature("enrolled-keys") is True


def test_secure_boot_needs_q35_smm_and_an_installed_image(images):
    _folder, found = images
    with pytest.raises(DriverError, match="q35"):
        firmware.resolve(_efi("pc-i440fx-7.2", secure_boot=True), found, "/x")
    no_smm = _efi(secure_boot=True)
    no_smm.smm = False
    with pytest.raises(DriverError, match="needs SMM"):
        firmware.resolve(no_smm, found, "/x")
    with pytest.raises(DriverError) as none:
        firmware.resolve(_efi(secure_boot=True), found[:1], "/x")
    assert none.value.code is ErrorCode.INVALID_ARG and "install OVMF" in none.value.message
    bios = DomainXML.parse("<domain type='qemu'><name>b</name><memory>65536</memory></domain>")
    firmware.resolve(bios, found, "/x")
    assert bios.loader is None and bios.nvram is None


def test_unless_secure_boot_is_asked_for_a_machine_without_smm_gets_the_firmware_it_can_run(images):
    folder, found = images
    older_pc = _efi("pc-i440fx-7.2")
    smm_off = _efi()
    smm_off.smm = False
    insecure = DomainXML.parse("<domain type='qemu'><name>u</name><memory>65536</memory><os firmware='efi'>"
                               "<type machine='q35'>hvm</type><loader secure='no'/></os></domain>")
    for dom in (older_pc, smm_off, insecure):
        firmware.resolve(dom, found, "/root/d/VARS.fd")
        assert (dom.loader, dom.loader_secure) == (str(folder / "CODE.fd"), "no"), dom.to_string()
        assert dom.smm is not True and dom.firmware_feature("secure-boot") is False


def test_a_variable_store_named_by_a_source_element_is_kept_and_one_on_a_network_refused(images):
    folder, found = images

    def with_nvram(nvram: str) -> DomainXML:
        return DomainXML.parse(f"<domain type='qemu'><name>u</name><memory>65536</memory><os>"
                               f"<type machine='q35'>hvm</type><loader readonly='yes' type='pflash'>"
                               f"{folder / 'CODE.fd'}</loader>{nvram}</os></domain>")
    given = with_nvram("<nvram type='file'><source file='/srv/vars/u_VARS.fd'/></nvram>")
    firmware.resolve(given, found, "/root/d/VARS.fd")
    assert given.nvram == "/srv/vars/u_VARS.fd", "the store the user chose, not one of the driver's"
    assert "<source" not in given.to_string() and "/root/d" not in given.to_string()
    both = with_nvram("<nvram type='file'>/root/d/VARS.fd<source file='/srv/vars/u_VARS.fd'/>\n    </nvram>")
    firmware.resolve(both, found, "/root/d/VARS.fd")  # as an earlier vmgui wrote it: the text is what ran
    assert both.nvram == "/root/d/VARS.fd" and "<source" not in both.to_string()
    for network in ("<nvram type='network'><source protocol='nbd' name='vars'><host name='h'/></source></nvram>",
                    "<nvram type='block'><source dev='/dev/vg/vars'/></nvram>"):
        with pytest.raises(DriverError) as refused:
            firmware.resolve(with_nvram(network), found, "/root/d/VARS.fd")
        assert refused.value.code is ErrorCode.NO_SUPPORT and "/domain/os/nvram" in refused.value.message


def test_the_variable_store_is_copied_once_and_then_kept(images):
    folder, found = images
    dom = _efi(secure_boot=False)
    target = folder / "dom" / "VARS.fd"
    firmware.resolve(dom, found, str(target))
    assert firmware.prepare_nvram(dom) == str(target)
    assert target.read_bytes() == (folder / "VARS.fd").read_bytes() and target.stat().st_mode & 0o777 == 0o600
    target.write_bytes(b"the guest's variables")
    firmware.prepare_nvram(dom)
    assert target.read_bytes() == b"the guest's variables"
    assert [p for p in os.listdir(folder / "dom") if p != "VARS.fd"] == []
    gone = _efi(secure_boot=False)
    gone.set_loader(str(folder / "CODE.fd"))
    gone.set_nvram(str(folder / "other" / "VARS.fd"), str(folder / "missing.fd"))
    with pytest.raises(DriverError) as refused:
        firmware.prepare_nvram(gone)
    assert refused.value.code is ErrorCode.OPERATION_INVALID and "no template" in refused.value.message
