"""The backup catalog: manifests written as a backup job's last step, found by their manifests, verified."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess

import blake3
import pytest
from jobwait import connection_job_end, domain_job_end
from refusals import refused

from drivers import BackupFlags, ErrorCode, JobFlags, JobOperation, JobState
from drivers import backupcatalog as catalog
from drivers.domxml import DomainXML
from drivers.test.domain import DISK_BYTES


def _backup_xml(*targets: tuple[str, str], fmt: str = "raw") -> str:
    """Raw targets by default: the test driver writes a short text for each."""
    disks = "".join(f"<disk name='{dev}' type='file'><target file='{path}'/><driver type='{fmt}'/></disk>"
                    for dev, path in targets)
    return f"<domainbackup mode='push'><disks>{disks}</disks></domainbackup>"


def _back_up(conn, folder, name="test", devs=("hda",)):
    dom = conn.lookup_by_name(name)
    os.makedirs(folder)
    job_id = dom.backup_begin(_backup_xml(*[(d, os.path.join(folder, f"{d}.img")) for d in devs]))
    info = domain_job_end(dom, job_id)
    assert info.state is JobState.COMPLETED, info.error
    return dom


def _disk_devs(conn, name="test"):
    return [d.target for d in DomainXML.parse(conn.lookup_by_name(name).xml_desc()).disks()]


def test_a_backup_into_its_own_folder_gets_a_manifest_naming_domain_times_and_each_image(conn, tmp_path):
    devs = _disk_devs(conn)
    folder = catalog.backup_folder(str(tmp_path), "test", "20261207-070000")
    dom = _back_up(conn, folder, devs=devs)
    with open(os.path.join(folder, catalog.MANIFEST), encoding="utf-8") as fh:
        data = json.load(fh)
    assert data["kind"] == "full" and data["parent"] is None
    assert data["domain"]["name"] == "test" and data["domain"]["uuid"] == dom.uuid
    assert "<domain" in data["domain"]["xml"] and dom.uuid in data["domain"]["xml"]
    assert data["started"] <= data["ended"]
    assert data["vmgui_version"]
    assert [d["target"] for d in data["disks"]] == devs
    for disk in data["disks"]:
        path = os.path.join(folder, disk["file"])
        with open(path, "rb") as fh:
            content = fh.read()
        assert disk["blake3"] == blake3.blake3(content).hexdigest() and "sha256" not in disk
        assert disk["bytes"] == len(content) and disk["format"] == "raw"
        assert disk["virtual_size"] == DISK_BYTES
    [found] = catalog.find([str(tmp_path)], dom.uuid)
    assert found.folder == folder and found.domain_name == "test" and found.verification is None
    assert found.size == sum(d["bytes"] for d in data["disks"])


def test_a_backup_beside_other_files_gets_no_manifest(conn, tmp_path):
    (tmp_path / "unrelated.txt").write_text("mine")
    dom = conn.lookup_by_name("test")
    dev = _disk_devs(conn)[0]
    job_id = dom.backup_begin(_backup_xml((dev, str(tmp_path / "loose.qcow2"))))
    assert domain_job_end(dom, job_id).state is JobState.COMPLETED
    assert (tmp_path / "loose.qcow2").exists()
    assert not (tmp_path / catalog.MANIFEST).exists()
    assert catalog.find([str(tmp_path)]) == []


def test_only_finished_backups_are_listed_and_a_moved_folder_is_found_by_its_manifests(conn, tmp_path):
    app_folder = tmp_path / "backups"
    dev = _disk_devs(conn)[0]
    first = catalog.backup_folder(str(app_folder), "test", "a")
    dom = _back_up(conn, first, devs=(dev,))
    other = _back_up(conn, catalog.backup_folder(str(app_folder), "web01", "b"), name="web01",
                     devs=(_disk_devs(conn, "web01")[0],))
    (app_folder / "test-no-manifest").mkdir()
    (app_folder / "test-no-manifest" / f"{dev}.img").write_bytes(b"half")
    half = catalog.backup_folder(str(app_folder), "test", "c")
    _back_up(conn, half, devs=(dev,))
    (app_folder / "test-c" / f"{dev}.img.part").write_bytes(b"unfinished")
    broken = app_folder / "test-d"
    broken.mkdir()
    (broken / catalog.MANIFEST).write_text("{not json")
    assert [b.folder for b in catalog.find([str(app_folder)], dom.uuid)] == [first]
    with refused(ErrorCode.INVALID_ARG, "no finished backup"):
        catalog.read(str(app_folder / "test-no-manifest"))
    with refused(ErrorCode.INVALID_ARG, "unreadable manifest"):
        catalog.read(str(broken))
    assert "unfinished .part files" in (catalog.unfinished_reason(catalog.read(half)) or "")

    external = tmp_path / "usb-disk" / "moved"
    external.parent.mkdir()
    shutil.move(str(app_folder), str(external))
    found = catalog.find([str(external)])  # any domain's backups
    assert sorted((b.domain_name, b.domain_uuid, os.path.basename(b.folder)) for b in found) == \
        sorted([("test", dom.uuid, "test-a"), ("web01", other.uuid, "web01-b")])
    assert all(b.folder.startswith(str(external)) for b in found)
    assert catalog.find([str(external / "test-a")]) == [b for b in found if b.domain_name == "test"]


def test_verify_records_its_result_in_the_manifest_and_a_flipped_byte_fails_with_a_sentence(conn, tmp_path):
    dev = _disk_devs(conn)[0]
    folder = catalog.backup_folder(str(tmp_path), "test", "v")
    _back_up(conn, folder, devs=(dev,))
    backup = catalog.read(folder)
    result = catalog.verify(backup)
    assert result.ok and result.problems == ()
    catalog.record_verification(backup, result)
    assert catalog.read(folder).verification == result
    assert catalog.read(folder).images == backup.images  # nothing else changed

    image = os.path.join(folder, f"{dev}.img")
    with open(image, "r+b") as fh:
        first = fh.read(1)
        fh.seek(0)
        fh.write(bytes([first[0] ^ 0x01]))
    bad = catalog.verify(catalog.read(folder))
    assert not bad.ok
    assert bad.problems == (f"image {dev}.img of disk {dev} does not match the backup's checksum: it changed "
                            "or was damaged after the backup was taken",)
    catalog.record_verification(catalog.read(folder), bad)
    assert catalog.read(folder).verification == bad
    os.unlink(image)
    assert catalog.verify(catalog.read(folder)).problems == (f"image {dev}.img of disk {dev} is missing",)


def test_a_simulated_qcow2_backup_and_its_incremental_are_real_images_that_verify(conn, tmp_path):
    """The test driver's qcow2 images pass qemu-img check, so a newcomer's first backup verifies."""
    dev = _disk_devs(conn)[0]
    dom = conn.lookup_by_name("test")
    for n, incremental in enumerate(("", "<incremental>backup-0</incremental>")):
        folder = catalog.backup_folder(str(tmp_path), "test", str(n))
        os.makedirs(folder)
        xml = _backup_xml((dev, os.path.join(folder, f"{dev}.qcow2")), fmt="qcow2").replace(
            "<disks>", f"{incremental}<disks>")
        info = domain_job_end(dom, dom.backup_begin(xml, checkpoint_xml=f"<domaincheckpoint><name>backup-{n}"
                                                                        "</name></domaincheckpoint>"))
        assert info.state is JobState.COMPLETED, info.error
    full, inc = catalog.read(os.path.join(str(tmp_path), "test-0")), catalog.read(os.path.join(str(tmp_path), "test-1"))
    assert (full.kind, inc.kind, inc.parent) == ("full", "incremental", full.id)
    info = subprocess.run(["qemu-img", "info", "--output=json", inc.path(inc.images[0])], capture_output=True,
                          text=True, check=True).stdout
    assert json.loads(info)["backing-filename"] == f"../{full.id}/{dev}.qcow2"
    assert json.loads(info)["virtual-size"] == DISK_BYTES
    result = catalog.verify(inc)  # the whole chain: checksums and qemu-img check
    assert result.ok, result.problems


def test_a_backup_an_earlier_vmgui_checksummed_with_sha256_still_lists_and_verifies(conn, tmp_path):
    dev = _disk_devs(conn)[0]
    folder = catalog.backup_folder(str(tmp_path), "test", "old")
    _back_up(conn, folder, devs=(dev,))
    path = os.path.join(folder, catalog.MANIFEST)
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    image = os.path.join(folder, f"{dev}.img")
    with open(image, "rb") as fh:
        sha256 = hashlib.sha256(fh.read()).hexdigest()
    for disk in data["disks"]:  # the layout an earlier vmgui wrote
        del disk["blake3"]
        disk["sha256"] = sha256
    data["schema"] = 1
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    [found] = catalog.find([str(tmp_path)], data["domain"]["uuid"])
    assert (found.images[0].algorithm, found.images[0].checksum) == ("sha256", sha256)
    assert catalog.verify(found).ok
    catalog.record_verification(found, catalog.verify(found))
    assert catalog.read(folder).images == found.images  # still the sha256 it was written with
    with open(path, encoding="utf-8") as fh:
        assert json.load(fh)["schema"] == 1, "the vmgui that wrote it can still read it"
    with open(image, "r+b") as fh:
        first = fh.read(1)
        fh.seek(0)
        fh.write(bytes([first[0] ^ 0x01]))
    assert not catalog.verify(catalog.read(folder)).ok


def test_an_image_that_cannot_be_read_is_a_problem_of_the_verify_not_an_error(conn, tmp_path, monkeypatch):
    dev = _disk_devs(conn)[0]
    folder = catalog.backup_folder(str(tmp_path), "test", "eio")
    _back_up(conn, folder, devs=(dev,))
    backup = catalog.read(folder)

    def broken_disk(path, *args, **kwargs):
        raise OSError(errno.EIO, os.strerror(errno.EIO), path)
    monkeypatch.setattr(catalog, "of_file", broken_disk)
    result = catalog.verify(backup)
    assert not result.ok
    assert result.problems == (f"image {dev}.img of disk {dev} cannot be read: {os.strerror(errno.EIO)}",)


def test_a_verify_that_cannot_be_recorded_says_where(conn, tmp_path, monkeypatch):
    dev = _disk_devs(conn)[0]
    folder = catalog.backup_folder(str(tmp_path), "test", "ro")
    _back_up(conn, folder, devs=(dev,))
    backup = catalog.read(folder)
    result = catalog.verify(backup)

    def read_only_medium(path, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
    monkeypatch.setattr(catalog, "write_atomically", read_only_medium)
    with pytest.raises(catalog.DriverError) as err:
        catalog.record_verification(backup, result)
    assert err.value.code is ErrorCode.OPERATION_FAILED
    assert folder in err.value.message and os.strerror(errno.EROFS) in err.value.message


def test_a_cancelled_verify_records_nothing_and_leaves_no_file(conn, tmp_path):
    dev = _disk_devs(conn)[0]
    folder = catalog.backup_folder(str(tmp_path), "test", "x")
    _back_up(conn, folder, devs=(dev,))
    before = sorted(os.listdir(folder))
    manifest = (tmp_path / "test-x" / catalog.MANIFEST).read_bytes()
    with pytest.raises(catalog.DriverError) as err:
        catalog.verify(catalog.read(folder), cancelled=lambda: True)
    assert err.value.code is ErrorCode.OPERATION_ABORTED
    assert (tmp_path / "test-x" / catalog.MANIFEST).read_bytes() == manifest
    assert sorted(os.listdir(folder)) == before


def test_a_manifest_from_a_newer_layout_or_with_a_path_for_a_file_name_is_refused(tmp_path):
    good = {"schema": catalog.SCHEMA, "kind": "full", "parent": None,
            "domain": {"name": "a", "uuid": "u", "xml": "<domain/>"},
            "disks": [{"target": "vda", "file": "vda.qcow2", "format": "qcow2", "virtual_size": 1, "bytes": 1,
                       "blake3": "0"}]}
    assert catalog.parse(str(tmp_path), good).images[0].file == "vda.qcow2"
    unchecked = {**good, "disks": [{k: v for k, v in good["disks"][0].items() if k != "blake3"}]}
    with refused(ErrorCode.INVALID_ARG, "no checksum"):
        catalog.parse(str(tmp_path), unchecked)
    with refused(ErrorCode.INVALID_ARG, "newer vmgui"):
        catalog.parse(str(tmp_path), {**good, "schema": catalog.SCHEMA + 1})
    escaping = {**good, "disks": [{**good["disks"][0], "file": "../../etc/passwd"}]}
    with refused(ErrorCode.INVALID_ARG, "not a plain file name"):
        catalog.parse(str(tmp_path), escaping)
    incremental = catalog.parse(str(tmp_path), {**good, "kind": "incremental", "parent": "a-1"})
    assert incremental.kind == "incremental" and incremental.parent == "a-1"
    assert incremental.to_json()["parent"] == "a-1"


def test_qemu_img_check_names_a_damaged_qcow2_image(tmp_path):
    image = str(tmp_path / "disk.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", image, "16M"], check=True)
    assert catalog.qemu_img_check(image, "qcow2") is None
    assert catalog.virtual_size(image, "qcow2") == 16 << 20
    with open(image, "r+b") as fh:
        fh.seek(48)  # l1_table_offset: pointing into the header itself
        fh.write((8).to_bytes(8, "big"))
    why = catalog.qemu_img_check(image, "qcow2")
    assert why is not None and why.startswith("qemu-img check found disk.qcow2 damaged")


# -- verify and restore as jobs ---------------------------------------------------------------


def _victim_xml(name, disk_path, mac="52:54:00:aa:bb:cc"):
    return (f"<domain type='test'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os><devices>"
            f"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{disk_path}'/>"
            "<target dev='hda' bus='ide'/></disk>"
            f"<interface type='network'><mac address='{mac}'/><source network='default'/></interface>"
            "</devices></domain>")


def _big_backup(conn, tmp_path, mib):
    """A catalogued backup of a defined domain with one raw image of ``mib`` MiB of non-zero data."""
    dom = conn.define_xml(_victim_xml("big", str(tmp_path / "big.img")))
    folder = tmp_path / "backups" / "big-1"
    folder.mkdir(parents=True)
    image = folder / "hda.img"
    block = os.urandom(1 << 20)
    with open(image, "wb") as fh:
        for _ in range(mib):
            fh.write(block)
    written = [catalog.Written("hda", str(image), str(image), "raw")]
    catalog.write_manifest(str(folder), "big", dom.uuid, dom.xml_desc(), 0.0, catalog.describe(written))
    return dom, str(folder), image


def test_verify_as_a_job_records_its_outcome_and_fails_naming_the_damaged_image(conn, tmp_path):
    dev = _disk_devs(conn)[0]
    folder = catalog.backup_folder(str(tmp_path), "test", "j")
    _back_up(conn, folder, devs=(dev,))
    info = connection_job_end(conn, conn.backup_verify(folder, JobFlags.ASYNC))
    assert info.state is JobState.COMPLETED and info.operation is JobOperation.BACKUP_VERIFY, info.error
    assert catalog.read(folder).verification.ok
    with open(os.path.join(folder, f"{dev}.img"), "ab") as fh:
        fh.write(b"!")
    info = connection_job_end(conn, conn.backup_verify(folder, JobFlags.ASYNC))
    assert info.state is JobState.FAILED
    assert info.error == (f"the backup test-j is damaged: image {dev}.img of disk {dev} does not match the "
                          "backup's checksum: it changed or was damaged after the backup was taken")
    assert not catalog.read(folder).verification.ok
    with refused(ErrorCode.INVALID_ARG, "no finished backup"):
        conn.backup_verify(str(tmp_path))


def test_restore_to_a_new_vm_copies_the_images_and_defines_it_with_new_identity(conn, tmp_path):
    dom, folder, image = _big_backup(conn, tmp_path, 4)
    images = tmp_path / "images"
    info = connection_job_end(conn, conn.backup_restore(folder, "big-restored", str(images), JobFlags.ASYNC))
    assert info.state is JobState.COMPLETED and info.operation is JobOperation.BACKUP_RESTORE, info.error
    assert info.processed == info.total == 4 << 20
    restored = conn.lookup_by_name("big-restored")
    dx = DomainXML.parse(restored.xml_desc())
    assert restored.uuid != dom.uuid
    assert [i.mac for i in dx.interfaces()] != ["52:54:00:aa:bb:cc"]
    assert dx.interfaces()[0].mac.startswith("52:54:00:")
    [disk] = dx.disks()
    assert disk.source == str(images / "big-restored-hda.raw")
    assert (images / "big-restored-hda.raw").read_bytes() == image.read_bytes()
    assert sorted(os.listdir(images)) == ["big-restored-hda.raw"]
    with refused(ErrorCode.OPERATION_INVALID, "already exists"):
        conn.backup_restore(folder, "big-restored", str(images))


def test_restore_onto_a_shut_off_vm_replaces_its_disk_and_refuses_a_running_one(conn, tmp_path):
    dom, folder, image = _big_backup(conn, tmp_path, 2)
    (tmp_path / "big.img").write_bytes(b"old disk")
    info = connection_job_end(conn, conn.backup_restore_onto(folder, "big", JobFlags.ASYNC))
    assert info.state is JobState.COMPLETED, info.error
    assert (tmp_path / "big.img").read_bytes() == image.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["backups", "big.img", "node.xml"]
    dom.create()
    with refused(ErrorCode.OPERATION_INVALID, "not shut off"):
        conn.backup_restore_onto(folder, "big")
    assert dom.get_job_info(0).state is not JobState.RUNNING  # the refused restore left no job behind


@pytest.mark.parametrize("onto", [False, True], ids=["to-new-vm", "onto-vm"])
def test_a_cancelled_restore_leaves_the_old_disk_and_no_partial_file(conn, tmp_path, onto):
    _, folder, image = _big_backup(conn, tmp_path, 768)
    (tmp_path / "big.img").write_bytes(b"old disk")
    images = tmp_path / "images"
    images.mkdir()
    job_id = (conn.backup_restore_onto(folder, "big", JobFlags.ASYNC) if onto
              else conn.backup_restore(folder, "copy", str(images), JobFlags.ASYNC))
    running = [j for j in conn.list_all_jobs() if j.id == job_id]
    assert running and running[0].state is JobState.RUNNING
    conn.abort_job(job_id)
    info = connection_job_end(conn, job_id)
    assert info.state is JobState.CANCELLED, info
    assert (tmp_path / "big.img").read_bytes() == b"old disk"
    assert os.listdir(images) == []
    assert sorted(os.listdir(tmp_path)) == ["backups", "big.img", "images", "node.xml"]
    assert "copy" not in [d.name for d in conn.list_all_domains()]


def test_a_cancelled_verify_job_records_nothing(conn, tmp_path):
    _, folder, _ = _big_backup(conn, tmp_path, 768)
    manifest = (tmp_path / "backups" / "big-1" / catalog.MANIFEST).read_bytes()
    job_id = conn.backup_verify(folder, JobFlags.ASYNC)
    conn.abort_job(job_id)
    assert connection_job_end(conn, job_id).state is JobState.CANCELLED
    assert (tmp_path / "backups" / "big-1" / catalog.MANIFEST).read_bytes() == manifest
    assert sorted(os.listdir(folder)) == ["hda.img", catalog.MANIFEST]


def test_a_shut_off_domain_is_backed_up_only_when_asked_for_and_then_catalogued(conn, tmp_path):
    dom = conn.lookup_by_name("win11")
    dev = _disk_devs(conn, "win11")[0]
    folder = tmp_path / "win11-1"
    folder.mkdir()
    xml = _backup_xml((dev, str(folder / f"{dev}.img")))
    with refused(ErrorCode.OPERATION_INVALID, "not running"):
        dom.backup_begin(xml)
    info = domain_job_end(dom, dom.backup_begin(xml, BackupFlags.SHUT_OFF))
    assert info.state is JobState.COMPLETED, info.error
    [backup] = catalog.find([str(tmp_path)], dom.uuid)
    assert backup.domain_name == "win11" and [i.target for i in backup.images] == [dev]


def test_restore_onto_refuses_a_vm_whose_saved_state_or_snapshots_belong_to_its_current_disks(conn, tmp_path):
    dom, folder, _ = _big_backup(conn, tmp_path, 1)
    (tmp_path / "big.img").write_bytes(b"old disk")
    dom.snapshot_create("<domainsnapshot><name>s1</name></domainsnapshot>")
    with refused(ErrorCode.OPERATION_INVALID, "has snapshots"):
        conn.backup_restore_onto(folder, "big")
    assert (tmp_path / "big.img").read_bytes() == b"old disk"
    dom.snapshot_lookup("s1").delete()
    dom.create()
    dom.managed_save()
    with refused(ErrorCode.OPERATION_INVALID, "saved state"):
        conn.backup_restore_onto(folder, "big")
    assert (tmp_path / "big.img").read_bytes() == b"old disk"
