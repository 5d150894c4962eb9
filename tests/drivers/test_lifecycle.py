"""Lifecycle state machine of the test driver: states, reasons, events and errors."""
from __future__ import annotations

import threading

import pytest

import drivers
from drivers import DomainState, ErrorCode, EventType, ListFlags
from drivers.flags import LIST_GROUPS, PausedReason, RunningReason, ShutoffReason, UndefineFlags


class Recorder:
    """Collects events delivered to a connection's callback."""

    def __init__(self, conn):
        self.events: list[tuple[str | None, EventType, int]] = []
        self.threads: set[str] = set()
        self.conn = conn
        conn.register_event_callback(self)

    def __call__(self, conn, dom, event):
        self.threads.add(threading.current_thread().name)
        self.events.append((dom.name if dom else None, event.type, event.detail))

    def of(self, name, types=None):
        self.conn.host.bus.flush()
        return [(t, d) for n, t, d in self.events if n == name and (types is None or t in types)]


LIFECYCLE = {EventType.STARTED, EventType.SUSPENDED, EventType.RESUMED, EventType.STOPPED,
             EventType.DEFINED, EventType.UNDEFINED, EventType.SHUTDOWN}


def test_default_host_shows_every_filter_group_on_both_sides():
    with drivers.open("test:///default") as conn:
        test = conn.lookup_by_name("test")
        assert test.uuid == "6695eb01-f6a4-8304-79aa-97f2502e193f"
        for group in LIST_GROUPS:
            for bit in ListFlags:
                if bit & group:
                    assert conn.list_all_domains(bit), f"no demo domain matches {bit.name}"


def test_default_state_is_shared_by_every_connection_of_the_process():
    with drivers.open("test:///default") as a, drivers.open("test:///default") as b:
        a.lookup_by_name("db01").autostart = False
        try:
            assert b.lookup_by_name("db01").autostart is False
        finally:
            a.lookup_by_name("db01").autostart = True


def test_node_file_connections_have_private_state(node_file):
    with drivers.open(f"test://{node_file}") as a, drivers.open(f"test://{node_file}") as b:
        a.lookup_by_name("test").destroy()
        assert b.lookup_by_name("test").is_active()


def test_pause_resume_shutdown_start_with_events(conn):
    rec = Recorder(conn)
    dom = conn.lookup_by_name("test")
    dom.suspend()
    assert dom.state() == (DomainState.PAUSED, PausedReason.USER)
    dom.resume()
    assert dom.state() == (DomainState.RUNNING, RunningReason.UNPAUSED)
    old_id = dom.id
    dom.shutdown()
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SHUTDOWN) and dom.id is None
    dom.create()
    assert dom.is_active() and dom.id > old_id
    assert rec.of("test", LIFECYCLE) == [
        (EventType.SUSPENDED, 0), (EventType.RESUMED, 0), (EventType.SHUTDOWN, 0),
        (EventType.STOPPED, 0), (EventType.STARTED, 0)]
    assert rec.threads and threading.main_thread().name not in rec.threads


@pytest.mark.parametrize("call,state_name", [
    ("suspend", "win11"), ("resume", "test"), ("shutdown", "win11"), ("destroy", "win11"),
    ("reboot", "win11"), ("reset", "win11"), ("create", "test")])
def test_wrong_state_is_operation_invalid(conn, call, state_name):
    dom = conn.lookup_by_name(state_name)
    before = dom.state()
    with pytest.raises(drivers.DriverError) as info:
        getattr(dom, call)()
    assert info.value.code is ErrorCode.OPERATION_INVALID
    assert state_name in info.value.message
    assert dom.state() == before


def test_reset_keeps_the_domain_running_and_reports_a_reboot(conn):
    rec = Recorder(conn)
    dom = conn.lookup_by_name("test")
    dom.reset()
    assert dom.state()[0] is DomainState.RUNNING
    assert rec.of("test") == [(EventType.REBOOT, 0)]


def test_transient_domain_disappears_when_stopped(conn):
    dom = conn.lookup_by_name("ci-runner-7")
    dom.destroy()
    with pytest.raises(drivers.DriverError) as info:
        dom.state()
    assert info.value.code is ErrorCode.NO_DOMAIN
    with pytest.raises(drivers.DriverError):
        conn.lookup_by_name("ci-runner-7")


def test_define_update_and_clash_rules(conn):
    rec = Recorder(conn)
    xml = conn.lookup_by_name("legacy-app").xml_desc().replace("<vcpu>1</vcpu>", "<vcpu>3</vcpu>")
    dom = conn.define_xml(xml)
    assert dom.info().vcpus == 3
    clash = xml.replace("legacy-app", "other-name")  # same uuid, other name
    with pytest.raises(drivers.DriverError) as info:
        conn.define_xml(clash)
    assert info.value.code is ErrorCode.OPERATION_FAILED
    new = drivers.domxml.DomainXML.new("fresh", 65536, 1)
    fresh = conn.define_xml(new.to_string())
    assert not fresh.is_active() and fresh.is_persistent()
    assert rec.of("legacy-app", LIFECYCLE) == [(EventType.DEFINED, 1)]
    assert rec.of("fresh", LIFECYCLE) == [(EventType.DEFINED, 0)]


def test_redefining_a_running_domain_changes_only_the_next_boot(conn):
    dom = conn.lookup_by_name("web01")
    assert dom.is_active()
    live = dom.xml_desc()
    conn.define_xml(live.replace("<title>", "<title>v2 "))
    assert dom.xml_desc() == live  # the running guest is unchanged
    assert "<title>v2 " in dom.xml_desc(drivers.DomainXMLFlags.INACTIVE)
    dom.destroy()
    assert "<title>v2 " in dom.xml_desc()  # and the next boot uses it


def test_create_xml_makes_a_running_transient_domain(conn):
    dom = conn.create_xml(drivers.domxml.DomainXML.new("scratch", 65536).to_string())
    assert dom.is_active() and not dom.is_persistent()
    with pytest.raises(drivers.DriverError) as info:
        dom.autostart = True
    assert info.value.code is ErrorCode.OPERATION_INVALID


def test_undefine_refuses_managed_save_and_snapshots_without_flags(conn):
    win = conn.lookup_by_name("win11")
    with pytest.raises(drivers.DriverError, match="managed save"):
        win.undefine()
    legacy = conn.lookup_by_name("legacy-app")
    with pytest.raises(drivers.DriverError, match="snapshot"):
        legacy.undefine()
    win.undefine(UndefineFlags.MANAGED_SAVE)
    legacy.undefine(UndefineFlags.SNAPSHOTS_METADATA)
    names = {d.name for d in conn.list_all_domains()}
    assert not {"win11", "legacy-app"} & names


def test_undefine_of_a_running_domain_makes_it_transient(conn):
    dom = conn.lookup_by_name("test")
    dom.undefine()
    assert dom.is_active() and not dom.is_persistent()
    dom.destroy()
    assert "test" not in {d.name for d in conn.list_all_domains()}


def test_start_restores_a_managed_save(conn):
    win = conn.lookup_by_name("win11")
    assert win.has_managed_save()
    win.create()
    assert win.state() == (DomainState.RUNNING, RunningReason.RESTORED)
    assert not win.has_managed_save()


def test_a_raising_callback_does_not_break_delivery(conn):
    seen = []
    conn.register_event_callback(lambda c, d, e: 1 / 0)
    conn.register_event_callback(lambda c, d, e: seen.append(e.type))
    conn.lookup_by_name("test").suspend()
    conn.host.bus.flush()
    assert EventType.SUSPENDED in seen


def test_a_callback_may_call_back_into_the_driver(conn):
    states = []
    conn.register_event_callback(lambda c, d, e: states.append(d.state()[0]) if d else None)
    conn.lookup_by_name("test").suspend()
    conn.host.bus.flush()
    assert DomainState.PAUSED in states


def test_deregistered_callback_gets_nothing(conn):
    seen = []
    handle = conn.register_event_callback(lambda c, d, e: seen.append(e))
    conn.deregister_event_callback(handle)
    conn.lookup_by_name("test").suspend()
    conn.host.bus.flush()
    assert seen == []
    with pytest.raises(drivers.DriverError):
        conn.deregister_event_callback(handle)


def test_closed_connection_refuses_calls(node_file):
    conn = drivers.open(f"test://{node_file}")
    dom = conn.lookup_by_name("test")
    conn.close()
    conn.close()  # idempotent
    with pytest.raises(drivers.DriverError) as info:
        dom.suspend()
    assert info.value.code is ErrorCode.OPERATION_INVALID and "closed" in info.value.message


def test_cpu_time_advances_only_while_running(conn):
    import time
    dom = conn.lookup_by_name("test")
    t0 = dom.info().cpu_time_ns
    time.sleep(0.05)
    assert dom.info().cpu_time_ns > t0
    dom.suspend()
    t1 = dom.info().cpu_time_ns
    time.sleep(0.05)
    assert dom.info().cpu_time_ns == t1
