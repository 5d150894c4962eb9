"""Real QEMU: lifecycle, events, crash detection, re-attach, transient domains, autostart."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import e2e_helpers as h
import pytest

from drivers import DomainState, ErrorCode, EventType, ListFlags
from drivers.flags import ShutoffReason, StoppedDetail

pytestmark = pytest.mark.qemu


def test_lifecycle_and_events(env):
    conn = env.open()
    log = h.EventLog(conn)
    dom = conn.define_xml(env.xml("life"))
    assert dom.state() == (DomainState.SHUTOFF, 0) and dom.id is None and dom.is_persistent()
    dom.create()
    assert dom.state()[0] == DomainState.RUNNING and dom.id is not None
    serial = env.serial("life")
    hb = h.wait_heartbeat(serial, 2)

    dom.suspend()
    assert dom.state()[0] == DomainState.PAUSED
    time.sleep(0.3)
    frozen = h.heartbeat(serial)
    time.sleep(0.6)
    assert h.heartbeat(serial) == frozen, "a paused guest must not run"
    with h.refused(ErrorCode.OPERATION_INVALID):
        dom.suspend()
    dom.resume()
    assert dom.state()[0] == DomainState.RUNNING
    h.wait_heartbeat(serial, max(hb, frozen))

    # the test guest has no ACPI: a shutdown request is ignored and it runs on
    dom.shutdown()
    time.sleep(0.5)
    assert dom.state()[0] == DomainState.RUNNING

    dom.reset()  # a hard reset: the guest boots again
    log.wait_for("REBOOT")
    deadline = time.monotonic() + 10
    while h.boots(serial) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert h.boots(serial) == 2

    info = dom.info()
    assert info.memory_kib == 32 * 1024 and info.vcpus == 1 and info.cpu_time_ns > 0
    assert [d.name for d in conn.list_all_domains(ListFlags.RUNNING)] == ["life"]

    dom.destroy()
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.DESTROYED)
    with h.refused(ErrorCode.OPERATION_INVALID):
        dom.destroy()
    conn.host.bus.flush()
    assert log.kinds("life") == [("DEFINED", 0), ("STARTED", 0), ("SUSPENDED", 0), ("RESUMED", 0),
                                 ("REBOOT", 0), ("STOPPED", StoppedDetail.DESTROYED)]
    dom.undefine()
    assert conn.list_all_domains() == []


def test_guest_initiated_poweroff(env):
    conn = env.open()
    log = h.EventLog(conn)
    dom = conn.define_xml(env.xml("off", cmdline="poweroff=3"))
    dom.create()
    log.wait_for("STOPPED", timeout=30)
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SHUTDOWN)
    conn.host.bus.flush()
    assert ("SHUTDOWN", 1) in log.kinds("off")  # ShutdownDetail.GUEST
    assert log.kinds("off")[-1] == ("STOPPED", StoppedDetail.SHUTDOWN)


def test_crash_detection(env):
    conn = env.open()
    log = h.EventLog(conn)
    dom = conn.define_xml(env.xml("crashy"))
    dom.create()
    h.wait_heartbeat(env.serial("crashy"), 1)
    os.kill(dom.qemu_pid(), signal.SIGKILL)
    log.wait_for("STOPPED")
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.CRASHED)
    assert not dom.is_active()
    conn.host.bus.flush()
    assert log.kinds("crashy")[-2:] == [("CRASHED", 0), ("STOPPED", StoppedDetail.CRASHED)]
    # a crashed domain starts again: its leases went with the dead process
    dom.create()
    assert dom.is_active()


def test_transient_domain(env):
    conn = env.open()
    dom = conn.create_xml(env.xml("tmp"))
    assert dom.is_active() and not dom.is_persistent()
    h.wait_heartbeat(env.serial("tmp"), 1)
    assert [d.name for d in conn.list_all_domains(ListFlags.TRANSIENT)] == ["tmp"]
    dom.destroy()
    with h.refused(ErrorCode.NO_DOMAIN):
        conn.lookup_by_name("tmp")


def test_start_paused_and_busy_rule(env):
    from drivers import CreateFlags
    conn = env.open()
    dom = conn.define_xml(env.xml("paused"))
    dom.create(CreateFlags.START_PAUSED)
    assert dom.state()[0] == DomainState.PAUSED
    time.sleep(0.5)
    assert h.heartbeat(env.serial("paused")) == 0
    with h.refused(ErrorCode.OPERATION_INVALID):
        dom.create()
    dom.resume()
    h.wait_heartbeat(env.serial("paused"), 1)


def test_reattach_after_close(env):
    conn = env.open()
    dom = conn.define_xml(env.xml("keep"))
    dom.create()
    dom_id = dom.id
    pid = dom.qemu_pid()
    serial = env.serial("keep")
    hb = h.wait_heartbeat(serial, 1)
    conn.close()
    # the VM carries on without any connection
    hb = h.wait_heartbeat(serial, hb)
    conn2 = env.open()
    log = h.EventLog(conn2)
    dom2 = conn2.lookup_by_name("keep")
    assert dom2.state()[0] == DomainState.RUNNING and dom2.id == dom_id and dom2.qemu_pid() == pid
    dom2.suspend()
    assert dom2.state()[0] == DomainState.PAUSED
    dom2.resume()
    h.wait_heartbeat(serial, hb)
    os.kill(pid, signal.SIGKILL)  # events flow again on the new connection
    log.wait_for("STOPPED")
    assert dom2.state() == (DomainState.SHUTOFF, ShutoffReason.CRASHED)


def test_reattach_after_app_exit(env):
    """A VM started by a process that exits keeps running; the next process finds it."""
    script = textwrap.dedent(f"""
        import drivers
        conn = drivers.open({env.uri()!r})
        dom = conn.define_xml({env.xml("survivor")!r})
        dom.create()
        print(dom.qemu_pid())
    """)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         cwd=repo, env={**os.environ, "PYTHONPATH": repo})
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout.strip())
    h.wait_heartbeat(env.serial("survivor"), 2)
    conn = env.open()
    dom = conn.lookup_by_name("survivor")
    assert dom.is_active() and dom.qemu_pid() == pid
    dom.destroy()
    assert not os.path.exists(f"/proc/{pid}/cmdline") or b"qemu" not in open(f"/proc/{pid}/cmdline", "rb").read()


def test_vm_ended_while_detached_is_seen(env):
    conn = env.open()
    dom = conn.define_xml(env.xml("gone"))
    dom.create()
    pid = dom.qemu_pid()
    conn.close()
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    conn2 = env.open()
    dom2 = conn2.lookup_by_name("gone")
    assert dom2.state() == (DomainState.SHUTOFF, ShutoffReason.CRASHED)


def test_autostart_on_first_open(env, monkeypatch):
    conn = env.open()
    dom = conn.define_xml(env.xml("auto"))
    dom.autostart = True
    assert dom.autostart and conn.list_all_domains(ListFlags.AUTOSTART)
    conn.close()
    # a new runtime directory is what a reboot gives: the root is opened for the first time
    run2 = env.base / "run2"
    run2.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run2))
    conn2 = env.open()
    assert conn2.lookup_by_name("auto").is_active()
    conn2.lookup_by_name("auto").destroy()
    conn2.close()
    conn3 = env.open()  # opened again in the same "boot": no second autostart
    assert not conn3.lookup_by_name("auto").is_active()


def test_event_types_are_typed(env):
    conn = env.open()
    log = h.EventLog(conn)
    dom = conn.create_xml(env.xml("typed"))
    dom.destroy()
    conn.host.bus.flush()
    assert all(isinstance(e.type, EventType) for e in log.events)


def test_a_root_has_one_managing_process(env):
    """QEMU's QMP socket takes one client: a second process is told, not left hanging."""
    conn = env.open()
    conn.create_xml(env.xml("solo"))
    script = (f"import drivers\ntry:\n    drivers.open({env.uri()!r})\n"
              "except drivers.DriverError as e:\n    print(e.code.name, e)\n")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=repo,
                         env={**os.environ, "PYTHONPATH": repo})
    assert out.stdout.startswith("RESOURCE_BUSY") and str(os.getpid()) in out.stdout, out.stdout + out.stderr


_RACER = textwrap.dedent("""
    import sys, time
    import drivers
    uri, at = sys.argv[1], float(sys.argv[2])
    time.sleep(max(0.0, at - time.time()))  # every racer opens at the same instant
    try:
        conn = drivers.open(uri)
    except drivers.DriverError as exc:
        print("open", exc.code.name)
        sys.exit(0)
    try:
        conn.lookup_by_name("twice").create()
        print("start ok")
    except drivers.DriverError as exc:
        print("start", exc.code.name)
    conn.close()  # the VM outlives its manager
""")


def _qemus(env) -> list[int]:
    """The QEMU processes (not supervisors) of this test's roots."""
    return [pid for pid in h.processes_under(str(env.base)) if "qemu-system" in h.command_line(pid)]


def _race(env, racers: int = 3) -> list[str]:
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    at = time.time() + 2.0
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, env.uri(), str(at)], stdout=subprocess.PIPE,
                              text=True, cwd=repo, env={**os.environ, "PYTHONPATH": repo}) for _ in range(racers)]
    return sorted(p.communicate(timeout=120)[0].strip() for p in procs)


def test_processes_racing_for_one_root_run_its_vm_once(env, monkeypatch):
    conn = env.open()
    dom = conn.define_xml(env.xml("twice"))
    dom.autostart = True
    conn.close()
    run2 = env.base / "run2"  # a fresh runtime directory: the first open autostarts
    run2.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run2))
    first = _race(env)
    # each racer either manages the root (the VM runs already: autostart, or the start is refused)
    # or is told another process does; none starts a second QEMU
    assert all(line in ("open RESOURCE_BUSY", "start OPERATION_INVALID") for line in first), first
    assert "start OPERATION_INVALID" in first, first
    assert len(_qemus(env)) == 1, first
    second = _race(env)  # the VM kept running without a manager: the next ones find it running
    assert all(line in ("open RESOURCE_BUSY", "start OPERATION_INVALID") for line in second), second
    assert len(_qemus(env)) == 1, second
    h.wait_heartbeat(env.serial("twice"), 1)
    assert h.boots(env.serial("twice")) == 1
    again = env.open()
    again.lookup_by_name("twice").destroy()
    again.close()
    third = _race(env)  # shut off, no autostart left in this boot: one racer starts it
    assert third.count("start ok") == 1, third
    assert all(line in ("start ok", "open RESOURCE_BUSY", "start OPERATION_INVALID") for line in third), third
    assert len(_qemus(env)) == 1, third
    env.open().lookup_by_name("twice").destroy()
