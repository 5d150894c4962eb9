"""Rectangle decoders: Raw, CopyRect, ZRLE and the Cursor pseudo-encoding (RFC 6143 7.6, 7.7, 7.8).

Each takes the rectangle's bytes as read from the wire and writes into a :class:`Framebuffer`.
Pixels are the 4-byte B, G, R, X of :data:`protocol.PIXEL_FORMAT`; ZRLE's compressed pixels are
its three low bytes. Work is done a row or a run at a time, never per pixel where it can be avoided.
"""
from __future__ import annotations

import struct
import zlib

from .framebuffer import Cursor, Framebuffer
from .protocol import BYTES_PER_PIXEL, CPIXEL_BYTES, RfbError

TILE = 64
#: the most a tile adds to its pixels: its kind byte and a palette of 127 colours
_MAX_TILE_OVERHEAD = 1 + 127 * CPIXEL_BYTES
_PAD = b"\x00"


def decode_raw(fb: Framebuffer, x: int, y: int, width: int, height: int, data: bytes | memoryview) -> None:
    fb.check(x, y, width, height)
    fb.put(x, y, width, height, data)


def decode_copy_rect(fb: Framebuffer, x: int, y: int, width: int, height: int, data: bytes) -> None:
    fb.check(x, y, width, height)
    src_x, src_y = struct.unpack(">HH", data)
    fb.copy(x, y, width, height, src_x, src_y)


def expand_cpixels(data: bytes | memoryview) -> bytearray:
    """Three-byte compressed pixels -> four-byte pixels (the fourth byte zero, as QEMU sends it)."""
    count = len(data) // CPIXEL_BYTES
    out = bytearray(count * BYTES_PER_PIXEL)
    for i in range(CPIXEL_BYTES):
        out[i::BYTES_PER_PIXEL] = data[i::CPIXEL_BYTES]
    return out


class ZrleDecoder:
    """ZRLE keeps one zlib stream for the whole connection: one decoder per connection."""

    def __init__(self) -> None:
        self._zlib = zlib.decompressobj()

    def decode(self, fb: Framebuffer, x: int, y: int, width: int, height: int, compressed: bytes) -> None:
        fb.check(x, y, width, height)
        tiles_count = -(-width // TILE) * -(-height // TILE)
        limit = tiles_count * _MAX_TILE_OVERHEAD + width * height * (CPIXEL_BYTES + 1)
        try:
            data = self._zlib.decompress(compressed, limit)
        except zlib.error as exc:
            raise RfbError(f"the VNC server sent broken ZRLE data ({exc})") from None
        if self._zlib.unconsumed_tail:
            raise RfbError(f"ZRLE data of a {width}x{height} rectangle was larger than any tile encoding makes")
        tiles = _TileReader(data)
        for ty in range(y, y + height, TILE):
            th = min(TILE, y + height - ty)
            for tx in range(x, x + width, TILE):
                tw = min(TILE, x + width - tx)
                tiles.tile(fb, tx, ty, tw, th)
        if tiles.pos != len(data):
            raise RfbError(f"ZRLE data of a {width}x{height} rectangle had {len(data) - tiles.pos} bytes left over")


class _TileReader:
    """Walks the decompressed bytes of one ZRLE rectangle, tile by tile."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise RfbError("ZRLE data ended in the middle of a tile")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise RfbError("ZRLE data ended in the middle of a tile")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def pixel(self) -> bytes:
        return self.take(CPIXEL_BYTES) + _PAD

    def palette(self, size: int) -> list[bytes]:
        raw = self.take(size * CPIXEL_BYTES)
        return [raw[i:i + CPIXEL_BYTES] + _PAD for i in range(0, len(raw), CPIXEL_BYTES)]

    def run_length(self) -> int:
        length = 1
        while True:
            b = self.byte()
            length += b
            if b != 255:
                return length

    def tile(self, fb: Framebuffer, x: int, y: int, w: int, h: int) -> None:
        kind = self.byte()
        count = w * h
        if kind == 0:
            fb.put(x, y, w, h, expand_cpixels(self.take(count * CPIXEL_BYTES)))
        elif kind == 1:
            fb.fill(x, y, w, h, self.pixel())
        elif 2 <= kind <= 16:
            fb.put(x, y, w, h, self._packed(self.palette(kind), w, h))
        elif kind == 128:
            fb.put(x, y, w, h, self._runs(count, None))
        elif kind >= 130:
            fb.put(x, y, w, h, self._runs(count, self.palette(kind - 128)))
        else:
            raise RfbError(f"the VNC server sent a ZRLE tile of unknown kind {kind}")

    def _packed(self, palette: list[bytes], w: int, h: int) -> bytes:
        """Packed palette: 1, 2 or 4 bits an index, each row starting on a byte."""
        bits = 1 if len(palette) == 2 else 2 if len(palette) <= 4 else 4
        per_byte, mask = 8 // bits, (1 << bits) - 1
        full = palette + [palette[0]] * (mask + 1 - len(palette))  # indexes past the palette: never sent
        table = [b"".join(full[(v >> (8 - bits * (k + 1))) & mask] for k in range(per_byte)) for v in range(256)]
        row_bytes = (w * bits + 7) // 8
        row_len = w * BYTES_PER_PIXEL
        packed = self.take(row_bytes * h)
        return b"".join(b"".join(table[v] for v in packed[r * row_bytes:(r + 1) * row_bytes])[:row_len]
                        for r in range(h))

    def _runs(self, count: int, palette: list[bytes] | None) -> bytes:
        """Plain RLE (palette None: a pixel and a length each run) or palette RLE (an index, a length if bit 7)."""
        out: list[bytes] = []
        done = 0
        while done < count:
            if palette is None:
                pixel, run = self.pixel(), self.run_length()
            else:
                index = self.byte()
                if (index & 127) >= len(palette):
                    raise RfbError(f"a ZRLE tile used colour {index & 127} of a palette of {len(palette)}")
                pixel = palette[index & 127]
                run = self.run_length() if index & 128 else 1
            if done + run > count:
                raise RfbError("a ZRLE run went past the end of its tile")
            out.append(pixel * run)
            done += run
        return b"".join(out)


def cursor_bytes(width: int, height: int) -> int:
    """How many bytes follow a Cursor pseudo-rectangle: the pixels, then a 1-bit mask a pixel."""
    return width * height * BYTES_PER_PIXEL + (width + 7) // 8 * height


def decode_cursor(hot_x: int, hot_y: int, width: int, height: int, data: bytes) -> Cursor:
    """The cursor's B, G, R, A pixels: alpha 255 where the mask bit is set, else 0."""
    n = width * height * BYTES_PER_PIXEL
    pixels = bytearray(data[:n])
    mask, mask_row = data[n:], (width + 7) // 8
    for row in range(height):
        bits = mask[row * mask_row:(row + 1) * mask_row]
        for col in range(width):
            pixels[(row * width + col) * BYTES_PER_PIXEL + 3] = 255 if bits[col >> 3] & (0x80 >> (col & 7)) else 0
    return Cursor(width, height, hot_x, hot_y, bytes(pixels))
