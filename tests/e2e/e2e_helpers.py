"""Helpers of the real-QEMU tests (imported by the tests; conftest puts this folder on sys.path)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from refusals import refused  # noqa: F401 - the e2e tests call it as h.refused

QEMU = shutil.which("qemu-system-x86_64")
QEMU_IMG = shutil.which("qemu-img")

_HB = re.compile(rb"HB (\d+)")


def heartbeat(path: Path | str) -> int:
    """The last heartbeat number the guest printed (0 if none yet)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return 0
    found = _HB.findall(data[-4096:])
    return int(found[-1]) if found else 0


_HB_LINE = re.compile(r"HB \d+\n")


def without_heartbeats(text: str) -> str:
    """The test guest's output without its heartbeat lines.

    The guest echoes input a byte at a time, as QEMU's UART hands it over, and
    its heartbeat timer keeps printing meanwhile: a line printed between two
    echoed bytes splits the echo ("pHB 5\ning-7"). Without those lines the echo
    reads as it was typed.
    """
    return _HB_LINE.sub("", text)


def wait_heartbeat(path: Path | str, above: int, timeout: float = 20.0) -> int:
    """Wait until the guest printed a heartbeat greater than ``above``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hb = heartbeat(path)
        if hb > above:
            return hb
        time.sleep(0.05)
    raise AssertionError(f"no heartbeat above {above} in {path} within {timeout} s (last {heartbeat(path)})")


def wait_until(cond, timeout: float = 60.0) -> bool:
    """Poll ``cond()`` until it is true (True) or ``timeout`` s passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def boots(path: Path | str) -> int:
    try:
        return Path(path).read_bytes().count(b"BOOT mem=")
    except OSError:
        return 0


def make_qcow2(path: Path, size_mib: int = 16, fill_mib: int = 0) -> str:
    """A qcow2 image; with ``fill_mib`` its first MiBs hold a non-zero pattern."""
    if fill_mib:
        raw = path.with_suffix(".raw")
        block = (bytes(range(256)) * 4096)  # 1 MiB, non-zero
        with open(raw, "wb") as fh:
            for i in range(fill_mib):
                fh.write(block[i % 256:] + block[:i % 256])
            fh.truncate(size_mib * 1024 * 1024)
        subprocess.run([QEMU_IMG, "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(path)], check=True)
        raw.unlink()
    else:
        subprocess.run([QEMU_IMG, "create", "-q", "-f", "qcow2", str(path), f"{size_mib}M"], check=True)
    return str(path)


def backup_xml(target: Path | str, dev: str = "vda", fmt: str = "qcow2") -> str:
    """A push backup of disk ``dev`` to ``target``."""
    return (f"<domainbackup mode='push'><disks><disk name='{dev}' type='file'><target file='{target}'/>"
            f"<driver type='{fmt}'/></disk></disks></domainbackup>")


def throttle_backups(monkeypatch, speed: int) -> None:
    """Backups of this process copy at ``speed`` bytes/s from their first byte.

    QEMU's copy starts inside ``backup_begin`` (the backup's point in time), so a
    ``job_set_speed`` after it returns comes late for a test that wants to catch
    the copy midway.
    """
    from drivers.qemu import backup
    original = backup._with_perf

    def throttled(action: dict) -> dict:
        action["data"]["speed"] = speed  # in place: the fallback without x-perf sends it too
        return original(action)
    monkeypatch.setattr(backup, "_with_perf", throttled)


def part_files(target: Path) -> list[Path]:
    """The temporary files a save or backup to ``target`` writes until it completes."""
    return sorted(target.parent.glob(f".{target.name}.*.part"))


class EventLog:
    """Collects (type name, detail) of every event of a connection."""

    def __init__(self, conn) -> None:
        self.events: list = []
        conn.register_event_callback(lambda c, d, e: self.events.append(e))

    def kinds(self, name: str | None = None) -> list[tuple[str, int]]:
        return [(e.type.name, e.detail) for e in self.events
                if e.type.name != "JOB" and (name is None or e.domain_name == name)]

    def wait_for(self, kind: str, detail: int | None = None, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events:
                if e.type.name == kind and (detail is None or e.detail == detail):
                    return e
            time.sleep(0.02)
        raise AssertionError(f"no {kind} event (detail {detail}) within {timeout} s; got {self.kinds()}")


def command_line(pid: int) -> str:
    """The command line of process ``pid`` ("" once it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def processes_under(marker: str) -> list[int]:
    """QEMU, supervisor and fork-server processes that belong to ``marker`` (a test's base dir).

    Matched by command line, or by environment for supervisors forked by the
    lock manager's fork server (they inherit the test's XDG_RUNTIME_DIR).
    """
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read().decode("utf-8", "replace")
        except OSError:
            continue
        ours = marker in cmd or marker in environ
        if ours and ("qemu-system" in cmd or "drivers.locking.supervisor" in cmd
                     or "drivers.locking.forkserver" in cmd):
            pids.append(int(entry))
    return pids
