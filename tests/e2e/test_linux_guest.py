"""Real QEMU, real Linux: the data-safety guest boots, runs its workloads and obeys the power button."""
from __future__ import annotations

import time

import e2e_helpers as h
import pytest
from linuxguest.records import read_records

from drivers import DomainState

pytestmark = [pytest.mark.qemu, pytest.mark.slow]


def test_the_linux_guest_checks_its_ram_writes_records_and_powers_off(env, linux_guest, tmp_path):
    disk = h.make_qcow2(tmp_path / "rec.qcow2", 16)
    conn = env.open()
    dom = conn.define_xml(env.linux_xml("deb", "ram", "disk", disks=[{"path": disk}]))
    dom.create()
    serial = env.guest("deb")
    serial.wait_for(b"VMGUI READY", timeout=60)
    serial.wait_ram_ok(2)
    last = serial.wait_disk_record(20)

    dom.shutdown()
    serial.wait_for(b"VMGUI POWEROFF", timeout=30)
    deadline = time.monotonic() + 30
    while dom.state()[0] != DomainState.SHUTOFF and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dom.state()[0] == DomainState.SHUTOFF, "the guest powers off on the ACPI power button"

    found = read_records(disk)
    assert not found.torn and not found.after_gap
    assert found.count >= last + 1, f"records synced before the power-off are on the disk ({found.count} <= {last})"
