"""Save images: a small header (domain XML, run state) then QEMU's migration stream.

Layout: MAGIC, 4-byte big-endian header length, JSON header, zero padding up
to DATA_OFFSET; QEMU writes its stream from DATA_OFFSET on (through an fd
positioned there, since QEMU 7.2 has no ``file:`` migration URI).
"""
from __future__ import annotations

import json
import os
import struct
from typing import Any

from ..errors import DriverError, ErrorCode, invalid_arg

MAGIC = b"VMGUI-QemuSave\x00\x01"
DATA_OFFSET = 64 * 1024


def header_bytes(xml: str, paused: bool, **extra: Any) -> bytes:
    body = json.dumps({"xml": xml, "paused": paused, **extra}).encode()
    head = MAGIC + struct.pack(">I", len(body)) + body
    if len(head) > DATA_OFFSET:
        raise DriverError(ErrorCode.OPERATION_FAILED, "the domain XML is too large for a save image header")
    return head + b"\0" * (DATA_OFFSET - len(head))


def read_header(path: str) -> dict[str, Any]:
    if not isinstance(path, str) or not os.path.isabs(path) or "\x00" in path:
        raise invalid_arg(f"restore needs an absolute file path, not {path!r}")
    try:
        with open(path, "rb") as fh:
            head = fh.read(DATA_OFFSET)
    except OSError as exc:
        raise invalid_arg(f"cannot read save image {path}: {exc.strerror}") from None
    if not head.startswith(MAGIC) or len(head) < DATA_OFFSET:
        raise invalid_arg(f"{path} is not a vmgui QEMU save image")
    (length,) = struct.unpack(">I", head[len(MAGIC):len(MAGIC) + 4])
    try:
        data = json.loads(head[len(MAGIC) + 4:len(MAGIC) + 4 + length])
        assert isinstance(data, dict) and isinstance(data["xml"], str)
    except (ValueError, AssertionError, KeyError):
        raise invalid_arg(f"save image {path} is damaged") from None
    return data
