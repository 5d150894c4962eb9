"""Real QEMU: the API is thread-safe; listings stay consistent while domains change state."""
from __future__ import annotations

import threading

import pytest

from drivers import DriverError, JobFlags

pytestmark = pytest.mark.qemu


def test_listing_while_domains_start_stop_and_restore(env):
    conn = env.open()
    doms = [conn.define_xml(env.xml(f"c{i}")) for i in range(3)]
    stop = threading.Event()
    problems: list[BaseException] = []

    def lister() -> None:
        while not stop.is_set():
            try:
                stats = conn.get_all_domain_stats()
                names = [r.name for r in stats]
                assert len(names) == len(set(names)), names
                for d in conn.list_all_domains():
                    d.state()
                    d.info()
            except DriverError:
                pass  # a domain vanished between listing and asking: allowed
            except BaseException as exc:  # noqa: BLE001
                problems.append(exc)
                return

    def cycler(dom) -> None:
        try:
            for _ in range(3):
                dom.create()
                dom.suspend()
                dom.resume()
                dom.destroy()
        except BaseException as exc:  # noqa: BLE001
            problems.append(exc)

    threads = [threading.Thread(target=lister) for _ in range(2)] + \
              [threading.Thread(target=cycler, args=(d,)) for d in doms]
    for t in threads:
        t.start()
    # a transient domain restored meanwhile shows up in listings mid-restore without breaking them
    tmp = conn.create_xml(env.xml("tr"))
    image = str(env.base / "tr.img")
    tmp.save(image)
    job = conn.restore(image, JobFlags.ASYNC)
    for t in threads[2:]:
        t.join(120)
    stop.set()
    for t in threads[:2]:
        t.join(10)
    assert not problems, problems
    assert conn.lookup_by_name("tr").get_job_info(job).state.name == "COMPLETED"
    assert not any(d.is_active() for d in doms)
