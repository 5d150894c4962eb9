"""A process that opens a root, starts one job on a running VM and stops at a chosen point to be SIGKILLed.

Run by test_qemu_interrupted_jobs.py as ``python interrupted_child.py JSON``, JSON holding:
``uri``, ``name`` (a running domain), ``job`` (save, managed_save, backup, migrate), ``stop``
(where to wait: ``progress`` once ``fraction`` of the job is done, or in front of a driver step:
``before_stream``, ``while_creating`` (a backup's image made by QEMU), ``before_transaction``,
``before_publish``, ``before_finish``, ``before_confirm``),
``speed`` (bytes/s the copy is throttled to), ``target`` (save image), ``backup_xml``, ``dest_uri``
and ``live`` (migration, live unless false). It prints ``stopped`` once there and sleeps until killed.
"""
from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import drivers
from drivers import DriverError, JobFlags, MigrateFlags
from drivers.qemu import backup, migration, partfiles, streams


def _halt_before(module: Any, name: str, reached: threading.Event, when: Any = None) -> None:
    """Make ``module.name`` announce itself and never return (when ``when(*args)`` holds)."""
    original = getattr(module, name)

    def halted(*args: Any, **kwargs: Any) -> Any:
        if when is None or when(*args, **kwargs):
            reached.set()
            time.sleep(3600)
        return original(*args, **kwargs)

    setattr(module, name, halted)


def _throttle_streams(speed: int) -> None:
    """Saves stream at ``speed`` bytes/s instead of as fast as QEMU can."""
    original = streams.prepare
    streams.prepare = lambda vm, bandwidth_bytes=None: original(vm, bandwidth_bytes or speed)


def _throttle_backups(speed: int) -> None:
    """Backups copy at ``speed`` bytes/s from their first byte: QEMU's copy starts inside
    backup_begin, before a job_set_speed could reach it."""
    original = backup._with_perf

    def throttled(action: dict[str, Any]) -> dict[str, Any]:
        action["data"]["speed"] = speed  # in place: the fallback without x-perf sends it too
        return original(action)
    backup._with_perf = throttled


def main(spec: dict[str, Any]) -> None:
    reached = threading.Event()
    stop = spec["stop"]
    if stop == "before_stream":
        _halt_before(streams, "run_outgoing", reached)
    elif stop == "while_creating":  # the node QEMU makes the image through is open
        _halt_before(backup, "run_qemu_job", reached)
    elif stop == "before_transaction":
        _halt_before(backup, "_with_perf", reached)
    elif stop == "before_publish":
        _halt_before(partfiles, "publish", reached)
    elif stop == "before_finish":
        _halt_before(migration, "finish", reached, lambda conn, cookie, flags, cancelled: not cancelled)
    elif stop == "before_confirm":
        _halt_before(migration, "confirm", reached, lambda conn, dom, flags, cancelled: not cancelled)
    if spec["job"] in ("save", "managed_save"):
        _throttle_streams(int(spec.get("speed") or 0))
    if spec["job"] == "backup" and spec.get("speed"):
        _throttle_backups(int(spec["speed"]))
    conn = drivers.open(spec["uri"])
    dom = conn.lookup_by_name(spec["name"])
    if spec["job"] == "save":
        job_id = dom.save(spec["target"], JobFlags.ASYNC)
    elif spec["job"] == "managed_save":
        job_id = dom.managed_save(JobFlags.ASYNC)
    elif spec["job"] == "backup":
        # its own thread: halted before the transaction, backup_begin never returns
        threading.Thread(target=dom.backup_begin, args=(spec["backup_xml"],), daemon=True).start()
        job_id = 0
    else:
        dest = drivers.open(spec["dest_uri"])
        params = {"bandwidth": spec["speed"] / (1 << 20)} if spec.get("speed") else {}
        flags = MigrateFlags.LIVE if spec.get("live", True) else MigrateFlags(0)
        threading.Thread(target=dom.migrate, args=(dest, flags, params), daemon=True).start()
        job_id = 0
    if stop == "progress":
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                info = dom.get_job_info(job_id)
            except DriverError:  # the migration thread has not begun its job yet
                info = None
            if info is not None and info.total and info.processed >= spec["fraction"] * info.total:
                break
            time.sleep(0.02)
        else:
            print(f"{spec['job']} never got {spec['fraction']:.0%} done", flush=True)
            return
    elif not reached.wait(120):
        print(f"never reached {stop}", flush=True)
        return
    print("stopped", flush=True)
    time.sleep(3600)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
