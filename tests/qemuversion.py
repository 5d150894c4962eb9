"""The version a QEMU binary reports (``--version``), to check the drivers' answers against."""
from __future__ import annotations

import re
import subprocess


def binary_version(binary: str) -> tuple[int, int, int]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"version (\d+)\.(\d+)\.(\d+)", out)
    assert found, f"{binary} --version said: {out!r}"
    return int(found[1]), int(found[2]), int(found[3])


def live_copy_sentence(version: tuple[int, int, int]) -> str | None:
    """What the drivers answer for a TCG guest on this QEMU (None: a live copy is safe)."""
    if version >= (9, 0, 0):
        return None
    return (f"QEMU {'.'.join(map(str, version))} under TCG emulation loses guest memory writes made while a live "
            "migration copies memory (fixed in QEMU 9.0), so the guest is paused during the copy")
