"""Benchmark: list_all_domains and get_all_domain_stats on 10,000 test-driver domains.

Run: python tests/bench/bench_core.py [N]   (prints figures; the target is < 20 ms per call)

Figures are printed twice: with CPython's default garbage collector, whose full
collections (triggered by the 10,000 records a call allocates) make the p95,
and after ``gc.freeze()`` of the loaded state, which is what a long-running
client such as the GUI does once its table is populated.
"""
from __future__ import annotations

import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nodegen import node_xml

import drivers
from drivers import ListFlags


def measure(fn, rounds: int = 40) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        node = Path(tmp) / "node.xml"
        node.write_text(node_xml(count))
        t0 = time.perf_counter()
        conn = drivers.open(f"test://{node}")
        print(f"opened {count} domains in {time.perf_counter() - t0:.2f} s (parse + validate node XML)")
        cases = {
            "list_all_domains(0)": lambda: conn.list_all_domains(0),
            "list_all_domains(RUNNING|AUTOSTART)": lambda: conn.list_all_domains(
                ListFlags.RUNNING | ListFlags.AUTOSTART),
            "get_all_domain_stats(0)": lambda: conn.get_all_domain_stats(0),
            "get_all_domain_stats(INACTIVE|NO_SNAPSHOT)": lambda: conn.get_all_domain_stats(
                ListFlags.INACTIVE | ListFlags.NO_SNAPSHOT),
        }
        for label in ("default gc", "after gc.freeze()"):
            if label != "default gc":
                gc.collect()
                gc.freeze()
            print(f"-- {label}")
            for name, fn in cases.items():
                n = len(fn())
                med, p95 = measure(fn)
                verdict = "ok" if p95 < 20 else "OVER TARGET"
                print(f"{name:45s} {n:6d} rows  median {med:6.2f} ms  p95 {p95:6.2f} ms  "
                      f"(target < 20 ms: {verdict})")
        conn.close()


if __name__ == "__main__":
    main()
