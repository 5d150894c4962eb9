"""Checking the disk workload's records in a disk image (qcow2 or raw)."""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

RECORD = 512
_BODY = re.compile(rb"(VMGUIREC (\d{8}) ([0-9a-f-]{36})) ([0-9a-f]{32})")


@dataclass(frozen=True)
class DiskRecords:
    """The records found, in order from the start of the disk."""

    count: int            # records 0..count-1 are whole and checksummed
    boot_id: str | None   # the boot that wrote them
    torn: list[int]       # record slots that hold a damaged record
    after_gap: list[int]  # whole records found beyond the first empty slot


def read_records(image: Path | str, fmt: str | None = None, max_records: int = 1 << 16) -> DiskRecords:
    """Parse the records of ``image``; qcow2 is read through ``qemu-img convert -U``."""
    data = _raw_bytes(Path(image), fmt, max_records * RECORD)
    count, boot, torn, after_gap = 0, None, [], []
    gap = False
    for slot in range(min(len(data) // RECORD, max_records)):
        block = data[slot * RECORD:(slot + 1) * RECORD]
        if not block.strip(b"\0"):
            gap = True
            continue
        m = _BODY.match(block)
        whole = (m is not None and int(m.group(2)) == slot and block.endswith(b"\n")
                 and hashlib.md5(m.group(1)).hexdigest().encode() == m.group(4))
        if not whole:
            torn.append(slot)
        elif gap:
            after_gap.append(slot)
        else:
            count += 1
            boot = m.group(3).decode()
    return DiskRecords(count, boot, torn, after_gap)


def _raw_bytes(image: Path, fmt: str | None, limit: int) -> bytes:
    if fmt is None:
        with open(image, "rb") as fh:
            fmt = "qcow2" if fh.read(4) == b"QFI\xfb" else "raw"
    if fmt == "raw":
        with open(image, "rb") as fh:
            return fh.read(limit)
    qemu_img = shutil.which("qemu-img") or "qemu-img"
    with tempfile.TemporaryDirectory(prefix="vmgui-records-") as tmp:
        raw = Path(tmp) / "disk.raw"
        subprocess.run([qemu_img, "convert", "-U", "-f", fmt, "-O", "raw", str(image), str(raw)], check=True)
        with open(raw, "rb") as fh:
            return fh.read(limit)
