"""The New VM plan's checks before Finish and its OS-aware proposals (no Qt: plain data and real osinfo-db)."""
from __future__ import annotations

from dataclasses import replace

import pytest
from isoimages import DEBIAN_11, DEBIAN_11_FILE, MICROSOFT, WINDOWS_11, stated_ram_and_storage
from test_newvm import DIR, WORLD, plan_of, seen

from drivers.domxml import DomainXML
from drivers.isoinfo import IsoInfo
from drivers.osinfo import OsInfoDb
from vmgui.models.newvm import GIB, MIB, Boot, Devices, NewVMPlan, Target, propose

needs_db = pytest.mark.skipif(OsInfoDb().root is None, reason="osinfo-db is not installed (Debian: osinfo-db)")
NOT_A_CD = "/etc/passwd is not a CD/DVD image (no ISO 9660 or UDF volume descriptor): choose an installer .iso file."
HOST = Target("test:///x", "/img", boots=(Boot.BIOS, Boot.UEFI, Boot.SECURE_BOOT), tpm=True,
              memory_bytes=8 * GIB, image_free_bytes=100 * GIB)


@pytest.fixture(scope="module")
def db() -> OsInfoDb:
    return OsInfoDb()


def on(target: Target, **changes: object) -> NewVMPlan:
    return seen(NewVMPlan(target, name="vm1", iso="/isos/d.iso").with_(**changes))


def texts(issues) -> list[str]:
    return [i.text for i in issues]


def test_a_file_that_is_not_a_cd_image_is_refused_as_the_iso():
    world = dict(WORLD, **{"/etc/passwd": replace(WORLD["/boot/vmlinuz"], medium_problem=NOT_A_CD)})
    plan = seen(NewVMPlan(HOST, name="vm1", iso="/etc/passwd"), world)
    assert [(i.field, i.text) for i in plan.issues()] == [("source", NOT_A_CD)]


def test_memory_above_90_percent_of_the_host_is_a_warning_not_a_problem():
    assert texts(on(HOST, memory_mib=7372).warnings()) == []  # 7372 MiB < 0.9 * 8 GiB
    plan = on(HOST, memory_mib=7373)
    assert plan.issues() == []
    assert [(i.field, i.text) for i in plan.warnings()] == [
        ("memory", "7373 MiB is more than 90 % of the host's 8.0 GiB of memory: the host may slow down or stop "
                   "other VMs.")]


def test_a_disk_larger_than_the_free_space_is_a_warning():
    plan = on(replace(HOST, image_free_bytes=10 * GIB), disk_size=20 * GIB)
    assert plan.issues() == []
    assert texts(plan.warnings()) == ["The 20 GiB disk is larger than the 10.0 GiB free in /img: it may run out "
                                      "of space."]
    assert on(replace(HOST, image_free_bytes=20 * GIB), disk_size=20 * GIB).warnings() == []


def test_a_disk_in_another_folder_is_checked_against_that_folders_free_space():
    world = dict(WORLD, **{"/big": replace(DIR, free_bytes=GIB)})
    plan = seen(NewVMPlan(HOST, name="vm1", iso="/isos/d.iso", disk_path="/big/vm1.qcow2", disk_size=2 * GIB), world)
    assert texts(plan.warnings()) == ["The 2 GiB disk is larger than the 1.0 GiB free in /big: it may run out "
                                      "of space."]


def test_a_disk_folder_that_cannot_be_written_to_is_a_problem():
    world = dict(WORLD, **{"/ro": replace(DIR, writable=False)})
    plan = seen(NewVMPlan(HOST, name="vm1", iso="/isos/d.iso", disk_path="/ro/vm1.qcow2"), world)
    assert [(i.field, i.text) for i in plan.issues()] == [
        ("disk", "The folder /ro cannot be written to (permissions): choose another folder.")]


def test_a_host_that_does_not_tell_its_memory_or_free_space_is_not_checked_and_says_so():
    plan = on(Target("libvirt:qemu+ssh://far/system", "/var/lib/libvirt/images", remote=True), memory_mib=1 << 20)
    assert texts(plan.warnings()) == [
        "libvirt:qemu+ssh://far/system does not tell its memory: not checked against it.",
        "libvirt:qemu+ssh://far/system does not tell the free space in /var/lib/libvirt/images: the disk size is "
        "not checked against it."]


def test_a_taken_name_is_a_problem_of_the_first_page():
    assert [(i.field, i.text) for i in plan_of(name="web01").issues()] == [
        ("name", "A domain named “web01” already exists on test:///x.")]


@needs_db
def test_debian_gets_its_recommendations_and_virtio(db):
    profile = db.identify(IsoInfo(DEBIAN_11))
    ram, _, storage, _ = stated_ram_and_storage(db.root, DEBIAN_11_FILE)
    plan = propose(on(HOST, memory_mib=512, disk_size=8 * GIB), profile)
    assert (plan.memory_mib, plan.disk_size, plan.boot, plan.tpm, plan.devices) == \
        (ram // MIB, storage, Boot.BIOS, False, Devices.VIRTIO)
    assert plan.issues() == [] and plan.warnings() == []
    assert "Install from /isos/d.iso (detected: Debian 11 (bullseye))" in plan.summary()


@needs_db
def test_windows_11_gets_uefi_secure_boot_a_tpm_sata_and_e1000e(db):
    profile = db.identify(IsoInfo(WINDOWS_11, publisher_id=MICROSOFT))
    plan = propose(on(HOST), profile)
    assert (plan.memory_mib, plan.disk_size, plan.boot, plan.tpm, plan.devices, plan.nic_model) == \
        (4096, 64 * GIB, Boot.SECURE_BOOT, True, Devices.EMULATED, "e1000e")
    assert plan.issues() == [] and plan.warnings() == []
    dom = DomainXML.parse(plan.xml())
    assert [(d.target, d.bus) for d in dom.disks()] == [("sda", "sata"), ("sdb", "sata")]
    assert dom.firmware == "efi" and 'model type="e1000e"' in plan.xml().replace("'", '"')


@needs_db
def test_changing_a_proposal_for_windows_11_warns_what_it_needs(db):
    profile = db.identify(IsoInfo(WINDOWS_11, publisher_id=MICROSOFT))
    plan = propose(on(HOST), profile).with_(boot=Boot.BIOS, tpm=False, devices=Devices.VIRTIO, memory_mib=2048,
                                              disk_size=32 * GIB)
    assert plan.issues() == []
    assert [(i.field, i.text) for i in plan.warnings()] == [
        ("memory", "Microsoft Windows 11 needs at least 4.0 GiB of memory."),
        ("firmware", "Microsoft Windows 11 does not start with BIOS firmware: choose UEFI."),
        ("tpm", "Microsoft Windows 11 needs a TPM 2.0: its installer refuses to go on without one."),
        ("devices", "Microsoft Windows 11 has no virtio drivers of its own: its installer may not see the disk. "
                    "Choose the SATA disk, or add a virtio driver disk."),
        ("disk", "Microsoft Windows 11 needs a disk of at least 64.0 GiB.")]


@needs_db
def test_a_small_host_gets_half_its_memory_but_never_less_than_the_minimum(db):
    small = replace(HOST, memory_bytes=6 * GIB)
    ubuntu = db.identify(IsoInfo("Ubuntu-Server 22.04.1 LTS amd64"))  # 4 GiB recommended, 2 GiB minimum
    assert propose(on(small), ubuntu).memory_mib == 3072
    windows = db.identify(IsoInfo(WINDOWS_11, publisher_id=MICROSOFT))  # 4 GiB minimum
    assert propose(on(small), windows).memory_mib == 4096
    # a host without OVMF or swtpm keeps BIOS and no TPM: the warnings then say what is missing
    bare = propose(on(replace(HOST, boots=(Boot.BIOS,), tpm=False)), windows)
    assert (bare.boot, bare.tpm) == (Boot.BIOS, False) and bare.issues() == []
    assert [i.field for i in bare.warnings()] == ["firmware", "tpm"]
