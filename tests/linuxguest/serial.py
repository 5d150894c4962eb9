"""Reading what the Linux test guest printed on its serial console."""
from __future__ import annotations

import re
import time
from pathlib import Path

_RAM = re.compile(rb"VMGUI RAM (ok|BAD) (\d+)")
_DISK = re.compile(rb"VMGUI DISK (\d+)")
# What a damaged guest kernel prints (list_del corruption, BUG, oops, panics, bad page state).
_KERNEL_TROUBLE = re.compile(rb"[^\n]*(?:corruption|kernel BUG|BUG:|Oops|general protection|"
                             rb"Kernel panic|Bad page|segfault|soft lockup|rcu_sched detected)[^\n]*")


class GuestSerial:
    """The guest's serial log (a file QEMU writes), parsed on each call."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def text(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError:
            return b""

    def boots(self) -> int:
        return self.text().count(b"VMGUI BOOT ")

    def ram_checks(self) -> tuple[int, int]:
        """(checks that passed, checks that failed) of the RAM workload."""
        found = _RAM.findall(self.text())
        return sum(1 for r, _ in found if r == b"ok"), sum(1 for r, _ in found if r == b"BAD")

    def last_disk_record(self) -> int:
        """The number of the last record the disk workload reported synced (-1: none)."""
        found = _DISK.findall(self.text())
        return int(found[-1]) if found else -1

    def kernel_trouble(self) -> list[str]:
        return [m.group(0).decode(errors="replace").strip() for m in _KERNEL_TROUBLE.finditer(self.text())]

    def wait_for(self, pattern: bytes, timeout: float = 60.0, count: int = 1) -> None:
        """Wait until ``pattern`` occurs ``count`` times in the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.text().count(pattern) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} x{count} not in {self.path} within {timeout} s; "
                             f"tail: {self.text()[-600:]!r}")

    def wait_ram_ok(self, more: int = 1, timeout: float = 60.0) -> int:
        """Wait until ``more`` further RAM checks passed; fails at the first failed check or kernel trouble."""
        start = self.ram_checks()[0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ok, bad = self.ram_checks()
            trouble = self.kernel_trouble()
            assert not bad and not trouble, f"guest memory damaged: {bad} failed RAM checks; {trouble[:5]}"
            if ok >= start + more:
                return ok
            time.sleep(0.05)
        raise AssertionError(f"the RAM workload did not pass {more} more checks within {timeout} s "
                             f"(at {self.ram_checks()}); tail: {self.text()[-600:]!r}")

    def wait_disk_record(self, above: int, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = self.last_disk_record()
            if last > above:
                return last
            time.sleep(0.02)
        raise AssertionError(f"no disk record above {above} within {timeout} s")
