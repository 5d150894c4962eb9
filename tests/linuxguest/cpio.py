"""A writer of the newc cpio format the kernel unpacks as an initramfs (no root needed for nodes)."""
from __future__ import annotations

import stat
from typing import BinaryIO


class CpioWriter:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._ino = 1
        self._written = 0

    def directory(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755, b"", nlink=2)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def char_device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, stat.S_IFCHR | 0o600, b"", rdev=(major, minor))

    def close(self) -> None:
        self._entry("TRAILER!!!", 0, b"", ino=0)
        self._pad(512)

    def _entry(self, name: str, mode: int, data: bytes, *, nlink: int = 1,
               rdev: tuple[int, int] = (0, 0), ino: int | None = None) -> None:
        raw_name = name.encode() + b"\0"
        if ino is None:
            ino, self._ino = self._ino, self._ino + 1
        fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(raw_name), 0)
        self._write(b"070701" + b"".join(b"%08X" % f for f in fields) + raw_name)
        self._pad(4)
        self._write(data)
        self._pad(4)

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._written += len(data)

    def _pad(self, unit: int) -> None:
        self._write(b"\0" * (-self._written % unit))
