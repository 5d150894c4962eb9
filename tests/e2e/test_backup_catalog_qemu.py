"""Real QEMU, real Linux: a backup into a folder of its own is a catalog entry that verifies against QEMU's copy."""
from __future__ import annotations

import json
import os
import subprocess

import e2e_helpers as h
import pytest
from jobwait import connection_job_end, domain_job_end
from linuxguest.records import read_records

from drivers import BackupFlags, JobFlags, JobState
from drivers import backupcatalog as catalog

pytestmark = [pytest.mark.qemu, pytest.mark.slow]


def _b3sum(path: str) -> str:
    """The image's BLAKE3 as the b3sum program prints it."""
    return subprocess.run(["b3sum", path], capture_output=True, text=True, check=True).stdout.split()[0]


def test_a_backup_taken_while_the_guest_writes_has_a_manifest_that_verifies(env, linux_guest):
    disk = h.make_qcow2(env.base / "rec.qcow2", 16)
    conn = env.open()
    dom = conn.define_xml(env.linux_xml("bkcat", "disk", disks=[{"path": disk}]))
    dom.create()
    serial = env.guest("bkcat")
    serial.wait_for(b"VMGUI READY", timeout=90)
    last = serial.wait_disk_record(5, timeout=90)
    folder = catalog.backup_folder(str(env.base / "backups"), "bkcat", "20261207-0700")
    (env.base / "backups" / "bkcat-20261207-0700").mkdir(parents=True)
    serial.wait_disk_record(last + 3)  # the guest is writing while the backup begins
    before = serial.last_disk_record()
    job_id = dom.backup_begin(h.backup_xml(f"{folder}/vda.qcow2"))
    after = serial.last_disk_record()
    info = domain_job_end(dom, job_id, timeout=180)
    assert info.state == JobState.COMPLETED, info.error

    [backup] = catalog.find([str(env.base / "backups")], dom.uuid)
    [image] = backup.images
    path = backup.path(image)
    assert (image.target, image.file, image.format) == ("vda", "vda.qcow2", "qcow2")
    assert image.virtual_size == 16 << 20
    assert (image.algorithm, image.checksum) == ("blake3", _b3sum(path))
    assert backup.domain_name == "bkcat" and "bkcat" in backup.domain_xml
    found = read_records(path)
    assert not found.torn and not found.after_gap
    assert before <= found.count - 1 <= after + 1

    result = catalog.verify(backup)  # checksum and a real qemu-img check
    assert result.ok, result.problems
    catalog.record_verification(backup, result)
    assert catalog.read(folder).verification == result

    with open(path, "r+b") as fh:  # a record's byte in the data: qemu-img check cannot see it, the hash does
        data = fh.read()
        at = data.index(b"VMGUIREC 00000001")
        fh.seek(at + 9)
        fh.write(b"X")
    bad = catalog.verify(catalog.read(folder))
    assert not bad.ok and "does not match the backup's checksum" in bad.summary()
    assert not serial.kernel_trouble()


def test_a_backup_restores_to_a_new_vm_and_onto_the_vm_with_exactly_its_records_and_both_boot(env, linux_guest):
    disk = h.make_qcow2(env.base / "orig.qcow2", 16)
    conn = env.open()
    dom = conn.define_xml(env.linux_xml("bkres", "disk", disks=[{"path": disk}]))
    dom.create()
    serial = env.guest("bkres")
    serial.wait_for(b"VMGUI READY", timeout=90)
    serial.wait_disk_record(8, timeout=90)
    folder = env.base / "backups" / "bkres-1"
    folder.mkdir(parents=True)
    job_id = dom.backup_begin(h.backup_xml(f"{folder}/vda.qcow2"))
    assert domain_job_end(dom, job_id, timeout=180).state == JobState.COMPLETED
    backed_up = read_records(str(folder / "vda.qcow2"))
    assert backed_up.count > 8 and not backed_up.torn
    serial.wait_disk_record(backed_up.count + 2, timeout=90)  # the disk moves on past the backup
    dom.destroy()
    assert read_records(disk).count > backed_up.count

    images = env.base / "images"
    job_id = conn.backup_restore(str(folder), "bkres-copy", str(images), JobFlags.ASYNC)
    info = connection_job_end(conn, job_id, timeout=180)
    assert info.state == JobState.COMPLETED, info.error
    copy_disk = str(images / "bkres-copy-vda.qcow2")
    restored = read_records(copy_disk)
    assert (restored.count, restored.torn, restored.boot_id) == (backed_up.count, [], backed_up.boot_id)
    copy = conn.lookup_by_name("bkres-copy")
    assert copy.uuid != dom.uuid
    # its own serial log, so the two guests can be told apart
    conn.define_xml(copy.xml_desc().replace(str(env.serial("bkres")), str(env.serial("bkres-copy"))))
    copy.create()
    env.guest("bkres-copy").wait_for(b"VMGUI READY", timeout=90)
    copy.destroy()

    job_id = conn.backup_restore_onto(str(folder), "bkres", JobFlags.ASYNC)
    info = connection_job_end(conn, job_id, timeout=180)
    assert info.state == JobState.COMPLETED, info.error
    onto = read_records(disk)
    assert (onto.count, onto.torn, onto.after_gap) == (backed_up.count, [], [])
    assert sorted(p.name for p in env.base.iterdir() if p.name.startswith("orig")) == ["orig.qcow2"]
    env.serial("bkres").unlink()  # the log of the boot after the restore alone
    dom.create()
    serial.wait_for(b"VMGUI READY", timeout=90)
    assert serial.boots() == 1
    assert not serial.kernel_trouble()


def test_a_shut_off_vm_is_backed_up_into_a_catalogued_folder(env):
    disk = h.make_qcow2(env.base / "off.qcow2", 32, fill_mib=8)
    conn = env.open()
    dom = conn.define_xml(env.xml("bkoff", disks=[{"path": disk}]))
    folder = env.base / "backups" / "bkoff-1"
    folder.mkdir(parents=True)
    job_id = dom.backup_begin(h.backup_xml(f"{folder}/vda.qcow2"), BackupFlags.SHUT_OFF)
    info = domain_job_end(dom, job_id, timeout=120)
    assert info.state == JobState.COMPLETED, info.error
    assert info.processed == info.total == 32 << 20
    [backup] = catalog.find([str(folder)])
    assert backup.domain_uuid == dom.uuid and backup.images[0].virtual_size == 32 << 20
    cmp = subprocess.run([h.QEMU_IMG, "compare", disk, str(folder / "vda.qcow2")], capture_output=True, text=True)
    assert cmp.returncode == 0, cmp.stdout + cmp.stderr
    assert sorted(os.listdir(folder)) == [catalog.MANIFEST, "vda.qcow2"]
    assert catalog.verify(backup).ok
    dom.create()  # the job is over: the domain is free again
    assert dom.is_active()


def test_a_shut_off_disk_with_an_internal_snapshot_is_backed_up_without_it(env):
    disk = h.make_qcow2(env.base / "snap.qcow2", 32, fill_mib=8)
    subprocess.run([h.QEMU_IMG, "snapshot", "-c", "old", disk], check=True)
    conn = env.open()
    dom = conn.define_xml(env.xml("bksnap", disks=[{"path": disk}]))
    folder = env.base / "backups" / "bksnap-1"
    folder.mkdir(parents=True)
    info = domain_job_end(dom, dom.backup_begin(h.backup_xml(f"{folder}/vda.qcow2"), BackupFlags.SHUT_OFF),
                          timeout=120)
    assert info.state == JobState.COMPLETED, info.error
    image = str(folder / "vda.qcow2")
    facts = json.loads(subprocess.run([h.QEMU_IMG, "info", "--output=json", image], capture_output=True,
                                      text=True, check=True).stdout)
    assert not facts.get("snapshots")  # the VM's own history stays with the VM
    cmp = subprocess.run([h.QEMU_IMG, "compare", disk, image], capture_output=True, text=True)
    assert cmp.returncode == 0, cmp.stdout + cmp.stderr
    [backup] = catalog.find([str(folder)])
    assert catalog.verify(backup).ok
