"""Real QEMU, real Linux: the process driving a job is SIGKILLed; the next one finishes or rolls it back.

Each kill point leaves, once the root is opened again: no guest paused without a job, no
``.part`` file, a file under its final name only if its job completed, the disk leases held
(a VM of another root using the same disk is refused), and the outcome in the job list.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import e2e_helpers as h
import pytest
from linuxguest.records import read_records

from drivers import DomainState, ErrorCode, JobOperation, JobState, backupcatalog
from drivers.flags import ShutoffReason

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def _open_files(pid: int) -> list[str]:
    """What the process has open, as /proc names it (a removed file ends in " (deleted)")."""
    fds = f"/proc/{pid}/fd"
    out = []
    for fd in os.listdir(fds):
        try:
            out.append(os.readlink(os.path.join(fds, fd)))
        except OSError:
            pass  # closed meanwhile
    return out


def _interrupt(env, **spec) -> None:
    """Run interrupted_child.py with ``spec`` until it stops where asked, then SIGKILL it."""
    spec.setdefault("uri", env.uri())
    proc = subprocess.Popen([sys.executable, str(HERE / "interrupted_child.py"), json.dumps(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        line = proc.stdout.readline().strip()
    finally:
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
    assert line == "stopped", f"the job never reached {spec['stop']}: {line} {err[-2000:]}"


def _boot(env, linux, name: str, work: str, disk: str, root: str = "root") -> None:
    """Start the Linux guest on ``root`` and let it run on with no process attached.

    ``no_timer_check``: on a loaded machine TCG can be too slow for the kernel's early IO-APIC timer
    check, which then panics the boot ("IO-APIC + timer doesn't work!").
    """
    conn = env.open(root)
    cmdline = linux.cmdline(work, ram_mib=24, extra="no_timer_check")
    conn.define_xml(env.xml(name, memory_mib=256, disks=[{"path": disk}], kernel=linux.kernel,
                            initrd=linux.initrd, cmdline=cmdline)).create()
    guest = env.guest(name)
    guest.wait_for(b"VMGUI READY", timeout=120)
    if work == "ram":
        guest.wait_ram_ok(1, timeout=120)
    else:
        guest.wait_disk_record(5)
    conn.close()


def _leases_held(env, disk: str, holder: str) -> None:
    """A VM of another root is refused ``disk`` by the lease check: VM ``holder`` still holds its lease.

    (QEMU's own image locks would refuse it too, but only on this machine and only while the image is active.)
    """
    other = env.open("other")
    try:
        with h.refused(ErrorCode.RESOURCE_BUSY, f"{disk} is in use by VM '{holder}'"):
            other.define_xml(env.xml("intruder", disks=[{"path": disk}])).create()
    finally:
        other.close()


def _outcome(conn, operation: JobOperation, state: JobState, words: str = ""):
    """The finished job that reports how an interrupted job ended; no job is left running."""
    jobs = conn.list_all_jobs()
    assert not [j for j in jobs if j.state is JobState.RUNNING], jobs
    found = [j for j in jobs if j.operation is operation and j.state is state and words in (j.error or "")]
    assert found, f"no {operation.name} job {state.name} naming {words!r}: {jobs}"
    return found[-1]


def _no_part_files(*folders: Path) -> None:
    left = [p for folder in folders for p in folder.rglob("*.part")]
    assert not left, f"unfinished files left behind: {left}"


def _open_by_a_process(path: Path) -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                    return True
            except OSError:
                continue
    return False


def _wait_until(cond, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.1)


def test_an_interrupted_save_is_rolled_back_midway_and_finished_once_qemu_completed(env, linux_guest):
    disk = h.make_qcow2(env.base / "sv.qcow2")
    _boot(env, linux_guest, "sv", "ram", disk)
    image = env.base / "sv.img"

    # midway: QEMU still streams, so the save is cancelled and the guest runs on
    _interrupt(env, job="save", name="sv", target=str(image), stop="progress", fraction=0.4, speed=16 << 20)
    conn = env.open()
    dom = conn.lookup_by_name("sv")
    assert dom.state()[0] == DomainState.RUNNING
    assert not image.exists()
    _no_part_files(env.base)
    _outcome(conn, JobOperation.SAVE, JobState.FAILED, "the guest runs again")
    env.guest("sv").wait_ram_ok(1)
    _leases_held(env, disk, "sv")
    conn.close()

    # near the end: QEMU completed the stream, the image was not renamed yet: the save is finished
    _interrupt(env, job="save", name="sv", target=str(image), stop="before_publish")
    conn = env.open()
    dom = conn.lookup_by_name("sv")
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SAVED)
    _no_part_files(env.base)
    _outcome(conn, JobOperation.SAVE, JobState.COMPLETED)
    ram_ok = env.guest("sv").ram_checks()[0]
    conn.restore(str(image))
    assert dom.state()[0] == DomainState.RUNNING
    assert env.guest("sv").boots() == 1, "the guest went on from its saved memory, it did not boot again"
    env.guest("sv").wait_ram_ok(2)
    assert env.guest("sv").ram_checks()[0] > ram_ok
    _leases_held(env, disk, "sv")


def test_an_interrupted_managed_save_is_rolled_back_early_and_finished_when_qemu_completed_alone(env, linux_guest):
    disk = h.make_qcow2(env.base / "ms.qcow2")
    _boot(env, linux_guest, "ms", "ram", disk)
    domains = env.root() / "domains"

    # early: the guest is paused and the image header written, no stream yet: rolled back
    _interrupt(env, job="managed_save", name="ms", stop="before_stream")
    conn = env.open()
    dom = conn.lookup_by_name("ms")
    assert dom.state()[0] == DomainState.RUNNING and not dom.has_managed_save()
    _no_part_files(domains)
    _outcome(conn, JobOperation.SAVE, JobState.FAILED, "the unfinished image was removed")
    env.guest("ms").wait_ram_ok(1)
    _leases_held(env, disk, "ms")
    conn.close()

    # midway, then QEMU completes the stream while no process watches: finished on the next open
    _interrupt(env, job="managed_save", name="ms", stop="progress", fraction=0.4, speed=32 << 20)
    parts = list(domains.rglob(".managed.save.*.part"))
    assert len(parts) == 1
    _wait_until(lambda: not _open_by_a_process(parts[0]), "QEMU did not finish writing the image")
    conn = env.open()
    dom = conn.lookup_by_name("ms")
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SAVED) and dom.has_managed_save()
    _no_part_files(domains)
    _outcome(conn, JobOperation.SAVE, JobState.COMPLETED)
    dom.create()  # restores the managed save
    assert dom.state()[0] == DomainState.RUNNING and not dom.has_managed_save()
    assert env.guest("ms").boots() == 1
    env.guest("ms").wait_ram_ok(2)
    _leases_held(env, disk, "ms")


def test_an_interrupted_migration_leaves_the_guest_running_with_its_leases_on_one_side(env, linux_guest):
    disk = h.make_qcow2(env.base / "mg.qcow2")
    _boot(env, linux_guest, "mg", "ram", disk, root="a")
    guest = env.guest("mg")
    move = {"job": "migrate", "name": "mg", "uri": env.uri("a"), "dest_uri": env.uri("b")}

    # midway: the stream is cancelled, the guest runs on at the source; the destination's copy is dropped
    _interrupt(env, **move, stop="progress", fraction=0.4, speed=8 << 20)
    src = env.open("a")
    dom = src.lookup_by_name("mg")
    assert dom.state()[0] == DomainState.RUNNING
    _outcome(src, JobOperation.MIGRATION_OUT, JobState.FAILED, "the guest runs again here")
    dst = env.open("b")
    assert not [d for d in dst.list_all_domains() if d.is_active()], "the half-migrated copy was stopped"
    _outcome(dst, JobOperation.MIGRATION_IN, JobState.FAILED, "interrupted before the guest was handed over")
    guest.wait_ram_ok(1)
    _leases_held(env, disk, "mg")
    src.close()
    dst.close()

    # after the switch-over, before the destination took the leases: the source takes them back and runs on
    _interrupt(env, **move, stop="before_finish")
    dst = env.open("b")  # the destination first, this time: its paused copy without leases is dropped
    assert not [d for d in dst.list_all_domains() if d.is_active()]
    _outcome(dst, JobOperation.MIGRATION_IN, JobState.FAILED, "interrupted before the guest was handed over")
    src = env.open("a")
    dom = src.lookup_by_name("mg")
    assert dom.state()[0] == DomainState.RUNNING
    _outcome(src, JobOperation.MIGRATION_OUT, JobState.FAILED, "the guest runs again here")
    guest.wait_ram_ok(1)
    _leases_held(env, disk, "mg")
    src.close()
    dst.close()

    # the destination runs the guest with its leases, the source was not stopped yet: it stops as migrated.
    # The guest is paused while it streams: QEMU 7.2 under TCG sometimes damages the memory of a guest
    # running this workload on arrival of a *live* migration, with or without this driver.
    _interrupt(env, **move, stop="before_confirm", live=False)
    src = env.open("a")
    assert src.lookup_by_name("mg").state() == (DomainState.SHUTOFF, ShutoffReason.MIGRATED)
    _outcome(src, JobOperation.MIGRATION_OUT, JobState.COMPLETED)
    dst = env.open("b")
    assert dst.lookup_by_name("mg").state()[0] == DomainState.RUNNING
    assert guest.boots() == 1
    guest.wait_ram_ok(2)
    _leases_held(env, disk, "mg")


def test_an_interrupted_backup_is_taken_over_or_removed_never_left_under_its_name(env, linux_guest):
    disk = h.make_qcow2(env.base / "bk.qcow2", size_mib=64)
    _boot(env, linux_guest, "bk", "disk", disk)
    guest = env.guest("bk")

    def back_up(target: Path, **stop) -> int:
        synced = guest.last_disk_record()
        _interrupt(env, job="backup", name="bk", backup_xml=h.backup_xml(target), **stop)
        assert not target.exists() and h.part_files(target), "the copy is written under a temporary name"
        return synced

    def records_whole(target: Path, synced: int) -> None:
        found = read_records(target)
        assert not found.torn and not found.after_gap
        assert found.count > synced, f"records synced before the backup began are in it ({found.count} <= {synced})"

    # midway: the next process takes the copy over and completes it
    first = env.base / "first.qcow2"
    synced = back_up(first, stop="progress", fraction=0.3, speed=4 << 20)
    conn = env.open()
    dom = conn.lookup_by_name("bk")
    info = dom.get_job_info()
    assert info.operation == JobOperation.BACKUP and info.state == JobState.RUNNING
    assert not first.exists()
    dom.job_set_speed(0, info.id)
    _wait_until(lambda: dom.get_job_info(info.id).state is not JobState.RUNNING, "the backup did not end")
    assert dom.get_job_info(info.id).state is JobState.COMPLETED, dom.get_job_info(info.id).error
    _no_part_files(env.base)
    records_whole(first, synced)
    _leases_held(env, disk, "bk")
    conn.close()

    # near the end: QEMU finished copying, the target was not renamed yet: the next process completes it,
    # in a folder of its own as a catalog entry, hashed, that lists and verifies like any other
    catalogued = env.base / "catalogued"
    catalogued.mkdir()
    second = catalogued / "vda.qcow2"
    synced = back_up(second, stop="before_publish")
    conn = env.open()
    dom = conn.lookup_by_name("bk")
    _wait_until(lambda: dom.get_job_info().state is not JobState.RUNNING, "the backup did not end")
    assert dom.get_job_info().state is JobState.COMPLETED, dom.get_job_info().error
    _no_part_files(env.base)
    records_whole(second, synced)
    [entry] = backupcatalog.find([str(env.base)], dom.uuid)
    assert entry.folder == str(catalogued) and [i.file for i in entry.images] == ["vda.qcow2"]
    assert backupcatalog.verify(entry).ok, "its checksum is that of the finished image"
    _leases_held(env, disk, "bk")
    pid = dom.qemu_pid()
    conn.close()

    # early: the copies are created and attached, QEMU has not begun: they are removed, the guest writes on
    def removed_by_the_next_process(target: Path, stop: str):
        back_up(target, stop=stop)
        conn = env.open()
        assert conn.lookup_by_name("bk").state()[0] == DomainState.RUNNING
        assert not target.exists()
        _no_part_files(env.base)
        return conn

    conn = removed_by_the_next_process(env.base / "early.qcow2", "before_transaction")
    _outcome(conn, JobOperation.BACKUP, JobState.FAILED, "before QEMU could go on with it")
    _leases_held(env, disk, "bk")
    written = guest.last_disk_record()
    guest.wait_disk_record(written)
    conn.close()

    # while QEMU makes the image: the next process has QEMU let go of the file and removes it
    conn = removed_by_the_next_process(env.base / "making.qcow2", "while_creating")
    assert not [f for f in _open_files(pid) if ".part" in f], "QEMU holds no removed copy (its space is freed)"
    _leases_held(env, disk, "bk")
    conn.close()

    # midway, then the VM stops while no process watches: the copy cannot be proven complete, it is removed
    third = env.base / "third.qcow2"
    back_up(third, stop="progress", fraction=0.3, speed=4 << 20)
    os.kill(pid, signal.SIGKILL)
    _wait_until(lambda: not h.processes_under(str(env.base)), "the VM's supervisor did not end")
    conn = env.open()
    assert conn.lookup_by_name("bk").state()[0] == DomainState.SHUTOFF
    assert not third.exists()
    _no_part_files(env.base)
    _outcome(conn, JobOperation.BACKUP, JobState.FAILED, "the unfinished copies were removed")
