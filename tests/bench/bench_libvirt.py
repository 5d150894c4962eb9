"""Benchmark: the table of 1,000 libvirt domains through the bridge vs one by one.

Run: python tests/bench/bench_libvirt.py [--count 1000] [--repeat 5] [--mode test|daemon|both]

For each target it prints the median wall time of

* ``bridge get_all_domain_stats``: what vmgui does to fill its table: one
  virConnectGetAllDomainStats plus four listAllDomains (transient, autostart,
  managed save, has snapshot), all five in flight at once (one round trip of
  latency), and one snapshotNum per domain that has snapshots (16 at a time);
* ``bridge list_all_domains``: one virConnectListAllDomains;
* ``virt-manager style``: listAllDomains, then per domain the calls a
  virt-manager-like poller makes to fill the same columns (info, isPersistent,
  autostart, hasManagedSaveImage, snapshotNum): 1 + 5N round trips;
* ``per-domain info only``: listAllDomains + info() per domain (1 + N round
  trips): the cheapest possible one-by-one poll, for scale.

Targets: ``test``: libvirt's test driver in-process (``libvirt:test:///node.xml``,
no RPC: measures client-side cost); ``daemon``: a private unprivileged
libvirtd over its UNIX socket with 1,000 defined QEMU domains (every call is
an RPC round trip, as over ssh, only with less latency; add ssh's RTT per round
trip to extrapolate).
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import drivers  # noqa: E402


def _load(name: str):
    path = ROOT / "tests" / "drivers" / "libvirt" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_libvirt_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def one_by_one(vconn) -> list[tuple]:
    rows = []
    for dom in vconn.listAllDomains(0):
        state, max_mem, mem, vcpus, cpu = dom.info()
        rows.append((dom.name(), dom.UUIDString(), state, max_mem, mem, vcpus, cpu, dom.isPersistent(),
                     dom.autostart(), dom.hasManagedSaveImage(0), dom.snapshotNum(0)))
    return rows


def info_only(vconn) -> list[tuple]:
    return [(d.name(), d.info()) for d in vconn.listAllDomains(0)]


def run(label: str, conn, repeat: int) -> None:
    vconn = conn.vconn()
    count = len(conn.list_all_domains())
    records = conn.get_all_domain_stats()
    rows = one_by_one(vconn)
    assert len(records) == len(rows) == count
    by_uuid = {r.uuid: r for r in records}
    for row in rows:  # both ways give the same table
        rec = by_uuid[row[1].lower()]
        assert (rec.persistent, rec.autostart, rec.managed_save, rec.snapshot_count) == \
            (bool(row[7]), bool(row[8]), bool(row[9]), row[10]), row
    bulk = median_ms(conn.get_all_domain_stats, repeat)
    listing = median_ms(conn.list_all_domains, repeat)
    manual = median_ms(lambda: one_by_one(vconn), repeat)
    info = median_ms(lambda: info_only(vconn), repeat)
    with_snaps = sum(1 for r in records if r.snapshot_count)
    bulk_calls = 5 + with_snaps + (count if conn.driver_type == "TEST" else 0)  # test driver: state-only stats
    bulk_rtts = 1 + -(-with_snaps // 16)  # the five calls go out together, snapshot counts 16 at a time
    manual_calls, info_calls = 1 + 5 * count, 1 + count
    print(f"\n{label}: {count} domains ({with_snaps} with snapshots), median of {repeat}")
    print(f"  bridge get_all_domain_stats   {bulk:9.1f} ms   ({bulk_calls} libvirt calls)")
    print(f"  bridge list_all_domains       {listing:9.1f} ms   (1 libvirt call)")
    print(f"  virt-manager style, 1 by 1    {manual:9.1f} ms   ({manual_calls} libvirt calls)"
          f"   -> bridge is {manual / bulk:.1f}x faster")
    print(f"  per-domain info() only        {info:9.1f} ms   ({info_calls} libvirt calls)")
    if conn.driver_type != "TEST":
        for rtt in (1.0, 20.0):  # LAN and WAN ssh round-trip times
            print(f"  estimate over ssh at {rtt:4.0f} ms RTT: bridge {bulk + bulk_rtts * rtt:8.0f} ms "
                  f"({bulk_rtts} RTT), one by one {manual + manual_calls * rtt:8.0f} ms ({manual_calls} RTT)")


def bench_test_driver(count: int, repeat: int) -> None:
    nodes = _load("nodes")
    spec = {f"vm{i:04d}": ((1, 3, 5, 6)[i % 4], i % 7 == 0 and i % 4 != 2, i % 4 == 2 and i % 2 == 0,
                           1 if i % 10 == 0 else 0) for i in range(count)}
    with tempfile.TemporaryDirectory() as tmp:
        node = Path(tmp) / "node.xml"
        node.write_text(nodes.node_xml(spec))
        with drivers.open(f"libvirt:test://{node}") as conn:
            for i, dom in enumerate(conn.list_all_domains(drivers.ListFlags.PERSISTENT)):
                if i % 3 == 0:
                    dom.autostart = True
            run("libvirt test driver, in-process (libvirt:test:///node.xml)", conn, repeat)


def bench_daemon(count: int, repeat: int) -> None:
    daemon = _load("daemon")
    reason = daemon.unavailable_reason()
    if reason:
        print(f"\nprivate libvirtd: skipped ({reason})")
        return
    d = daemon.PrivateLibvirtd("5c0c6d43-5a51-4c6a-9d1f-0000000000be", label="libvirtd-bench")
    d.start()
    try:
        with drivers.open(f"libvirt:{d.uri}") as conn:
            t0 = time.perf_counter()
            vconn = conn.vconn()
            for i in range(count):
                dom = vconn.defineXML(d.domain_xml(f"vm{i:04d}"))
                if i % 3 == 0:
                    dom.setAutostart(1)
            print(f"\n(defined {count} domains in {time.perf_counter() - t0:.1f} s)")
            for i in range(2):  # a couple of running guests, so stats cover both kinds
                vconn.lookupByName(f"vm{i:04d}").create()
            run("private libvirtd over its UNIX socket (qemu:///session)", conn, repeat)
    finally:
        d.stop()
        d.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mode", choices=("test", "daemon", "both"), default="both")
    args = parser.parse_args()
    if args.mode in ("test", "both"):
        bench_test_driver(args.count, args.repeat)
    if args.mode in ("daemon", "both"):
        bench_daemon(args.count, args.repeat)


if __name__ == "__main__":
    main()
