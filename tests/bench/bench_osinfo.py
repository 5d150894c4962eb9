#!/usr/bin/env python3
"""osinfo-db benchmarks: indexing its media volume ids, and naming an ISO once indexed; prints figures.

    python tests/bench/bench_osinfo.py [--runs N]

* the index: every ``os/**.xml`` file parsed with the hardened parser, only the
  media kept (what the New VM wizard pays once, in a worker, when it opens);
* one identification of a Debian and a Windows 11 volume id against the index,
  including the matched system's file and its ``<derives-from>`` parents;
* reading a real ISO's volume descriptors (xorriso makes it).

Not collected by pytest (no test_ functions). Needs the Debian package osinfo-db (and xorriso).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from isoimages import DEBIAN_11, MICROSOFT, WINDOWS_11, make_iso  # noqa: E402

from drivers.isoinfo import IsoInfo, read_iso_info  # noqa: E402
from drivers.osinfo import OsInfoDb  # noqa: E402


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if OsInfoDb().root is None:
        print("osinfo-db is not installed (Debian: osinfo-db)")
        return 1
    index, identify, descriptors = [], [], []
    media = 0
    with tempfile.TemporaryDirectory() as tmp:
        iso = make_iso(Path(tmp) / "debian.iso", DEBIAN_11)
        for _ in range(args.runs):
            db = OsInfoDb()
            t0 = time.perf_counter()
            media = len(db.media())
            index.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            assert db.identify(IsoInfo(DEBIAN_11)) is not None
            assert db.identify(IsoInfo(WINDOWS_11, publisher_id=MICROSOFT)) is not None
            identify.append((time.perf_counter() - t0) / 2)
            t0 = time.perf_counter()
            read_iso_info(str(iso))
            descriptors.append(time.perf_counter() - t0)
    print(f"osinfo-db at {OsInfoDb().root}: {media} x86 media")
    print(f"index of the media volume ids: {_ms(index)}")
    print(f"one identification (first time, parents read): {_ms(identify)}")
    print(f"reading an ISO's volume descriptors: {_ms(descriptors)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
