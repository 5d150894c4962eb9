"""Host facts: what a host offers a new domain, from the simulated host and QEMU's firmware descriptors."""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

import drivers
from drivers import DriverError, ErrorCode
from drivers.hostfacts import Firmware, FirmwareInterface, HostFacts, free_bytes
from drivers.qemu.hostfacts import find_firmware
from drivers.qemu.hostfacts import host_facts as qemu_host_facts


def test_the_simulated_host_keeps_new_images_in_the_users_data_folder(conn, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    facts = conn.host_facts()
    assert facts.image_dir == str(tmp_path / "data" / "vmgui" / "images")
    assert facts.hostname == socket.gethostname()
    assert facts.local is True
    # no hypervisor behind it: new domains are plain QEMU ones, and the reason is a sentence
    assert facts.kvm is False and facts.domain_type == "qemu"
    assert "no hypervisor" in facts.kvm_problem
    assert facts.firmware_of(FirmwareInterface.BIOS) == (Firmware(FirmwareInterface.BIOS),)


def test_a_disk_and_a_domain_made_from_the_facts_are_accepted(conn, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    facts = conn.host_facts()
    Path(facts.image_dir).mkdir(parents=True)
    path = f"{facts.image_dir}/fresh.qcow2"
    conn.create_disk(path, 1 << 20)
    assert Path(path).is_file()
    dom = conn.define_xml(f"<domain type='{facts.domain_type}'><name>fresh</name><memory>65536</memory>"
                          f"<devices><disk type='file' device='disk'><source file='{path}'/>"
                          "<target dev='vda'/></disk></devices></domain>")
    dom.create()
    assert dom.is_active()


def test_a_closed_connection_has_no_facts(node_file):
    conn = drivers.open(f"test://{node_file}")
    conn.close()
    with pytest.raises(DriverError) as err:
        conn.host_facts()
    assert err.value.code is ErrorCode.OPERATION_INVALID


def test_facts_are_frozen_and_name_the_domain_type():
    facts = HostFacts("h", "/srv", None)
    assert facts.kvm and facts.domain_type == "kvm"
    with pytest.raises(AttributeError):
        facts.image_dir = "/elsewhere"  # type: ignore[misc]


def _descriptor(folder: Path, name: str, interface: str, image: Path | None, arch: str = "x86_64",
                features: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    mapping = ({"device": "flash", "executable": {"filename": str(image), "format": "raw"}}
               if interface == "uefi" else {"device": "memory", "filename": str(image)})
    path.write_text(json.dumps({"interface-types": [interface], "mapping": mapping,
                                "targets": [{"architecture": arch, "machines": ["pc-q35-*"]}],
                                "features": list(features)}))
    return path


def _image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * 4096)
    return path


def test_uefi_images_come_from_qemus_descriptors_in_priority_order(tmp_path):
    system, local = tmp_path / "usr", tmp_path / "etc"
    plain = _image(tmp_path / "fw" / "CODE.fd")
    secure = _image(tmp_path / "fw" / "CODE.secboot.fd")
    _descriptor(system, "50-plain.json", "uefi", plain)
    _descriptor(system, "40-secure.json", "uefi", secure, features=("secure-boot", "enrolled-keys"))
    _descriptor(system, "60-arm.json", "uefi", plain, arch="aarch64")  # another architecture: not ours
    _descriptor(system, "70-missing.json", "uefi", tmp_path / "fw" / "gone.fd")  # its image is not there
    (system / "80-broken.json").write_text("{not json")
    firmware = find_firmware([str(system), str(local)])
    assert firmware[0].interface is FirmwareInterface.BIOS
    assert firmware[1:] == (Firmware(FirmwareInterface.UEFI, str(secure), True, enrolled_keys=True),
                            Firmware(FirmwareInterface.UEFI, str(plain), False))


def test_a_later_folder_overrides_or_hides_a_descriptor_of_the_same_name(tmp_path):
    system, local = tmp_path / "usr", tmp_path / "etc"
    plain = _image(tmp_path / "fw" / "CODE.fd")
    other = _image(tmp_path / "fw" / "OTHER.fd")
    _descriptor(system, "50-plain.json", "uefi", plain)
    _descriptor(system, "60-other.json", "uefi", other)
    _descriptor(local, "50-plain.json", "uefi", other)  # same name, later folder: it wins
    (local / "60-other.json").write_text("")  # empty: hides the system one
    assert find_firmware([str(system), str(local)])[1:] == (Firmware(FirmwareInterface.UEFI, str(other)),)


def test_debians_ovmf_descriptors_name_the_variable_templates_and_secure_boot_needs():
    system = Path("/usr/share/qemu/firmware")
    if not (system / "40-edk2-x86_64-secure-enrolled.json").is_file():
        pytest.skip("Debian's ovmf is not installed")
    found = [f for f in find_firmware([str(system)]) if f.interface is FirmwareInterface.UEFI]
    enrolled = found[0]
    assert os.path.realpath(enrolled.path or "") == "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
    assert enrolled.nvram_template == "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
    assert enrolled.secure_boot and enrolled.enrolled_keys and enrolled.requires_smm
    plain = next(f for f in found if not f.secure_boot)
    assert plain.path == "/usr/share/OVMF/OVMF_CODE_4M.fd" and plain.nvram_template == "/usr/share/OVMF/OVMF_VARS_4M.fd"


def test_the_simulated_host_tells_this_machines_memory_and_the_free_space_of_its_image_folder(conn, tmp_path,
                                                                                              monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the image folder does not exist yet
    facts = conn.host_facts()
    assert facts.memory_bytes == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    st = os.statvfs(tmp_path)  # its nearest existing folder
    assert facts.image_free_bytes is not None
    assert abs(facts.image_free_bytes - st.f_bavail * st.f_frsize) < 256 * 1024 * 1024  # others write meanwhile


def test_the_free_space_of_a_folder_nobody_can_reach_is_unknown():
    assert free_bytes(None) is None
    assert free_bytes("relative/and/missing") is None


def test_an_embedded_root_tells_this_machines_memory_and_the_free_space_under_it(tmp_path):
    facts = qemu_host_facts(str(tmp_path / "root"))  # the root and its image folder are made on first use
    assert facts.image_dir == str(tmp_path / "root" / "images")
    assert facts.memory_bytes == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    st = os.statvfs(tmp_path)
    assert facts.image_free_bytes is not None
    assert abs(facts.image_free_bytes - st.f_bavail * st.f_frsize) < 256 * 1024 * 1024  # others write meanwhile
