"""Starting with many hosts at once: the UI thread's work is spread over short loop turns.

The figures (longest stall while 20 hosts open) come from ``tests/bench/bench_gui.py hosts``;
these tests pin down the mechanisms that keep every turn short.
"""
from __future__ import annotations

import sys
import threading
from types import FrameType
from typing import Any

import drivers
from drivers import DomainRecord
from vmgui.models.connections import ConnState
from vmgui.models.domains import DomainTableModel
from vmgui.models.session import Session
from vmgui.workers import WorkerPool


def test_submitting_work_never_waits_for_a_new_worker_thread_to_start() -> None:
    """Thread.start() waits until the new thread holds the GIL (a switch interval while other
    workers run Python): the thread that submits, the UI thread, must never be the one waiting."""
    pool = WorkerPool(max_workers=8)
    started_here: list[str] = []
    done = threading.Barrier(9, timeout=30)

    def watch(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_name == "start" and frame.f_globals.get("__name__") == "threading":
            started_here.append(frame.f_code.co_name)
    sys.setprofile(watch)
    try:
        for _ in range(8):
            pool.submit(done.wait)  # each needs a thread of its own: all 8 wait for each other
    finally:
        sys.setprofile(None)
    done.wait()  # every item ran, on 8 threads
    assert pool.size == 8
    assert started_here == []
    pool.shutdown()


def test_hosts_opened_together_set_up_one_per_loop_turn(aloop, qapp, qtbot, make_node) -> None:
    session = Session()
    uris = [make_node(3) for _ in range(12)]
    for uri in uris:
        session.spawn(session.open(uri), f"Connecting to {uri}")
    qapp.processEvents()  # one loop turn
    assert len(session.connections.rows()) == 1
    qtbot.waitUntil(lambda: all((r := session.connections.get(u)) is not None and r.state is ConnState.CONNECTED
                                for u in uris), timeout=30000)
    assert session.domains.total() == 36
    assert [session.connections.rows()[i].uri for i in range(12)] == uris  # in the order asked
    session.stop()


def test_first_listings_of_several_hosts_make_one_layout_change(qtbot, make_node) -> None:
    uris = [make_node(4) for _ in range(3)]
    batch: dict[str, list[DomainRecord]] = {}
    for uri in uris:
        with drivers.open(uri) as conn:
            batch[uri] = conn.get_all_domain_stats()
    model = DomainTableModel()
    layouts: list[int] = []
    model.layoutChanged.connect(lambda *_: layouts.append(model.rowCount()))
    model.apply_many(batch)
    assert layouts == [12]
    names = [model.row_at(i).rec.name for i in range(12)]
    assert names == sorted(names)  # one order across every host
    assert {model.row_at(i).uri for i in range(12)} == set(uris)
