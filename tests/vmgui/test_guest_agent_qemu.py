"""Real QEMU, real qemu-ga behind the details pane: the guest's host name, OS, addresses and file systems.

The private-root fixtures (``env``, ``linux_guest``) are tests/e2e/conftest.py's (borrowed_fixtures);
the window is this directory's offscreen one.
"""
from __future__ import annotations

import pytest
from borrowed_fixtures import borrow
from test_window import select

from drivers import JobState
from vmgui.models.guestinfo import NO_AGENT
from vmgui.models.jobs import JobCol

_e2e = borrow("e2e")  # also puts tests/e2e on sys.path
env, guest_kernel, linux_guest = _e2e.env, _e2e.guest_kernel, _e2e.linux_guest
import e2e_helpers as h  # noqa: E402
from test_qemu_guest_agent import agent_xml  # noqa: E402

pytestmark = [pytest.mark.qemu, pytest.mark.slow,
              pytest.mark.skipif(not (h.QEMU and h.QEMU_IMG), reason="qemu-system-x86_64 / qemu-img are not installed")]


def rows(window) -> dict[str, str]:
    return dict(window.details.guest.rows)


def test_the_details_show_what_the_agent_reports_once_it_connects(env, linux_guest, open_window, qtbot):
    data = h.make_qcow2(env.base / "data.qcow2", 16)
    conn = env.open()
    dom = conn.define_xml(agent_xml(env, linux_guest, "ga-gui", extra="vmgui.fs=/dev/vda", disks=[{"path": data}]))
    window = open_window(env.uri())
    view = window.details.guest
    view._timer.stop()  # only the agent's connecting may fill the pane
    select(window, "ga-gui")
    dom.create()
    qtbot.waitUntil(lambda: view.text() and "not running" not in view.text(), timeout=30000)
    qtbot.waitUntil(lambda: "Host name" in rows(window), timeout=180000)
    shown = rows(window)
    assert shown["Host name"] == "vmguest"
    assert shown["OS"] == f"VMGUI test guest 1.0, kernel {linux_guest.kernel_version}"
    assert shown["Interface eth0"].startswith("10.0.2.15/24"), shown
    assert "Interface lo" not in shown
    assert shown["File system /mnt/data"].startswith("ext2 on vda, "), shown
    assert "10.0.2.15/24" in view.text() and view.accessibleName() == "Guest agent"
    assert window.details.findChild(type(view), "guestAgent") is view

    dom.backup_begin(h.backup_xml(env.base / "backup.qcow2"))  # the job panel says how its point in time was taken
    qtbot.waitUntil(lambda: [r.texts[JobCol.DETAILS] for r in window.session.jobs.rows()
                             if r.info.state is JobState.COMPLETED]
                    == ["guest file systems frozen for the point in time (1)"], timeout=120000)

    dom.destroy()
    qtbot.waitUntil(lambda: view.text() == "not running", timeout=30000)


def test_a_guest_without_an_agent_says_so_plainly(env, linux_guest, open_window, qtbot):
    conn = env.open()
    dom = conn.define_xml(agent_xml(env, linux_guest, "ga-none-gui", work=()))
    dom.create()
    env.guest("ga-none-gui").wait_for(b"VMGUI READY", timeout=120)
    window = open_window(env.uri())
    select(window, "ga-none-gui")
    qtbot.waitUntil(lambda: NO_AGENT in rows(window), timeout=30000)
    assert "qemu-guest-agent" in rows(window)[NO_AGENT]
