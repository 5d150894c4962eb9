"""Real QEMU, real Linux: a reboot is the guest's own (ACPI), a reset is the hard one, and a reboot
the guest ignores never turns into an exit later."""
from __future__ import annotations

import json
import re
import socket
import time

import e2e_helpers as h
import pytest

from drivers import DomainState, EventType
from drivers.flags import ShutdownDetail, ShutoffReason, StoppedDetail

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

_BOOT = re.compile(rb"VMGUI BOOT (\S+)")


def boot_ids(serial) -> list[bytes]:
    return _BOOT.findall(serial.text())


def wait_state(dom, state: DomainState, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while dom.state()[0] != state and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dom.state()[0] == state, f"{dom.name} is {dom.state()}, not {state.name}"


def linux_ready(env, name: str):
    """A started Linux guest once it is up: (connection, its EventLog, domain, serial)."""
    conn = env.open()
    log = h.EventLog(conn)
    dom = conn.define_xml(env.linux_xml(name))
    dom.create()
    serial = env.guest(name)
    serial.wait_for(b"VMGUI READY", timeout=60)
    return conn, log, dom, serial


def test_reboot_powers_the_guest_off_and_boots_it_again_in_the_same_qemu(env, linux_guest):
    conn, log, dom, serial = linux_ready(env, "rb")
    pid, booted_at = dom.qemu_pid(), dom.record().started_at

    dom.reboot()
    serial.wait_for(b"VMGUI BOOT", count=2, timeout=90)
    text = serial.text()
    assert text.index(b"VMGUI POWEROFF") < text.rindex(b"VMGUI BOOT"), "the guest shut down first"
    first, second = boot_ids(serial)
    assert first != second, "a new boot of the kernel (a new boot id)"
    assert dom.state()[0] == DomainState.RUNNING and dom.qemu_pid() == pid, "the same QEMU process runs on"
    assert dom.record().started_at > booted_at, "the uptime starts again with the new boot"
    log.wait_for("REBOOT")
    conn.host.bus.flush()
    assert log.kinds("rb") == [("DEFINED", 0), ("STARTED", 0), ("SHUTDOWN", ShutdownDetail.GUEST), ("REBOOT", 0)]
    serial.wait_for(b"VMGUI READY", count=2, timeout=60)

    dom.shutdown()  # the reboot is over: the next shutdown powers off
    wait_state(dom, DomainState.SHUTOFF, 60)
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SHUTDOWN)
    assert serial.boots() == 2
    conn.host.bus.flush()
    assert log.kinds("rb")[-2:] == [("SHUTDOWN", ShutdownDetail.GUEST), ("STOPPED", StoppedDetail.SHUTDOWN)]


SHARED = "up"


@pytest.fixture(scope="module")
def shared_guest(module_env):
    """The module's Linux guest: the tests below reset or reboot it and need no fresh one for that."""
    conn = module_env.open()
    conn.define_xml(module_env.linux_xml(SHARED))
    conn.close()
    return module_env


@pytest.fixture
def guest_up(shared_guest):
    """(env, serial, boots so far) with the shared guest running at its shell and no connection open.

    A test that left it stopped has it started again; the connections a test opens close after it,
    so that nothing watches the guest while a test has its own connection closed.
    """
    env = shared_guest
    serial = env.guest(SHARED)
    conn = env.open()
    dom = conn.lookup_by_name(SHARED)
    if not dom.is_active():
        boots = serial.boots()
        dom.create()
        serial.wait_for(b"VMGUI BOOT", count=boots + 1, timeout=90)
    serial.wait_for(b"VMGUI READY", count=serial.boots(), timeout=90)  # every boot so far is at its shell
    conn.close()
    opened = len(env.conns)
    yield env, serial, serial.boots()
    for conn in env.conns[opened:]:
        conn.close()


def test_reset_boots_again_without_the_guest_shutting_down(guest_up):
    env, serial, boots = guest_up
    conn = env.open()
    log = h.EventLog(conn)
    dom = conn.lookup_by_name(SHARED)
    mark = len(serial.text())
    dom.reset()
    serial.wait_for(b"VMGUI BOOT", count=boots + 1, timeout=90)
    assert b"VMGUI POWEROFF" not in serial.text()[mark:], "a reset does not ask the guest"
    assert len(set(boot_ids(serial))) == boots + 1, "a new boot of the kernel (a new boot id)"
    assert dom.state()[0] == DomainState.RUNNING
    log.wait_for("REBOOT")
    conn.host.bus.flush()
    assert "SHUTDOWN" not in [k for k, _ in log.kinds(SHARED)]


def qmp(path: str, *commands: str) -> None:
    """Run QMP commands on a socket this process's driver has let go of."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(path)
        reader = sock.makefile("rb")
        reader.readline()  # the greeting
        for cmd in ("qmp_capabilities",) + commands:
            sock.sendall(json.dumps({"execute": cmd}).encode() + b"\n")
            while b'"return"' not in (line := reader.readline()):
                assert line and b'"error"' not in line, line


def test_a_reboot_cut_short_after_the_reset_is_finished_on_re_attach(guest_up):
    env, serial, boots = guest_up
    conn = env.open()
    dom = conn.lookup_by_name(SHARED)
    path = dom._dom().live.qmp_path
    powered_off = serial.text().count(b"VMGUI POWEROFF")
    dom.reboot()
    conn.close()
    serial.wait_for(b"VMGUI POWEROFF", count=powered_off + 1, timeout=60)
    qmp(path, "system_reset")  # what the driver did before it let go: the guest now waits to be continued
    time.sleep(1.0)
    assert serial.boots() == boots
    dom = env.open().lookup_by_name(SHARED)
    serial.wait_for(b"VMGUI BOOT", count=boots + 1, timeout=90)
    assert dom.state()[0] == DomainState.RUNNING


def test_a_reboot_asked_while_vmgui_was_closed_finishes_when_it_comes_back(guest_up):
    env, serial, boots = guest_up
    conn = env.open()
    dom = conn.lookup_by_name(SHARED)
    powered_off = serial.text().count(b"VMGUI POWEROFF")
    dom.reboot()
    conn.close()  # nobody watches while the guest shuts down: QEMU waits, stopped, for the reset
    serial.wait_for(b"VMGUI POWEROFF", count=powered_off + 1, timeout=60)
    time.sleep(1.0)
    assert serial.boots() == boots
    conn = env.open()  # re-attach: the pending reboot is carried out
    dom = conn.lookup_by_name(SHARED)
    serial.wait_for(b"VMGUI BOOT", count=boots + 1, timeout=90)
    assert dom.state()[0] == DomainState.RUNNING
    serial.wait_for(b"VMGUI READY", count=boots + 1, timeout=60)
    dom.shutdown()
    wait_state(dom, DomainState.SHUTOFF, 60)


def test_a_guest_that_ignores_the_reboot_keeps_running_and_still_resets_and_forces_off(env):
    conn = env.open()
    log = h.EventLog(conn)
    dom = conn.define_xml(env.xml("deaf"))  # the multiboot test guest has no ACPI
    dom.create()
    serial = env.serial("deaf")
    h.wait_heartbeat(serial, 2)
    dom.reboot()
    time.sleep(1.0)
    assert dom.state()[0] == DomainState.RUNNING and h.boots(serial) == 1, "nothing happened in the guest"
    dom.reset()
    deadline = time.monotonic() + 20
    while h.boots(serial) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert h.boots(serial) == 2
    log.wait_for("REBOOT")
    dom.reboot()
    dom.destroy()  # QEMU quits even while it would pause a shutting-down guest for a reboot
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.DESTROYED)
    conn.host.bus.flush()
    assert [k for k, _ in log.kinds("deaf")] == ["DEFINED", "STARTED", "REBOOT", "STOPPED"]
    assert not any(e.type is EventType.SHUTDOWN for e in log.events)
