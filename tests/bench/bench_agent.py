#!/usr/bin/env python3
"""Benchmarks of the guest agent on qemu:///embed; prints figures.

    python tests/bench/bench_agent.py [--runs N]

Boots the Linux test guest (tests/linuxguest, ``vmgui.work=agent``: Debian's
qemu-ga) with a NIC and a mounted data disk, then times what the details pane
and a backup ask of the agent: ``interface_addresses()``, ``guest_info()`` (three
agent commands), ``fs_freeze()`` + ``fs_thaw()``, and a call to a guest whose
agent is not connected (refused at once, without waiting). Every agent command
includes its guest-sync-delimited handshake.

Not collected by pytest (no test_ functions). Needs qemu-system-x86_64 and qemu-img.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "tests"))  # after the repository: tests/drivers must not shadow drivers

import linuxguest  # noqa: E402
from embedhost import private_embed_host  # noqa: E402

import drivers  # noqa: E402
from drivers.domxml import GUEST_AGENT_CHANNEL, Channel, CharDevice, Disk, DomainXML, Interface  # noqa: E402


def _domain(name: str, base: Path, work: str) -> str:
    guest = linuxguest.build()
    data = base / f"{name}.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(data), "32M"], check=True)
    dom = DomainXML.new(name, 256 * 1024)
    dom.set_direct_boot(guest.kernel, guest.initrd, guest.cmdline(*([work] if work else []),
                                                                  extra="vmgui.fs=/dev/vda"))
    for device in (Disk("vda", source=str(data), format="qcow2"), Interface("user", model="virtio"),
                   CharDevice("serial", "file", path=str(base / f"{name}.serial"), target_port=0),
                   Channel(name=GUEST_AGENT_CHANNEL)):
        dom.add_device(device)
    return dom.to_string()


def _times(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        out.append(time.perf_counter() - began)
    return out


def _fmt(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    return f"median {statistics.median(ms):7.1f} ms  (min {ms[0]:.1f}, max {ms[-1]:.1f}, n={len(ms)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    with private_embed_host("vmgui-bench-agent-") as (base, conn):
        dom = conn.define_xml(_domain("agent", base, "agent"))
        silent = conn.define_xml(_domain("silent", base, ""))
        dom.create()
        silent.create()
        deadline = time.monotonic() + 180
        while not dom.agent_connected():
            if time.monotonic() > deadline:
                print("the guest agent did not connect")
                return 1
            time.sleep(0.2)
        dom.guest_info()  # warm: the first command connects
        print(f"interface_addresses: {_fmt(_times(dom.interface_addresses, args.runs))}")
        print(f"guest_info (3 cmds): {_fmt(_times(dom.guest_info, args.runs))}")
        print(f"fs_freeze + fs_thaw: {_fmt(_times(lambda: (dom.fs_freeze(), dom.fs_thaw()), args.runs))}")

        def refused() -> None:
            try:
                silent.interface_addresses()
            except drivers.DriverError:
                pass
        print(f"no agent (refused):  {_fmt(_times(refused, args.runs))}")
        print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; the guest runs under TCG)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
