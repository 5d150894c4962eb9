"""Connections that hang, drop, or cannot be made: nothing else may stall."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid as uuidlib

import pytest

import drivers
import drivers.libvirt
from drivers import DriverError, ErrorCode, EventType

pytestmark = pytest.mark.libvirt

daemon_mod = sys.modules["vmgui_libvirt_tests_daemon"]  # loaded by conftest.py


@pytest.fixture
def silent_host():
    """A TCP port that accepts connections and never says a word (a hung host)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"qemu+tcp://127.0.0.1:{server.getsockname()[1]}/system"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()  # the abandoned open gets EOF and its thread ends
    server.close()


@pytest.fixture
def spare_daemon():
    """A throwaway private libvirtd (no guests) to stop, kill and restart."""
    reason = daemon_mod.unavailable_reason()
    if reason:
        pytest.skip(f"no libvirtd: {reason}")
    d = daemon_mod.PrivateLibvirtd(str(uuidlib.uuid4()), label="libvirtd-spare")
    d.start_or_skip()
    yield d
    d.cont()
    assert d.stop() == []
    d.remove()


def test_open_times_out_and_blocks_nothing_else(silent_host, node_path):
    result = {}

    def hang():
        t0 = time.monotonic()
        try:
            drivers.libvirt.open_connection(f"libvirt:{silent_host}", timeout=2.0)
        except DriverError as exc:
            result["error"] = exc
        result["took"] = time.monotonic() - t0

    thread = threading.Thread(target=hang)
    thread.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    with drivers.open(f"libvirt:test://{node_path}") as other:  # meanwhile: business as usual
        events = []
        other.register_event_callback(lambda c, d, e: events.append(e))
        other.lookup_by_name("off1").create()
        assert other.list_all_domains() and other.get_all_domain_stats()
        deadline = time.monotonic() + 2
        while not events and time.monotonic() < deadline:
            time.sleep(0.01)
        assert events and events[0].type is EventType.STARTED
    assert time.monotonic() - t0 < 1.5
    thread.join(10)
    assert result["error"].code is ErrorCode.OPERATION_TIMEOUT
    assert "did not answer" in result["error"].message
    assert 1.5 < result["took"] < 4


def test_hung_daemon_is_detected_by_keepalive(spare_daemon, node_path):
    conn = drivers.libvirt.open_connection(f"libvirt:{spare_daemon.uri}", keepalive=(1, 1))
    events = []
    conn.register_event_callback(lambda c, d, e: events.append(e))
    assert conn.list_all_domains() == [] and conn.connected
    spare_daemon.pause()
    outcome = {}

    def stuck_call():
        try:
            conn.list_all_domains()
        except DriverError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=stuck_call)
    thread.start()
    with drivers.open(f"libvirt:test://{node_path}") as other:  # others carry on meanwhile
        t0 = time.monotonic()
        other.lookup_by_name("run1").suspend()
        assert time.monotonic() - t0 < 1
    thread.join(15)
    assert not thread.is_alive()
    assert outcome["error"].code is ErrorCode.OPERATION_FAILED
    assert "lost the connection" in outcome["error"].message
    deadline = time.monotonic() + 10
    while not any(e.type is EventType.DISCONNECTED for e in events) and time.monotonic() < deadline:
        time.sleep(0.05)
    disconnects = [e for e in events if e.type is EventType.DISCONNECTED]
    assert len(disconnects) == 1, events
    assert spare_daemon.uri in disconnects[0].message
    assert not conn.connected
    spare_daemon.cont()
    assert conn.list_all_domains() == []  # reconnected on demand
    assert conn.connected
    conn.close()


def test_daemon_going_away_then_reconnect_on_demand(spare_daemon):
    conn = drivers.open(f"libvirt:{spare_daemon.uri}")
    dom = conn.define_xml(spare_daemon.domain_xml("survivor"))  # persistent: outlives the daemon
    events = []
    conn.register_event_callback(lambda c, d, e: events.append(e))
    assert conn.hostname()
    spare_daemon.kill()
    deadline = time.monotonic() + 5

    def disconnects():
        return [e for e in events if e.type is EventType.DISCONNECTED]
    while not disconnects() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(disconnects()) == 1, events
    assert "end of file" in disconnects()[0].message or "I/O" in disconnects()[0].message
    with pytest.raises(DriverError) as err:  # the daemon is gone: reconnecting fails, clearly
        conn.list_all_domains()
    assert "not connected" in err.value.message and err.value.code is not ErrorCode.NO_SUPPORT
    spare_daemon.start()
    assert [d.name for d in conn.list_all_domains()] == ["survivor"]
    assert conn.connected and len(disconnects()) == 1
    deadline = time.monotonic() + 5
    while not any(e.type is EventType.RECONNECTED for e in events) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [e.type for e in events if e.type in (EventType.DISCONNECTED, EventType.RECONNECTED)] == [
        EventType.DISCONNECTED, EventType.RECONNECTED]  # the GUI clears its 'disconnected' mark
    assert dom.is_persistent() and not dom.is_active()  # old handles work on the new connection
    dom.undefine()
    conn.close()


def test_without_libvirt_python_no_support_says_how_to_install():
    code = (
        "import sys; sys.modules['libvirt'] = None\n"
        "import drivers\n"
        "for uri in ('libvirt:test:///default', 'qemu:///system', 'qemu+ssh://u@h/system'):\n"
        "    try:\n"
        "        drivers.open(uri)\n"
        "    except drivers.DriverError as e:\n"
        "        assert e.code is drivers.ErrorCode.NO_SUPPORT, e\n"
        "        assert \"pip install 'vmgui[libvirt]'\" in e.message, e.message\n"
        "    else:\n"
        "        raise SystemExit('opened without libvirt-python')\n"
        "print('ok')\n")
    import os
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=60,
                         env=dict(os.environ, PYTHONPATH=root))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_closing_waits_for_calls_in_flight_before_libvirt_frees_the_connection():
    """libvirt frees a virConnect that is closed while another thread is inside a call on it (the
    app crashed when a window closed during a listing): the last call to return closes it."""
    conn = drivers.open("libvirt:test:///default")
    vconn = conn.vconn()
    inside, release = threading.Event(), threading.Event()
    answer: list[object] = []

    def slow_call() -> str:
        inside.set()
        release.wait(10)
        return vconn.getHostname()  # still on the open connection, though close() has run

    caller = threading.Thread(target=lambda: answer.append(conn.call("reading the host name", slow_call)))
    caller.start()
    assert inside.wait(10)
    conn.close()
    assert vconn.isAlive()  # not closed under the call
    release.set()
    caller.join(10)
    assert answer and isinstance(answer[0], str) and answer[0]
    with pytest.raises(Exception, match="invalid connection pointer"):
        vconn.isAlive()  # closed once the call returned


def test_closing_with_no_call_in_flight_closes_the_libvirt_connection_at_once():
    conn = drivers.open("libvirt:test:///default")
    vconn = conn.vconn()
    conn.close()
    with pytest.raises(Exception, match="invalid connection pointer"):
        vconn.isAlive()


_LIST_WHILE_CLOSING = """
import faulthandler, sys, threading
faulthandler.enable()
import drivers
for _ in range(int(sys.argv[2])):
    conn = drivers.open(sys.argv[1])
    vconn = conn.vconn()
    go = threading.Barrier(4)

    def lister():
        go.wait()
        while True:
            try:
                conn.call("listing", vconn.listAllDomains, 0)
            except drivers.DriverError:
                return

    threads = [threading.Thread(target=lister, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    go.wait()
    conn.close()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive()
print("ok")
"""


def test_listing_from_three_threads_while_the_connection_closes_never_touches_a_freed_connection(spare_daemon):
    """Three threads list on the libvirt connection they hold while it is closed, 150 times: libvirt
    logs 'is not a virObjectLockable instance' for a call on a connection being freed (or crashes)."""
    import os
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    out = subprocess.run([sys.executable, "-c", _LIST_WHILE_CLOSING, f"libvirt:{spare_daemon.uri}", "150"],
                         capture_output=True, text=True, cwd=root, timeout=300,
                         env=dict(os.environ, PYTHONPATH=root))
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "ok"
    assert "virObjectLockable" not in out.stderr, out.stderr[-3000:]



@pytest.mark.parametrize("where, ask", [
    ("driver_supports_feature", lambda conn: conn.supports_feature(drivers.Feature.MIGRATION_P2P)),
    ("storageVolLookupByPath", lambda conn: conn.storage_visible(["/nowhere/disk.qcow2"])),
    ("saveImageGetXMLDesc", lambda conn: conn.restore("/nowhere/saved.img")),
], ids=["feature", "storage volume", "save image"])
def test_closing_waits_for_questions_asked_of_the_libvirt_connection_itself(where, ask, monkeypatch):
    """Questions that reach the virConnect outside conn.call() count as calls in flight too."""
    conn = drivers.open("libvirt:test:///default")
    vconn = conn.vconn()
    owner = drivers.libvirt.runtime if where == "driver_supports_feature" else vconn
    real = getattr(owner, where)
    inside, release = threading.Event(), threading.Event()

    def slow(*args):
        inside.set()
        release.wait(10)
        return real(*args)  # on the open connection, though close() has run

    monkeypatch.setattr(owner, where, slow)
    done = threading.Event()

    def asker() -> None:
        try:
            ask(conn)
        except DriverError:
            pass  # the question's own answer (no volume, no image) does not matter here
        done.set()

    threading.Thread(target=asker, daemon=True).start()
    assert inside.wait(10)
    conn.close()
    assert vconn.isAlive()  # not closed under the question
    release.set()
    assert done.wait(10)
    with pytest.raises(Exception, match="invalid connection pointer"):
        vconn.isAlive()  # closed once it returned
