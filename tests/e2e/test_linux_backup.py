"""Real QEMU, real Linux: a push backup holds the disk exactly as it was when the backup began.

The guest's disk workload syncs numbered records one by one and reports each on the serial
console. A backup image must hold records 0..k whole, with no gap and no torn record, where k
lies between the last record the guest reported synced before ``backup_begin`` was called and
the first one it could report after the call returned: the point in time is fixed by the call.
"""
from __future__ import annotations

import e2e_helpers as h
import pytest
from jobwait import domain_job_end
from linuxguest.records import read_records

from drivers import JobState

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

RUNS = 3


def test_a_push_backup_holds_the_records_synced_when_it_began(env, linux_guest):
    disk = h.make_qcow2(env.base / "rec.qcow2", 16)
    conn = env.open()
    dom = conn.define_xml(env.linux_xml("bkrec", "disk", disks=[{"path": disk}]))
    dom.create()
    serial = env.guest("bkrec")
    serial.wait_for(b"VMGUI READY", timeout=90)
    last = serial.wait_disk_record(5, timeout=90)
    for run in range(RUNS):
        last = serial.wait_disk_record(last + 3)  # the guest is writing while the backup begins
        target = str(env.base / f"backup{run}.qcow2")
        before = serial.last_disk_record()
        job_id = dom.backup_begin(h.backup_xml(target))
        after = serial.last_disk_record()
        info = domain_job_end(dom, job_id, timeout=120)
        assert info.state == JobState.COMPLETED, info.error
        found = read_records(target)
        assert not found.torn, f"run {run}: torn records in the backup at {found.torn}"
        assert not found.after_gap, f"run {run}: records after a gap in the backup: {found.after_gap}"
        k = found.count - 1
        # after + 1 is the highest record the guest can have synced before its next report,
        # which came after the call returned
        assert before <= k <= after + 1, (f"run {run}: the backup holds records 0..{k}; the guest had synced "
                                          f"0..{before} before the call and reported {after} when it returned")
        last = serial.wait_disk_record(after)  # and the guest writes on
    assert not serial.kernel_trouble()
