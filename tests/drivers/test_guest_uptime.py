"""A guest's uptime in DomainRecord: running time since it booted, frozen while paused, 0 again at a reboot."""
from __future__ import annotations

import time

import pytest

import drivers
from drivers import DomainState


def record(conn, name: str) -> drivers.DomainRecord:
    return next(r for r in conn.get_all_domain_stats() if r.name == name)


def test_the_test_driver_freezes_the_uptime_while_paused_and_restarts_it_at_a_reboot(conn):
    dom = conn.lookup_by_name("test")
    time.sleep(0.2)
    dom.suspend()
    paused = record(conn, "test")
    assert paused.paused_since is not None
    frozen = paused.uptime_s()
    assert frozen is not None and frozen >= 0.2
    assert paused.uptime_s(time.time() + 3600) == frozen, "no time passes for a paused guest"
    time.sleep(0.2)
    dom.resume()
    running = record(conn, "test")
    assert running.paused_since is None and running.paused_s >= 0.2
    assert running.uptime_s(time.time() + 10) == pytest.approx(frozen + 10, abs=0.1)
    dom.reset()
    rebooted = record(conn, "test")
    assert rebooted.uptime_s() < 0.1 and rebooted.paused_s == 0.0
    dom.destroy()
    assert record(conn, "test").uptime_s() is None
    dom.create()
    assert record(conn, "test").uptime_s() < 0.1


def test_a_guest_started_paused_has_run_for_no_time(conn):
    dom = conn.lookup_by_name("test")
    dom.destroy()
    dom.create(drivers.CreateFlags.START_PAUSED)
    assert dom.state()[0] == DomainState.PAUSED
    rec = record(conn, "test")
    assert rec.paused_since is not None and rec.uptime_s(time.time() + 60) < 0.1
