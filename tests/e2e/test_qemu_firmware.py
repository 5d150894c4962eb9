"""Real QEMU, real Linux under OVMF: UEFI, Secure Boot, the VM's variable store, and a TPM 2.0 from swtpm.

The Linux test guest (Debian's signed kernel, direct kernel boot) prints
``VMGUI EFI yes secureboot N`` and ``VMGUI TPM yes 2`` from /sys. Migration
moves the variable store and the TPM state in QEMU's stream: the flash
device's contents travel as guest memory and QEMU writes them into the
destination's own copy.
"""
from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
from e2e_helpers import make_qcow2, processes_under

from drivers import DomainState, DriverError, ErrorCode, MigrateFlags, UndefineFlags
from drivers.domxml import DomainXML, Tpm
from drivers.qemu import hostfacts

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

#: OVMF under TCG on a busy two-core machine takes far longer than SeaBIOS
BOOT_TIMEOUT = 240.0
_PCR9 = re.compile(rb"VMGUI PCR9 ([0-9A-Fa-f]{64})")

needs_ovmf = pytest.mark.skipif(not any(f.nvram_template for f in hostfacts.find_firmware()),
                                reason="OVMF is not installed (Debian: ovmf)")


def uefi_xml(env, name: str, *work: str, secure_boot: bool = False, tpm: bool = False,
             disks: list[dict] | None = None) -> str:
    dom = DomainXML.parse(env.linux_xml(name, *work, disks=disks))
    dom.firmware = "efi"
    dom.set_firmware_feature("secure-boot", secure_boot)
    dom.set_firmware_feature("enrolled-keys", secure_boot)
    if tpm:
        dom.add_device(Tpm())
    return dom.to_string()


def wait_state(dom, state: DomainState, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while dom.state()[0] != state and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dom.state()[0] == state


def swtpm_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie has ended; only its parent has not reaped it)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def swtpms_under(env) -> list[int]:
    """The running swtpm processes of the test's roots."""
    found = []
    for pid in processes_under(str(env.base)):
        try:
            exe = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if exe.endswith(b"swtpm") and swtpm_alive(pid):
            found.append(pid)
    return found


def swtpm_pid(env, dom) -> int:
    return int((env.root() / "domains" / dom.uuid / "tpm" / "swtpm.pid").read_text())


def read_pcr9(dom, serial, times: int) -> str:
    """PCR 9 (where the EFI stub measured the initrd) as the guest reads it from its TPM."""
    with dom.open_console() as console:
        console.write(b'echo "VMGUI PC""R9 $(cat /sys/class/tpm/tpm0/pcr-sha256/9)"\r')
        serial.wait_for(b"VMGUI PCR9 ", timeout=60, count=times)
    return _PCR9.findall(serial.text())[times - 1].decode()


@needs_ovmf
def test_a_uefi_guest_boots_under_ovmf_with_its_own_variable_store(env, linux_guest):
    conn = env.open()
    dom = conn.define_xml(uefi_xml(env, "efi"))
    defined = DomainXML.parse(dom.xml_desc())
    nvram = Path(defined.nvram or "")
    assert nvram == env.root() / "domains" / dom.uuid / "VARS.fd"
    assert defined.loader_type == "pflash" and defined.loader_readonly == "yes" and defined.nvram_template
    assert not defined.secure_boot and not nvram.exists(), "the store is made at the first start"

    dom.create()
    serial = env.guest("efi")
    serial.wait_for(b"VMGUI EFI yes secureboot", timeout=BOOT_TIMEOUT)
    serial.wait_for(b"VMGUI READY", timeout=60)
    assert b"VMGUI EFI yes secureboot 0" in serial.text() or b"VMGUI EFI yes secureboot none" in serial.text()
    assert nvram.is_file() and nvram.stat().st_size == os.path.getsize(defined.nvram_template or "")
    inode = nvram.stat().st_ino
    dom.destroy()

    dom.create()
    serial.wait_for(b"VMGUI READY", timeout=BOOT_TIMEOUT, count=2)
    assert nvram.stat().st_ino == inode, "a restart keeps the domain's variable store"
    dom.destroy()
    assert not swtpms_under(env)

    with pytest.raises(DriverError) as refused:
        dom.undefine()
    assert refused.value.code is ErrorCode.OPERATION_INVALID and "NVRAM" in refused.value.message
    assert nvram.is_file() and conn.lookup_by_name("efi")
    dom.undefine(UndefineFlags.NVRAM)
    assert not nvram.exists() and not (env.root() / "domains" / dom.uuid).exists()


@needs_ovmf
def test_secure_boot_is_on_in_the_guest_with_smm_and_the_enrolled_keys(env, linux_guest):
    conn = env.open()
    dom = conn.define_xml(uefi_xml(env, "sb", secure_boot=True))
    defined = DomainXML.parse(dom.xml_desc())
    assert defined.secure_boot and defined.loader_secure == "yes" and defined.smm is True
    assert defined.firmware_feature("enrolled-keys") is True
    dom.create()
    serial = env.guest("sb")
    serial.wait_for(b"VMGUI EFI yes", timeout=BOOT_TIMEOUT)
    serial.wait_for(b"VMGUI READY", timeout=60)
    assert b"VMGUI EFI yes secureboot 1" in serial.text(), serial.text()[-1500:]


@needs_ovmf
def test_secure_boot_on_the_pc_machine_is_refused_at_define(env):
    conn = env.open()
    xml = DomainXML.parse(env.xml("pcsb", machine="pc"))
    xml.firmware = "efi"
    xml.set_firmware_feature("secure-boot", True)
    with pytest.raises(DriverError) as refused:
        conn.define_xml(xml.to_string())
    assert refused.value.code is ErrorCode.INVALID_ARG and "q35" in refused.value.message


@needs_ovmf
def test_the_tpm_survives_save_and_restore_and_swtpm_ends_with_qemu(env, linux_guest, tmp_path):
    conn = env.open()
    dom = conn.define_xml(uefi_xml(env, "tpm", tpm=True))
    dom.create()
    serial = env.guest("tpm")
    serial.wait_for(b"VMGUI READY", timeout=BOOT_TIMEOUT)
    assert b"VMGUI TPM yes 2" in serial.text()
    state_dir = env.root() / "domains" / dom.uuid / "tpm"
    assert state_dir.stat().st_mode & 0o777 == 0o700
    before = read_pcr9(dom, serial, 1)
    assert before != "0" * 64, "the EFI stub measured the initrd into PCR 9"
    first = swtpm_pid(env, dom)

    image = str(tmp_path / "tpm.save")
    dom.save(image)
    wait_state(dom, DomainState.SHUTOFF)
    assert not swtpm_alive(first), "swtpm ends with the QEMU of a saved VM"
    conn.restore(image)
    wait_state(dom, DomainState.RUNNING)
    assert swtpm_pid(env, dom) != first
    assert read_pcr9(dom, serial, 2) == before, "the restored guest's TPM holds the state it had"

    second = swtpm_pid(env, dom)
    os.kill(dom.qemu_pid(), signal.SIGKILL)  # a crash of QEMU
    wait_state(dom, DomainState.SHUTOFF)
    deadline = time.monotonic() + 30
    while swtpm_alive(second) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not swtpm_alive(second), "swtpm ends when its QEMU is killed"
    assert not swtpms_under(env), "no swtpm of the test's root is left"


@needs_ovmf
def test_migration_moves_the_variables_and_the_tpm_state_in_the_stream(env, linux_guest):
    src, dst = env.open("a"), env.open("b")
    dom = src.define_xml(uefi_xml(env, "mig", tpm=True))
    dom.create()
    serial = env.guest("mig")
    serial.wait_for(b"VMGUI READY", timeout=BOOT_TIMEOUT)
    before = read_pcr9(dom, serial, 1)
    source_vars = Path(DomainXML.parse(dom.xml_desc()).nvram or "")
    with dom.open_console() as console:  # a variable the guest writes: it must arrive with the guest
        console.write(b"printf '\\x07\\x00\\x00\\x00vmgui' > /sys/firmware/efi/efivars/"
                      b"VmguiMark-3d2e6a40-5c1b-4f6e-9a8d-7b3c2e1f0a59; echo VMGUI MA\"RK\"\r")
        serial.wait_for(b"VMGUI MARK", timeout=60)

    moved = dom.migrate(dst, MigrateFlags.LIVE | MigrateFlags.PERSIST_DEST | MigrateFlags.UNDEFINE_SOURCE)
    dest_vars = env.root("b") / "domains" / moved.uuid / "VARS.fd"
    assert DomainXML.parse(moved.xml_desc()).nvram == str(dest_vars)
    assert read_pcr9(moved, serial, 2) == before, "the TPM arrived with the guest"
    assert b"vmgui" in dest_vars.read_bytes(), "the guest's new variable is in the destination's store"
    assert not source_vars.exists(), "the source's copy went with its definition"
    moved.destroy()
    with pytest.raises(DriverError) as refused:
        moved.migrate(src, MigrateFlags.OFFLINE | MigrateFlags.PERSIST_DEST)
    assert refused.value.code is ErrorCode.OPERATION_INVALID and "would stay behind" in refused.value.message


@needs_ovmf
def test_a_transient_tpm_domain_leaves_no_state_when_it_stops(env, linux_guest):
    conn = env.open()
    dom = conn.create_xml(uefi_xml(env, "once", tpm=True))
    serial = env.guest("once")
    serial.wait_for(b"VMGUI TPM yes 2", timeout=BOOT_TIMEOUT)
    state_dir = env.root() / "domains" / dom.uuid / "tpm"
    assert state_dir.is_dir()
    dom.destroy()
    assert not state_dir.exists() and not swtpms_under(env)


@needs_ovmf
def test_a_shut_off_uefi_guest_reverts_to_a_live_snapshot_and_runs_on(env, linux_guest, tmp_path):
    disk = make_qcow2(tmp_path / "snap.qcow2", 16)
    conn = env.open()
    dom = conn.define_xml(uefi_xml(env, "snapefi", "ram", disks=[{"path": disk}]))
    dom.create()
    serial = env.guest("snapefi")
    serial.wait_for(b"VMGUI READY", timeout=BOOT_TIMEOUT)
    serial.wait_ram_ok(1, timeout=120)
    snap = dom.snapshot_create("<domainsnapshot><name>warm</name></domainsnapshot>")
    dom.destroy()
    snap.revert()  # -loadvm would refuse: the variable store is a raw node without snapshots
    assert dom.state()[0] == DomainState.RUNNING
    serial.wait_ram_ok(2, timeout=120)  # the guest's memory came back whole and it runs on
    assert serial.boots() == 1, "a revert resumes the snapshot, it does not boot again"
