"""Real QEMU on a file system that fills up: save, backup and disk creation fail cleanly.

Each fails with a typed error a person can act on, leaves no file behind on the full file
system, and leaves the guest as it was (running).
"""
from __future__ import annotations

import os

import e2e_helpers as h
import pytest
from jobwait import connection_job_end

from drivers import DomainState, ErrorCode, JobFlags, JobOperation, JobState
from drivers.qemu import PREALLOCATE

pytestmark = pytest.mark.qemu

MIB = 1024 * 1024


def _fill(where) -> None:
    """Take every free byte of ``where`` (a file the test keeps)."""
    with open(where / "filler", "wb") as fh:
        try:
            while True:
                fh.write(b"\xa5" * MIB)
        except OSError:
            pass


def _last(conn, operation: JobOperation):
    return [j for j in conn.list_all_jobs() if j.operation is operation][-1]


def test_a_save_that_runs_out_of_space_leaves_no_file_and_the_guest_running(env, small_fs):
    where = small_fs(16)
    conn = env.open()
    dom = conn.define_xml(env.xml("saver", memory_mib=64))  # the guest fills its RAM: 64 MiB to save
    dom.create()
    serial = env.serial("saver")
    beat = h.wait_heartbeat(serial, 2)
    with h.refused(ErrorCode.OPERATION_FAILED, "save"):
        dom.save(str(where / "saver.img"))
    assert os.listdir(where) == []
    assert dom.state()[0] == DomainState.RUNNING
    h.wait_heartbeat(serial, beat + 2)  # it runs on
    assert _last(conn, JobOperation.SAVE).state is JobState.FAILED
    dom.save(str(env.base / "saver.img"))  # and saves where there is room
    assert dom.state()[0] == DomainState.SHUTOFF


def test_a_backup_that_runs_out_of_space_leaves_no_target(env, small_fs):
    where = small_fs(16)
    conn = env.open()
    disk = h.make_qcow2(env.base / "data.qcow2", size_mib=64, fill_mib=48)
    dom = conn.define_xml(env.xml("bk", disks=[{"path": disk}]))
    dom.create()
    target = where / "backup.qcow2"
    job_id = dom.backup_begin(h.backup_xml(str(target)))  # the empty target fits; its copy does not
    info = connection_job_end(conn, job_id, timeout=120)
    assert info.state is JobState.FAILED and "disk vda: No space left" in (info.error or ""), info
    assert os.listdir(where) == []
    assert dom.state()[0] == DomainState.RUNNING
    h.wait_heartbeat(env.serial("bk"), h.heartbeat(env.serial("bk")))
    again = env.base / "backup.qcow2"  # QEMU kept no node of the failed target: a new backup works
    assert connection_job_end(conn, dom.backup_begin(h.backup_xml(str(again))), timeout=120).state \
        is JobState.COMPLETED


def test_a_disk_creation_that_runs_out_of_space_leaves_no_file(env, small_fs):
    conn = env.open()
    where = small_fs(16)
    job_id = conn.create_disk(str(where / "big.raw"), 64 * MIB, "raw", PREALLOCATE | JobFlags.ASYNC)
    info = connection_job_end(conn, job_id, timeout=60)
    assert info.state is JobState.FAILED and "No space left" in (info.error or ""), info
    assert os.listdir(where) == []

    full = small_fs(1)
    _fill(full)
    with h.refused(ErrorCode.OPERATION_FAILED, "No space left"):
        conn.create_disk(str(full / "new.qcow2"), 64 * MIB)
    assert os.listdir(full) == ["filler"]


def test_a_backup_whose_image_cannot_be_made_leaves_nothing_open_or_on_disk(env, small_fs):
    conn = env.open()
    disk = h.make_qcow2(env.base / "data.qcow2", size_mib=16, fill_mib=4)
    dom = conn.define_xml(env.xml("mk", disks=[{"path": disk}]))
    dom.create()
    full = small_fs(1)
    _fill(full)  # QEMU cannot even write the new image's header
    with h.refused(ErrorCode.OPERATION_FAILED, "No space left"):
        dom.backup_begin(h.backup_xml(str(full / "backup.qcow2")))
    assert os.listdir(full) == ["filler"]
    held = [os.readlink(f"/proc/{dom.qemu_pid()}/fd/{fd}") for fd in os.listdir(f"/proc/{dom.qemu_pid()}/fd")]
    assert not [f for f in held if f.startswith(str(full))], "QEMU let go of the image it could not make"
    assert dom.state()[0] == DomainState.RUNNING
    again = env.base / "backup.qcow2"
    assert connection_job_end(conn, dom.backup_begin(h.backup_xml(str(again))), timeout=120).state \
        is JobState.COMPLETED
