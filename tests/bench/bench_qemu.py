#!/usr/bin/env python3
"""Benchmarks of qemu:///embed against the bare tools; prints figures.

    python tests/bench/bench_qemu.py [--runs N] [--disk-mib M] [--guest-mib G] [--only NAME ...]

* start to running: ``dom.create()`` until it returns with the domain running
  (QEMU under the lock supervisor, QMP connected). Target: under 300 ms.
* backup throughput: ``backup_begin`` of an image full of data, against
  ``cp`` + ``sync`` of the same image. Target: at least 0.9x.
* migration: ``dom.migrate`` between two roots, against a raw QMP migration
  of the same guest (the destination QEMU started by hand, ``migrate`` over
  loopback, ``cont``). Target: within 1.1x.
* clone: ``clone_domain`` of a shut-off domain whose image is full of data (a full copy:
  data extents copied in the kernel, fsync, the clone defined), against ``cp`` + ``sync``
  (target: at least 0.9x); a linked clone (one qcow2 overlay); a running domain's full clone
  (a push backup of its disk, then the definition).
* console: a byte written with ``Console.write`` until the guest's echo comes
  back through ``Console.read`` (socket -> QEMU -> guest UART -> log + socket),
  and ``dom.screenshot()`` of the 720x400 VGA text screen (QMP screendump).

Not collected by pytest (no test_ functions). Needs qemu-system-x86_64,
qemu-img and gcc (the test guest is built on the fly).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "tests"))  # after the repository: tests/drivers must not shadow drivers
sys.path.insert(0, str(REPO / "tests" / "e2e" / "guest"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))


def _xml(name: str, kernel: str, serial: Path, mem_mib: int, disk: str | None = None) -> str:
    disk_xml = (f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>"
                f"<target dev='vda' bus='virtio'/></disk>") if disk else ""
    return (f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>{mem_mib}</memory><vcpu>1</vcpu>"
            f"<os><type arch='x86_64' machine='q35'>hvm</type><kernel>{kernel}</kernel></os>"
            f"<devices>{disk_xml}<serial type='file'><source path='{serial}'/></serial></devices></domain>")


def _wait_serial(path: Path, word: bytes, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if word in path.read_bytes():
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{word!r} never appeared in {path}")


def _wait_job(dom, job_id: int) -> object:
    while True:
        info = dom.get_job_info(job_id)
        if info.finished:
            return info
        time.sleep(0.005)


def bench_start(drivers, base: Path, kernel: str, runs: int) -> list[float]:
    conn = drivers.open(f"qemu:///embed?root={base / 'start'}")
    try:
        dom = conn.define_xml(_xml("bench-start", kernel, base / "start.serial", 32))
        times = []
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            dom.create()
            times.append(time.perf_counter() - t0)
            assert dom.state()[0] == drivers.DomainState.RUNNING
            dom.destroy()
        return times[1:]  # the first run warms caches
    finally:
        conn.close()


def bench_console(drivers, base: Path, kernel: str, runs: int) -> tuple[list[float], list[float]]:
    conn = drivers.open(f"qemu:///embed?root={base / 'console'}")
    try:
        xml = _xml("bench-con", kernel, base / "con.serial", 32).replace(
            "</devices>", "<graphics type='vnc'/></devices>")
        dom = conn.create_xml(xml)
        _wait_serial(base / "con.serial", b"HB 1")
        echo, shots = [], []
        with dom.open_console() as console:
            for i in range(runs * 4 + 1):
                marker = f"<{i:04d}>".encode()
                t0 = time.perf_counter()
                console.write(marker)
                seen = b""
                while marker not in seen:
                    seen += console.read(timeout=5)
                echo.append(time.perf_counter() - t0)
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            shot = dom.screenshot()
            shots.append(time.perf_counter() - t0)
            assert shot.width == 720
        dom.destroy()
        return echo[1:], shots[1:]
    finally:
        conn.close()


def bench_backup(drivers, base: Path, kernel: str, disk_mib: int, runs: int) -> tuple[list[float], list[float]]:
    from e2e_helpers import backup_xml, make_qcow2
    disk = make_qcow2(base / "bk-src.qcow2", size_mib=disk_mib, fill_mib=disk_mib)
    conn = drivers.open(f"qemu:///embed?root={base / 'backup'}")
    ours, cp = [], []
    try:
        dom = conn.define_xml(_xml("bench-backup", kernel, base / "bk.serial", 32, disk))
        dom.create()
        for i in range(runs):
            target = base / f"bk-{i}.qcow2"
            subprocess.run(["sync"], check=True)
            t0 = time.perf_counter()
            job = dom.backup_begin(backup_xml(str(target)))
            info = _wait_job(dom, job)
            subprocess.run(["sync"], check=True)
            ours.append(time.perf_counter() - t0)
            assert info.state == drivers.JobState.COMPLETED, info.error
            target.unlink()
            copy = base / f"cp-{i}.qcow2"
            subprocess.run(["sync"], check=True)
            t0 = time.perf_counter()
            subprocess.run(["cp", disk, str(copy)], check=True)
            subprocess.run(["sync"], check=True)
            cp.append(time.perf_counter() - t0)
            copy.unlink()
        dom.destroy()
    finally:
        conn.close()
    return ours, cp


def bench_migration(drivers, base: Path, kernel: str, guest_mib: int, runs: int) -> tuple[list[float], list[float]]:
    a = drivers.open(f"qemu:///embed?root={base / 'mig-a'}")
    b = drivers.open(f"qemu:///embed?root={base / 'mig-b'}")
    ours = []
    try:
        serial = base / "mig.serial"
        dom = a.define_xml(_xml("bench-mig", kernel, serial, guest_mib))
        dom.create()
        _wait_serial(serial, b"FILLED")
        src, dst = a, b
        raw = []
        for i in range(runs):  # interleaved, so both see the same machine load
            t0 = time.perf_counter()
            # UNSAFE: a live copy like the raw one, also where the driver would copy paused
            # (TCG before QEMU 9.0); this guest checks nothing, it only measures the overhead
            dom = dom.migrate(dst, drivers.MigrateFlags.LIVE | drivers.MigrateFlags.UNSAFE)
            ours.append(time.perf_counter() - t0)
            src, dst = dst, src
            dom.suspend()  # no CPU for our guest while the raw one runs
            raw.append(asyncio.run(_raw_migration(base, kernel, guest_mib, i)))
            dom.resume()
            time.sleep(0.5)  # let it dirty pages again
        dom.destroy()
    finally:
        a.close()
        b.close()
    return ours, raw


async def _raw_migration(base: Path, kernel: str, guest_mib: int, i: int) -> float:
    """The same guest migrated with nothing but QEMU and QMP (same flags as the driver's)."""
    from qemu.qmp import QMPClient
    qemu = shutil.which("qemu-system-x86_64")
    serial = base / f"raw{i}.serial"

    def argv(sock: Path, incoming: bool) -> list[str]:
        cmd = [qemu, "-machine", "q35,accel=tcg", "-m", f"{guest_mib}M", "-smp", "1", "-nodefaults",
               "-no-user-config", "-display", "none", "-kernel", kernel,
               "-chardev", f"socket,id=qmp,path={sock},server=on,wait=off", "-mon", "chardev=qmp,mode=control",
               "-chardev", f"file,id=s0,path={serial},append=on", "-serial", "chardev:s0"]
        return cmd + (["-S", "-incoming", "defer"] if incoming else [])

    async def connect(sock: Path) -> QMPClient:
        client = QMPClient("raw")
        for _ in range(500):
            if sock.exists():
                try:
                    await client.connect(str(sock))
                    return client
                except Exception:  # noqa: BLE001
                    pass
            await asyncio.sleep(0.005)
        raise RuntimeError("no QMP socket")

    asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: None)  # EOF after quit is expected
    s_sock, d_sock = base / f"rs{i}.qmp", base / f"rd{i}.qmp"
    src = subprocess.Popen(argv(s_sock, False), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dst = None
    try:
        qs = await connect(s_sock)
        while not serial.exists() or b"FILLED" not in serial.read_bytes():
            await asyncio.sleep(0.02)
        t0 = time.perf_counter()
        dst = subprocess.Popen(argv(d_sock, True), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        qd = await connect(d_sock)
        for q in (qs, qd):
            await q.execute("migrate-set-capabilities",
                            {"capabilities": [{"capability": "events", "state": True}]})
            await q.execute("migrate-set-parameters", {"max-bandwidth": 1 << 40})
        await qd.execute("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
        port = (await qd.execute("query-migrate"))["socket-address"][0]["port"]
        await qs.execute("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
        while (await qs.execute("query-migrate"))["status"] != "completed":
            await asyncio.sleep(0.05)
        while (await qd.execute("query-status"))["status"] == "inmigrate":
            await asyncio.sleep(0.05)
        await qd.execute("cont")
        await qs.execute("quit")
        elapsed = time.perf_counter() - t0
        await qd.execute("quit")
        for q in (qs, qd):
            try:
                await q.disconnect()
            except Exception:  # noqa: BLE001
                pass
        return elapsed
    finally:
        for p in (src, dst):
            if p is not None:
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def bench_clone(drivers, base: Path, kernel: str, disk_mib: int, runs: int) -> dict[str, list[float]]:
    """Seconds per full clone (and per ``cp`` + ``sync`` of the image), linked clone and running clone."""
    from e2e_helpers import make_qcow2

    from drivers.domxml import DomainXML
    disk = make_qcow2(base / "cl-src.qcow2", size_mib=disk_mib, fill_mib=disk_mib)
    conn = drivers.open(f"qemu:///embed?root={base / 'clone'}")
    times: dict[str, list[float]] = {"full": [], "cp": [], "linked": [], "running": []}
    try:
        dom = conn.define_xml(_xml("bench-clone", kernel, base / "cl.serial", 32, disk))
        for i in range(runs):
            for kind, flags in (("full", 0), ("linked", drivers.CloneFlags.LINKED), ("running", 0)):
                if kind == "running":
                    writable = DomainXML.parse(dom.xml_desc(drivers.DomainXMLFlags.INACTIVE))
                    writable.disk("vda").readonly = False  # the linked runs made it a base
                    conn.define_xml(writable.to_string())
                    dom.create()
                subprocess.run(["sync"], check=True)
                t0 = time.perf_counter()
                conn.clone_domain(dom, f"c-{kind}-{i}", flags)
                subprocess.run(["sync"], check=True)
                times[kind].append(time.perf_counter() - t0)
                clone = conn.lookup_by_name(f"c-{kind}-{i}")
                clone.undefine(drivers.UndefineFlags.NVRAM)
                (base / f"c-{kind}-{i}-vda.qcow2").unlink()
                if kind == "running":
                    dom.destroy()
            copy = base / f"cl-cp-{i}.qcow2"
            subprocess.run(["sync"], check=True)
            t0 = time.perf_counter()
            subprocess.run(["cp", disk, str(copy)], check=True)
            subprocess.run(["sync"], check=True)
            times["cp"].append(time.perf_counter() - t0)
            copy.unlink()
    finally:
        conn.close()
    return times


BENCHES = ("start", "console", "backup", "migration", "clone")


def _fmt(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms (min {min(values) * 1000:.1f}, " \
           f"max {max(values) * 1000:.1f}, n={len(values)})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--disk-mib", type=int, default=256)
    ap.add_argument("--guest-mib", type=int, default=256)
    ap.add_argument("--only", nargs="+", choices=BENCHES, default=list(BENCHES), help="the benchmarks to run")
    args = ap.parse_args(argv)
    if not shutil.which("qemu-system-x86_64") or not shutil.which("qemu-img"):
        print("qemu-system-x86_64 and qemu-img are needed (Debian: qemu-system-x86 qemu-utils)")
        return 2
    import build_guest
    base = Path(tempfile.mkdtemp(prefix="vqb-", dir="/tmp"))
    os.chmod(base, 0o700)
    (base / "run").mkdir(mode=0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(base / "run")
    os.environ["VMGUI_LOCKSPACE"] = str(base / "lockspace")
    import drivers
    try:
        kernel = build_guest.build(str(base / "guest.elf"))
        if "start" in args.only:
            start = bench_start(drivers, base, kernel, args.runs)
            print(f"start to running:    {_fmt(start)}   target < 300 ms: "
                  f"{'OK' if statistics.median(start) < 0.3 else 'MISSED'}")
        if "console" in args.only:
            echo, shots = bench_console(drivers, base, kernel, args.runs)
            print(f"console echo:        {_fmt(echo)}")
            print(f"screenshot 720x400:  {_fmt(shots)}")
        mib = args.disk_mib
        if "backup" in args.only:
            ours, cp = bench_backup(drivers, base, kernel, args.disk_mib, args.runs)
            r_ours, r_cp = mib / statistics.median(ours), mib / statistics.median(cp)
            print(f"backup {mib} MiB:      {r_ours:.0f} MiB/s ({_fmt(ours)})")
            print(f"cp + sync {mib} MiB:   {r_cp:.0f} MiB/s ({_fmt(cp)})")
            verdict = "OK" if r_ours / r_cp >= 0.9 else "MISSED"
            print(f"backup / cp ratio:   {r_ours / r_cp:.2f}x   target >= 0.9x: {verdict}"
                  f"   (best runs: {min(cp) / min(ours):.2f}x)")
        if "migration" in args.only:
            ours, raw = bench_migration(drivers, base, kernel, args.guest_mib, args.runs)
            ratio = statistics.median(ours) / statistics.median(raw)
            print(f"migrate {args.guest_mib} MiB guest: {_fmt(ours)}")
            print(f"raw QMP migration:   {_fmt(raw)}")
            print(f"migration ratio:     {ratio:.2f}x   target <= 1.1x: {'OK' if ratio <= 1.1 else 'MISSED'}"
                  f"   (best runs: {min(ours) / min(raw):.2f}x)")
        if "clone" in args.only:
            t = bench_clone(drivers, base, kernel, args.disk_mib, args.runs)
            r_full, r_cp = mib / statistics.median(t["full"]), mib / statistics.median(t["cp"])
            print(f"full clone {mib} MiB:  {r_full:.0f} MiB/s ({_fmt(t['full'])})")
            print(f"cp + sync {mib} MiB:   {r_cp:.0f} MiB/s ({_fmt(t['cp'])})")
            print(f"clone / cp ratio:    {r_full / r_cp:.2f}x   target >= 0.9x: "
                  f"{'OK' if r_full / r_cp >= 0.9 else 'MISSED'}   (best runs: {min(t['cp']) / min(t['full']):.2f}x)")
            print(f"linked clone:        {_fmt(t['linked'])}")
            print(f"running full clone:  {mib / statistics.median(t['running']):.0f} MiB/s ({_fmt(t['running'])})")
        print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: medians move with other work "
              "on the machine; the best runs show the cost of the code itself)")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
