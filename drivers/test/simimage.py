"""The image files of the test driver's simulated backups: real, tiny images of the format they name.

A simulated backup holds no disk data, but its images must still be what the
catalog says they are: verify runs ``qemu-img check`` on a qcow2 one and a restore
copies or converts it. A qcow2 image is the smallest consistent one (header,
refcount table and block, an empty L1 table: every cluster reads as zeros, or through
to its ``backing`` image), 256 KiB of which the file system stores a few KiB; a
raw one is the line of text that says what it stands for.
"""
from __future__ import annotations

import struct

CLUSTER_BITS = 16
CLUSTER = 1 << CLUSTER_BITS
#: where the note sits in the header cluster, past anything qcow2 reads there
_NOTE_AT = 4096
#: qcow2 version 2 header: magic, version, backing file offset and length, cluster bits,
#: virtual size, encryption, L1 entries and offset, refcount table offset and clusters,
#: internal snapshots and their offset
_HEADER = struct.Struct(">4sIQIIQIIQQIIQ")


def image_bytes(fmt: str, virtual_size: int, note: str, backing: str | None = None) -> bytes:
    """The whole file of a simulated image of ``fmt`` ("qcow2", else raw)."""
    text = note.encode()
    if fmt != "qcow2":
        return text
    l1_size = -(-virtual_size // (CLUSTER * (CLUSTER // 8)))  # one L1 entry maps CLUSTER/8 clusters
    name = (backing or "").encode()
    if l1_size * 8 > CLUSTER or _HEADER.size + len(name) > _NOTE_AT or _NOTE_AT + len(text) > CLUSTER:
        raise ValueError("a simulated qcow2 image holds at most 4 TiB, a short backing name and note")
    image = bytearray(4 * CLUSTER)  # header, refcount table, refcount block, L1 table
    _HEADER.pack_into(image, 0, b"QFI\xfb", 2, _HEADER.size if name else 0, len(name), CLUSTER_BITS,
                      virtual_size, 0, l1_size, 3 * CLUSTER, CLUSTER, 1, 0, 0)
    image[_HEADER.size:_HEADER.size + len(name)] = name
    image[_NOTE_AT:_NOTE_AT + len(text)] = text
    struct.pack_into(">Q", image, CLUSTER, 2 * CLUSTER)  # the refcount table's one block
    struct.pack_into(">4H", image, 2 * CLUSTER, 1, 1, 1, 1)  # each of the four clusters used once
    return bytes(image)
