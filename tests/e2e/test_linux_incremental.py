"""Real QEMU, real Linux: incremental backups on persistent dirty bitmaps, chained in the catalog.

The guest syncs numbered records one by one and reports each on the serial console. Every
backup of the chain, read through its backing files, must hold records 0..k whole, with no gap
and no torn record, where k lies between the last record the guest reported before
``backup_begin`` and the first it could report after the call returned.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import e2e_helpers as h
import pytest
from backupxml import backup_xml, checkpoint_xml
from jobwait import connection_job_end, domain_job_end
from linuxguest.records import read_records

from drivers import BackupFlags, DomainState, ErrorCode, JobFlags, JobState
from drivers import backupcatalog as catalog
from drivers.qemu import backup as qemu_backup

pytestmark = [pytest.mark.qemu, pytest.mark.slow]


def _back_up(dom, serial, backups, run: str, since: str | None, checkpoint: str):
    """One backup into ``backups/<run>`` while the guest writes; checks its records' point in time."""
    folder = backups / run
    folder.mkdir(parents=True)
    serial.wait_disk_record(serial.last_disk_record() + 3)  # the guest is writing while the backup begins
    before = serial.last_disk_record()
    job_id = dom.backup_begin(backup_xml({"vda": str(folder / "vda.qcow2")}, since), 0, checkpoint_xml(checkpoint))
    after = serial.last_disk_record()
    info = domain_job_end(dom, job_id, timeout=180)
    assert info.state == JobState.COMPLETED, info.error
    backup = catalog.read(str(folder))
    found = read_records(backup.path(backup.images[0]))
    assert not found.torn, f"{run}: torn records at {found.torn}"
    assert not found.after_gap, f"{run}: records after a gap: {found.after_gap}"
    assert before <= found.count - 1 <= after + 1, (f"{run}: holds 0..{found.count - 1}; the guest had synced "
                                                    f"0..{before} before the call and {after} when it returned")
    return backup, info, found


def _boot_guest(env, name: str, disk: str):
    conn = env.open()
    dom = conn.define_xml(env.linux_xml(name, "disk", disks=[{"path": disk}]))
    dom.create()
    serial = env.guest(name)
    serial.wait_for(b"VMGUI READY", timeout=90)
    serial.wait_disk_record(5, timeout=90)
    return conn, dom, serial


def test_a_full_and_two_incrementals_each_restore_to_the_disk_at_their_start(env, linux_guest):
    disk = h.make_qcow2(env.base / "rec.qcow2", 64)
    conn, dom, serial = _boot_guest(env, "inc", disk)
    backups = env.base / "backups"

    full, info, full_found = _back_up(dom, serial, backups, "inc-1", None, "c1")
    assert info.note is None and info.total == 64 << 20
    assert (full.kind, full.parent, full.checkpoint, full.images[0].backing) == ("full", None, "c1", None)
    first, info, first_found = _back_up(dom, serial, backups, "inc-2", "c1", "c2")
    assert info.note is None, info.note
    assert info.processed == info.total < 8 << 20, "the job counts the changed clusters, not the disk"
    assert (first.kind, first.parent, first.checkpoint) == ("incremental", "inc-1", "c2")
    assert first.images[0].backing == "../inc-1/vda.qcow2"
    second, info, second_found = _back_up(dom, serial, backups, "inc-3", "c2", "c3")
    assert (second.kind, second.parent, second.images[0].backing) == ("incremental", "inc-2", "../inc-2/vda.qcow2")
    assert full_found.count < first_found.count < second_found.count

    # the chain is in the images themselves: qemu-img follows the relative backing files
    chain = json.loads(subprocess.run(["qemu-img", "info", "--backing-chain", "--output=json",
                                       second.path(second.images[0])], capture_output=True, check=True).stdout)
    assert [os.path.basename(os.path.dirname(c["filename"])) for c in chain] == ["inc-3", "inc-2", "inc-1"]
    assert chain[0]["backing-filename"] == "../inc-2/vda.qcow2"
    # an incremental holds the changed clusters only: far less than the full copy
    assert second.images[0].bytes < full.images[0].bytes / 2, (second.images[0].bytes, full.images[0].bytes)

    assert [c.name for c in dom.list_all_checkpoints()] == ["c1", "c2", "c3"]
    assert dom.checkpoint_lookup_by_name("c2").parent_name() == "c1"
    assert "<name>c3</name>" in dom.checkpoint_lookup_by_name("c3").xml_desc()

    result = catalog.verify(second)  # every image of the chain: checksum and qemu-img check
    assert result.ok, result.problems

    # deleting c2 merges its bitmap into c1's: a backup since c1 still holds every change since inc-1
    dom.checkpoint_lookup_by_name("c2").delete()
    assert [(c.name, c.parent_name()) for c in dom.list_all_checkpoints()] == [("c1", None), ("c3", "c1")]
    since_c1, info, _ = _back_up(dom, serial, backups, "inc-4", "c1", "c4")
    assert (since_c1.kind, since_c1.parent, info.note) == ("incremental", "inc-1", None)

    for backup, found in ((full, full_found), (first, first_found), (second, second_found)):
        name = f"r-{backup.id}"
        job_id = conn.backup_restore(backup.folder, name, str(env.base / "restored"), int(JobFlags.ASYNC))
        assert connection_job_end(conn, job_id, timeout=180).state == JobState.COMPLETED
        path = str(env.base / "restored" / f"{name}-vda.qcow2")
        image = json.loads(subprocess.run(["qemu-img", "info", "--output=json", path], capture_output=True,
                                          check=True).stdout)
        assert "backing-filename" not in image, "a restored image stands alone"
        got = read_records(path)
        assert (got.count, got.boot_id, got.torn, got.after_gap) == (found.count, found.boot_id, [], []), backup.id
    dom.destroy()
    dom.undefine()  # its checkpoint metadata goes with its folder
    assert not (env.root() / "domains" / dom.uuid).exists()

    copy = conn.lookup_by_name(f"r-{second.id}")
    # its own serial log, so the two guests can be told apart
    conn.define_xml(copy.xml_desc().replace(str(env.serial("inc")), str(env.serial("inc-copy"))))
    copy.create()
    env.guest("inc-copy").wait_for(b"VMGUI READY", timeout=120)
    assert not env.guest("inc-copy").kernel_trouble()
    assert not serial.kernel_trouble()


def _bitmaps(path: str) -> list[dict]:
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", path], capture_output=True,
                                     check=True).stdout)
    return (info.get("format-specific") or {}).get("data", {}).get("bitmaps") or []


def _wait_shut_off(dom, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while dom.state()[0] != DomainState.SHUTOFF and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dom.state()[0] == DomainState.SHUTOFF


def _start_again(env, dom, serial, disk: str) -> None:
    """Boot the shut-off guest again and wait until it wrote past every record of its previous boots.

    From then on its disk holds records of this boot only, so a backup's records tell its point in time.
    """
    old = read_records(disk).count
    env.serial(dom.name).unlink()  # the log of this boot alone
    dom.create()
    serial.wait_for(b"VMGUI READY", timeout=120)
    serial.wait_disk_record(old + 1, timeout=180)


def test_bitmaps_survive_destroy_an_offline_snapshot_start_and_a_new_connection(env, linux_guest):
    disk = h.make_qcow2(env.base / "keep.qcow2", 64)
    conn, dom, serial = _boot_guest(env, "keep", disk)
    backups = env.base / "backups"
    full, _, _ = _back_up(dom, serial, backups, "keep-1", None, "k1")
    dom.destroy()
    # QEMU stored the bitmap in the qcow2 when it closed the image: clean, not in use
    [bitmap] = _bitmaps(disk)
    assert bitmap["name"] == "k1" and "in-use" not in bitmap["flags"], bitmap
    dom.snapshot_create("while-off")  # qemu-img on the shut-off disk keeps the bitmap: no reason for a full
    _start_again(env, dom, serial, disk)
    conn.close()

    conn = env.open()  # a new connection, the VM running on
    dom = conn.lookup_by_name("keep")
    assert [c.name for c in dom.list_all_checkpoints()] == ["k1"]
    inc, info, found = _back_up(dom, serial, backups, "keep-2", "k1", "k2")
    assert info.note is None, info.note
    assert (inc.kind, inc.parent, inc.full_reason) == ("incremental", "keep-1", None)
    assert found.boot_id != read_records(full.path(full.images[0])).boot_id  # written after the restart
    assert catalog.verify(inc).ok
    assert not serial.kernel_trouble()


def test_a_snapshot_revert_makes_the_next_backup_full_and_says_why(env, linux_guest):
    disk = h.make_qcow2(env.base / "rev.qcow2", 64)
    conn, dom, serial = _boot_guest(env, "rev", disk)
    dom.destroy()
    dom.snapshot_create("clean")  # offline, qemu-img
    _start_again(env, dom, serial, disk)
    backups = env.base / "backups"
    _back_up(dom, serial, backups, "rev-1", None, "r1")
    dom.destroy()
    dom.snapshot_lookup("clean").revert()  # QEMU refuses a revert under active bitmaps: they are removed first
    assert _bitmaps(disk) == []
    _start_again(env, dom, serial, disk)
    again, info, _ = _back_up(dom, serial, backups, "rev-2", "r1", "r2")
    assert info.note == "full: the VM was reverted to snapshot 'clean'"
    assert (again.kind, again.parent, again.full_reason) == ("full", None, "the VM was reverted to snapshot 'clean'")
    assert again.images[0].backing is None
    # the untrustworthy checkpoint is gone; the new one starts a new chain
    assert [(c.name, c.parent_name()) for c in dom.list_all_checkpoints()] == [("r2", None)]
    after, info, _ = _back_up(dom, serial, backups, "rev-3", "r2", "r3")
    assert info.note is None and (after.kind, after.parent) == ("incremental", "rev-2")


def test_a_disk_written_by_another_tool_while_shut_off_makes_the_next_backup_full(env, linux_guest):
    disk = h.make_qcow2(env.base / "edit.qcow2", 64)
    conn, dom, serial = _boot_guest(env, "edit", disk)
    backups = env.base / "backups"
    _back_up(dom, serial, backups, "edit-1", None, "e1")
    dom.shutdown()
    _wait_shut_off(dom)
    with open(disk, "r+b") as fh:  # a tool that knows nothing of bitmaps writes into the image
        fh.seek(0, os.SEEK_END)
        fh.write(b"\0" * 65536)
    _start_again(env, dom, serial, disk)
    again, info, _ = _back_up(dom, serial, backups, "edit-2", "e1", "e2")
    assert info.note is not None and info.note.startswith("full: disk vda ("), info.note
    assert "changed or replaced while the VM was shut off" in info.note
    assert again.kind == "full" and again.full_reason == info.note[len("full: "):]


def test_a_crash_of_qemu_makes_the_next_backup_full_and_says_why(env, linux_guest):
    disk = h.make_qcow2(env.base / "crash.qcow2", 64)
    conn, dom, serial = _boot_guest(env, "crash", disk)
    backups = env.base / "backups"
    _back_up(dom, serial, backups, "crash-1", None, "x1")
    os.kill(dom.qemu_pid(), signal.SIGKILL)
    _wait_shut_off(dom)
    # QEMU stores a new bitmap when it closes the image, and marks a loaded one in use: nothing clean is left
    assert all("in-use" in b["flags"] for b in _bitmaps(disk)), _bitmaps(disk)
    _start_again(env, dom, serial, disk)
    again, info, _ = _back_up(dom, serial, backups, "crash-2", "x1", "x2")
    assert info.note is not None and "QEMU ended unexpectedly" in info.note, info.note
    assert (again.kind, again.parent) == ("full", None)
    assert [c.name for c in dom.list_all_checkpoints()] == ["x2"]


def test_a_shut_off_vm_is_backed_up_whole_and_says_so(env, tmp_path):
    disk = h.make_qcow2(env.base / "off.qcow2", 16, fill_mib=2)
    conn = env.open()
    dom = conn.define_xml(env.xml("offinc", disks=[{"path": disk}]))
    dom.create()
    dom.checkpoint_create(checkpoint_xml("k1"))
    dom.destroy()
    with h.refused(ErrorCode.OPERATION_INVALID, "not running; start it to delete a checkpoint"):
        dom.checkpoint_lookup_by_name("k1").delete()
    folder = env.base / "backups" / "offinc-1"
    folder.mkdir(parents=True)
    target = {"vda": str(folder / "vda.qcow2")}
    with h.refused(ErrorCode.NO_DOMAIN_CHECKPOINT, "no checkpoint 'k0'"):
        dom.backup_begin(backup_xml(target, "k0"), BackupFlags.SHUT_OFF)
    with h.refused(ErrorCode.OPERATION_INVALID, "a checkpoint is created with a backup of the running VM"):
        dom.backup_begin(backup_xml(target), BackupFlags.SHUT_OFF, checkpoint_xml("k2"))
    info = domain_job_end(dom, dom.backup_begin(backup_xml(target, "k1"), BackupFlags.SHUT_OFF), timeout=120)
    assert info.state == JobState.COMPLETED, info.error
    assert info.note == "full: the VM is shut off, and its disks are copied whole"
    backup = catalog.read(str(folder))
    assert (backup.kind, backup.full_reason, backup.images[0].backing) == (
        "full", "the VM is shut off, and its disks are copied whole", None)


def test_the_parent_of_an_incremental_being_written_is_not_removed_until_it_ends(env, linux_guest, monkeypatch):
    disk = h.make_qcow2(env.base / "hold.qcow2", 64)
    conn, dom, serial = _boot_guest(env, "hold", disk)
    backups = env.base / "backups"
    full, _, _ = _back_up(dom, serial, backups, "hold-1", None, "h1")
    serial.wait_disk_record(serial.last_disk_record() + 3)
    throttle = qemu_backup._with_perf

    def slowly(action):  # a copy that runs long enough to try a prune meanwhile
        action["data"]["speed"] = 64 << 10
        return throttle(action)
    monkeypatch.setattr(qemu_backup, "_with_perf", slowly)
    folder = backups / "hold-2"
    folder.mkdir()
    job_id = dom.backup_begin(backup_xml({"vda": str(folder / "vda.qcow2")}, "h1"), 0, checkpoint_xml("h2"))
    # removing the full backup now would leave the incremental's image backed by a file that is gone
    with h.refused(ErrorCode.OPERATION_INVALID, "in use by a backup of 'hold'"):
        conn.backup_prune([full.folder])
    assert os.path.exists(full.path(full.images[0]))
    dom.job_set_speed(0, job_id)
    assert domain_job_end(dom, job_id, timeout=180).state is JobState.COMPLETED
    info = connection_job_end(conn, conn.backup_prune([full.folder], JobFlags.ASYNC), timeout=180)
    assert info.state is JobState.COMPLETED, info.error
    [merged] = catalog.find([str(backups)], dom.uuid)
    assert (merged.id, merged.kind, merged.parent) == ("hold-2", "full", None)
    assert catalog.verify(merged).ok
