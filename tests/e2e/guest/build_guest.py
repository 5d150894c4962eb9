"""Build the e2e test guest (a multiboot ELF kernel) with gcc.

``python tests/e2e/guest/build_guest.py OUT`` or ``build(out_path)`` from a test.
Needs only gcc and binutils: the kernel is freestanding (no libc), so
``-m32 -ffreestanding -nostdlib`` works without gcc-multilib.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CFLAGS = ["-m32", "-ffreestanding", "-nostdlib", "-fno-pic", "-fno-pie", "-no-pie",
          "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-O2", "-Wall"]


class BuildError(RuntimeError):
    pass


def build(out: str, cc: str | None = None) -> str:
    """Compile and link the guest kernel to ``out``; returns ``out``."""
    cc = cc or os.environ.get("CC") or "gcc"
    if shutil.which(cc) is None:
        raise BuildError(f"{cc} not found: install gcc to build the test guest")
    with tempfile.TemporaryDirectory(prefix="vmgui-guest-") as tmp:
        objs = []
        for src in ("boot.S", "kernel.c"):
            obj = os.path.join(tmp, src + ".o")
            _run([cc, *CFLAGS, "-c", os.path.join(HERE, src), "-o", obj])
            objs.append(obj)
        _run([cc, *CFLAGS, "-Wl,--build-id=none", "-Wl,-z,noexecstack", "-T", os.path.join(HERE, "link.ld"),
              "-o", out, *objs])
    return out


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(cmd)} failed:\n{proc.stderr}")


if __name__ == "__main__":
    print(build(sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.gettempdir(), "vmgui-guest.elf")))
