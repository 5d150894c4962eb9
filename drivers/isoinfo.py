"""What an installer image says about itself: its ISO 9660 (or UDF) volume id, read without mounting.

An install medium names its system in the volume id of its primary volume
descriptor (ISO 9660: sector 16, bytes 40-71), which osinfo-db's media
entries match. Most UDF DVDs carry an ISO 9660 bridge with the same names; a
UDF-only image is recognised by its NSR02/NSR03 descriptor and named by its
UDF primary volume descriptor. Anything else (a text file, a disk image) is
refused with a sentence: it would not boot as a CD. Blocking file I/O: call it
in a worker. No Qt.
"""
from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import BinaryIO

from .errors import DriverError, ErrorCode

SECTOR = 2048
#: the volume descriptors start here (ISO 9660 and the UDF volume recognition sequence alike)
FIRST_DESCRIPTOR = 16
#: a real image has a handful of descriptors before its terminator
MAX_DESCRIPTORS = 32
_PRIMARY, _TERMINATOR = 1, 255
_UDF_NSR = (b"NSR02", b"NSR03")
#: UDF's anchor volume descriptor pointer sits at block 256; block sizes tried, the DVD one first
_UDF_ANCHOR_BLOCK = 256
_UDF_BLOCK_SIZES = (2048, 512, 4096)
_UDF_TAG_PRIMARY, _UDF_TAG_ANCHOR, _UDF_TAG_TERMINATOR = 1, 2, 8
#: descriptors read from UDF's main volume descriptor sequence at most
_UDF_MAX_SEQUENCE = 64


class MediumFormat(enum.Enum):
    ISO9660 = "ISO 9660"
    UDF = "UDF"


@dataclass(frozen=True)
class IsoInfo:
    """The names an image gives itself (trailing blanks stripped)."""

    volume_id: str
    format: MediumFormat = MediumFormat.ISO9660
    system_id: str = ""
    publisher_id: str = ""
    application_id: str = ""


def read_iso_info(path: str) -> IsoInfo:
    """The volume id and names of the CD/DVD image ``path``; INVALID_ARG when it is not one."""
    try:
        with open(path, "rb") as fh:
            info = _iso9660(fh) or _udf(fh)
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"Cannot read {path}: {exc.strerror or exc}") from None
    if info is None:
        raise DriverError(ErrorCode.INVALID_ARG, f"{path} is not a CD/DVD image (no ISO 9660 or UDF volume "
                          "descriptor): choose an installer .iso file.")
    return info


def _read(fh: BinaryIO, offset: int, size: int) -> bytes:
    fh.seek(offset)
    return fh.read(size)


def _text(raw: bytes) -> str:
    return raw.decode("ascii", "replace").rstrip(" \x00")


def _iso9660(fh: BinaryIO) -> IsoInfo | None:
    """The primary volume descriptor's names, or None when the descriptor set is not ISO 9660's."""
    for n in range(FIRST_DESCRIPTOR, FIRST_DESCRIPTOR + MAX_DESCRIPTORS):
        desc = _read(fh, n * SECTOR, SECTOR)
        if len(desc) < SECTOR or desc[1:6] != b"CD001":
            return None
        if desc[0] == _PRIMARY:
            return IsoInfo(_text(desc[40:72]), MediumFormat.ISO9660, _text(desc[8:40]),
                           _text(desc[318:446]), _text(desc[574:702]))
        if desc[0] == _TERMINATOR:
            return None
    return None


def _udf(fh: BinaryIO) -> IsoInfo | None:
    """A UDF image's volume identifier (its primary volume descriptor), or None when it is not UDF."""
    recognised = [_read(fh, n * SECTOR + 1, 5) for n in range(FIRST_DESCRIPTOR, FIRST_DESCRIPTOR + MAX_DESCRIPTORS)]
    if not any(ident in _UDF_NSR for ident in recognised):
        return None
    for block in _UDF_BLOCK_SIZES:
        anchor = _read(fh, _UDF_ANCHOR_BLOCK * block, 24)
        if len(anchor) < 24 or struct.unpack_from("<H", anchor)[0] != _UDF_TAG_ANCHOR:
            continue
        length, location = struct.unpack_from("<II", anchor, 16)
        for i in range(min(length // block, _UDF_MAX_SEQUENCE)):
            desc = _read(fh, (location + i) * block, 56)
            tag = struct.unpack_from("<H", desc)[0] if len(desc) == 56 else _UDF_TAG_TERMINATOR
            if tag == _UDF_TAG_PRIMARY:
                return IsoInfo(_dstring(desc[24:56]), MediumFormat.UDF)
            if tag == _UDF_TAG_TERMINATOR:
                break
    return IsoInfo("", MediumFormat.UDF)  # UDF, but its name could not be found: still a DVD image


def _dstring(field: bytes) -> str:
    """An ECMA-167 dstring: a compression id (8: one byte a character, 16: UTF-16BE), the text, its length last."""
    used = field[-1]
    body = field[1:used] if 0 < used <= len(field) - 1 else b""
    if field[0] == 16:
        return body.decode("utf-16-be", "replace").rstrip(" \x00")
    return body.decode("latin-1").rstrip(" \x00")
