"""Real QEMU, real Linux: migration never hands over a damaged guest, and its figures are QEMU's.

The guest copies and md5-checks 24 MiB in RAM without pause, so memory QEMU failed
to copy shows up as a failed check or as kernel trouble (list_del corruption, Oops).
On QEMU before 9.0 under TCG a live copy loses guest writes; the driver then says so
(``live_migration_problem``) and copies the guest paused. The hop test runs whichever
QEMU ``VMGUI_QEMU`` names, so on a newer QEMU the same hops are live.
"""
from __future__ import annotations

import time

import pytest
from qemuversion import binary_version, live_copy_sentence

from drivers import DomainState, JobFlags, JobOperation, JobState, MigrateFlags
from drivers.qemu.cmdline import qemu_binary

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

HOPS = 20


def _ram_guest(env, name: str):
    """Two roots and the RAM-workload guest running on the first, its checks passing."""
    a, b = env.open("a"), env.open("b")
    dom = a.define_xml(env.linux_xml(name, "ram"))
    dom.create()
    serial = env.guest(name)
    serial.wait_for(b"VMGUI READY", timeout=120)
    serial.wait_ram_ok(1, timeout=120)
    return a, b, dom, serial


def test_twenty_hops_keep_the_ram_guest_whole(env, linux_guest):
    a, b, dom, serial = _ram_guest(env, "hopper")
    problem = dom.live_migration_problem()
    here, there = a, b
    started = time.monotonic()
    for hop in range(HOPS):
        moved = dom.migrate(there, MigrateFlags.LIVE)
        job = dom.get_job_info()
        assert job.operation == JobOperation.MIGRATION_OUT and job.state == JobState.COMPLETED, f"hop {hop}"
        assert job.detail("paused_copy") == (1.0 if problem else None), \
            f"hop {hop}: a live copy only where the driver finds it safe ({problem})"
        assert moved.state()[0] == DomainState.RUNNING, f"hop {hop}"
        serial.wait_ram_ok(1, timeout=120)  # fails on any failed check or kernel trouble
        dom, here, there = moved, there, here
    took = time.monotonic() - started
    ok, bad = serial.ram_checks()
    assert bad == 0 and not serial.kernel_trouble() and serial.boots() == 1
    print(f"\n{HOPS} hops ({'paused copies: ' + problem if problem else 'live'}) in {took:.1f} s; "
          f"{ok} RAM checks passed, none failed")


def test_the_driver_names_the_qemu_that_loses_live_writes(env):
    conn = env.open()
    dom = conn.create_xml(env.xml("asked"))
    assert dom.live_migration_problem() == live_copy_sentence(binary_version(qemu_binary()))  # TCG: type 'qemu'


def test_the_dirty_rate_is_qemus_once_a_pass_has_ended(env, linux_guest):
    a, b, dom, serial = _ram_guest(env, "dirty")
    # UNSAFE: a live copy even where it would lose writes; it is cancelled before any switch-over,
    # so the guest never leaves the source
    job_id = dom.migrate(b, MigrateFlags.LIVE | MigrateFlags.UNSAFE | JobFlags.ASYNC, {"bandwidth": 24})
    seen_before_a_pass = []
    deadline = time.monotonic() + 120
    info = dom.get_job_info(job_id)
    while time.monotonic() < deadline:
        info = dom.get_job_info(job_id)
        assert not info.finished, info.error
        if (info.detail("iteration") or 0) < 2:
            seen_before_a_pass.append(info.detail("dirty_rate"))
        elif info.detail("dirty_rate"):
            break
        time.sleep(0.05)
    rate = info.detail("dirty_rate")
    assert rate and rate > 0, f"no dirty rate after pass {info.detail('iteration')}: {info.details}"
    assert seen_before_a_pass and set(seen_before_a_pass) == {None}, "unknown until QEMU measured a period"
    assert info.detail("paused_copy") is None
    dom.abort_job(job_id)
    deadline = time.monotonic() + 30
    while not dom.get_job_info(job_id).finished and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dom.get_job_info(job_id).state == JobState.CANCELLED
    assert dom.state()[0] == DomainState.RUNNING
    serial.wait_ram_ok(1, timeout=120)
    print(f"\ndirty rate after pass {info.detail('iteration'):.0f}: {rate / 2**20:.1f} MiB/s")
