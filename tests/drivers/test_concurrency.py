"""Listing is one atomic snapshot while other threads change domains."""
from __future__ import annotations

import random
import threading

from nodegen import node_xml

import drivers
from drivers import ListFlags
from drivers.domxml import DomainXML


def test_no_domain_is_skipped_or_listed_twice_while_others_change(tmp_path):
    node = tmp_path / "node.xml"
    node.write_text(node_xml([{"name": f"stable{i}", "runstate": (1, 5)[i % 2]} for i in range(200)]))
    conn = drivers.open(f"test://{node}")
    stable_doms = conn.list_all_domains()
    stable = {d.uuid for d in stable_doms}
    stop = threading.Event()
    errors: list[BaseException] = []

    def churn(seed: int) -> None:
        rng = random.Random(seed)
        doms = list(stable_doms)  # temporary domains belong to the thread that made them
        try:
            while not stop.is_set():
                dom = rng.choice(doms)
                op = rng.choice(["toggle", "pause", "temp"])
                try:
                    if op == "toggle":
                        dom.destroy() if dom.is_active() else dom.create()
                    elif op == "pause":
                        dom.suspend() if dom.state()[0] == drivers.DomainState.RUNNING else dom.resume()
                    else:
                        temp = conn.create_xml(DomainXML.new(f"t{seed}-{rng.randrange(10**6)}", 1024).to_string())
                        temp.destroy()
                except drivers.DriverError as exc:
                    if exc.code is not drivers.ErrorCode.OPERATION_INVALID:  # lost a benign race
                        raise
        except BaseException as exc:  # noqa: BLE001  # pragma: no cover - the main thread re-raises it below
            errors.append(exc)

    workers = [threading.Thread(target=churn, args=(s,)) for s in range(4)]
    for w in workers:
        w.start()
    try:
        for _ in range(300):
            listing = conn.list_all_domains(ListFlags(0))
            uuids = [d.uuid for d in listing]
            assert len(uuids) == len(set(uuids)), "a domain was listed twice"
            assert stable <= set(uuids), "a domain was skipped"
            by_state = conn.get_all_domain_stats(ListFlags.RUNNING | ListFlags.PAUSED | ListFlags.SHUTOFF
                                                 | ListFlags.OTHER)
            assert stable <= {r.uuid for r in by_state}
            active = conn.get_all_domain_stats(ListFlags.ACTIVE)
            assert all(r.id is not None for r in active)
    finally:
        stop.set()
        for w in workers:
            w.join()
        conn.close()
    assert not errors, errors
