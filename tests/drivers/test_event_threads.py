"""An event bus keeps its delivery thread only while someone listens."""
from __future__ import annotations

import threading
import time

from nodegen import node_xml

import drivers
from drivers import EventType
from drivers.events import EventBus
from drivers.records import DomainEvent


def _threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def _handed_over(bus: EventBus, handle: int) -> list[str]:
    """Emit "before", drop the bus's only callback, register a new one, emit "after": the list it hears into."""
    bus.emit(None, DomainEvent.now(EventType.DEFINED, 0, message="before"))
    bus.deregister(handle)
    heard: list[str] = []
    bus.register(None, lambda _c, _d, event: heard.append(event.message))
    bus.emit(None, DomainEvent.now(EventType.DEFINED, 0, message="after"))
    assert bus.flush(10)
    return heard


def _until_one_thread(name: str) -> None:
    """Wait (10 s at most) until an ending delivery thread has delivered what it had and gone."""
    deadline = time.monotonic() + 10
    while len(_threads(name)) > 1 and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_closed_connection_to_a_private_test_host_leaves_no_event_thread(tmp_path):
    node = tmp_path / "private-node.xml"
    node.write_text(node_xml([{"name": "vm1", "runstate": 5}]))
    for _ in range(3):
        conn = drivers.open(f"test://{node}")
        seen: list[DomainEvent] = []
        conn.register_event_callback(lambda _c, _d, event, seen=seen: seen.append(event))
        conn.lookup_by_name("vm1").create()
        deadline = time.monotonic() + 10
        while EventType.STARTED not in [e.type for e in seen] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert EventType.STARTED in [e.type for e in seen]
        conn.lookup_by_name("vm1").destroy()
        conn.close()
    for thread in _threads("private-node.xml"):
        thread.join(10)
    assert _threads("private-node.xml") == []


def test_a_bus_without_callbacks_ends_its_thread_and_a_new_callback_hears_later_events():
    bus = EventBus("bus-under-test")
    first: list[str] = []
    second = _handed_over(bus, bus.register(None, lambda _c, _d, event: first.append(event.message)))
    _until_one_thread("bus-under-test")
    assert "after" not in first  # it had gone by then
    assert second == ["after"]  # "before" happened before it registered
    assert len(_threads("bus-under-test")) == 1
    bus.close()
    for thread in _threads("bus-under-test"):
        thread.join(10)
    assert _threads("bus-under-test") == []


def test_an_event_queued_before_a_callback_registered_never_reaches_it_even_from_an_ending_thread():
    bus = EventBus("bus-in-order")
    busy = threading.Event()
    release = threading.Event()

    def slow(_c, _d, event) -> None:
        if event.message == "first":
            busy.set()
            release.wait(10)  # the old thread is still delivering when the new callback arrives

    handle = bus.register(None, slow)
    bus.emit(None, DomainEvent.now(EventType.DEFINED, 0, message="first"))
    assert busy.wait(10)
    heard = _handed_over(bus, handle)
    release.set()
    _until_one_thread("bus-in-order")
    assert heard == ["after"]  # not "after" then the older "before"
    bus.close()
