"""Real QEMU: a guest's uptime is its running time since it booted, frozen while paused, 0 again at a reset."""
from __future__ import annotations

import time

import e2e_helpers as h
import pytest

pytestmark = [pytest.mark.qemu, pytest.mark.slow]


def test_the_uptime_is_frozen_while_paused_kept_across_a_reattach_and_restarts_at_a_reset(env):
    conn = env.open()
    dom = conn.define_xml(env.xml("up"))
    dom.create()
    h.wait_heartbeat(env.serial("up"), 2)
    time.sleep(1.0)

    dom.suspend()
    assert h.wait_until(lambda: dom.record().paused_since is not None, timeout=30)
    frozen = dom.record().uptime_s()
    assert frozen is not None and frozen >= 1.0
    time.sleep(1.5)
    assert dom.record().uptime_s() == pytest.approx(frozen, abs=0.01), "no time passes for a paused guest"

    conn.close()  # a later vmgui re-attaches to the paused VM: the figures are in its state file
    conn = env.open()
    dom = conn.lookup_by_name("up")
    assert dom.record().paused_since is not None
    assert dom.record().uptime_s() == pytest.approx(frozen, abs=0.01)

    dom.resume()
    assert h.wait_until(lambda: dom.record().paused_since is None, timeout=30)
    resumed = dom.record()
    assert resumed.paused_s >= 1.5
    assert resumed.uptime_s() == pytest.approx(frozen, abs=1.0), "it goes on from where it stopped"
    time.sleep(1.0)
    assert dom.record().uptime_s() >= frozen + 0.9, "and counts again"

    booted = resumed.started_at
    dom.reset()
    assert h.wait_until(lambda: dom.record().started_at > booted, timeout=30), "QEMU's RESET restarts the clock"
    after = dom.record()
    assert after.paused_s == 0.0 and after.paused_since is None
    assert after.uptime_s() < frozen
    dom.destroy()
