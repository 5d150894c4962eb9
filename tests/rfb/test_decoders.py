"""The RFB decoders on byte strings written from RFC 6143's description of each encoding.

Pixels are in the client's format (32 bits, little-endian, red at shift 16): B, G, R, X bytes;
ZRLE's compressed pixels (CPIXEL) are the three low bytes B, G, R.
"""
from __future__ import annotations

import struct
import zlib

import pytest

from vmgui.rfb import Framebuffer, Rect, RfbError
from vmgui.rfb.decoders import ZrleDecoder, cursor_bytes, decode_copy_rect, decode_cursor, decode_raw

RED, GREEN, BLUE, WHITE = b"\x00\x00\xff\x00", b"\x00\xff\x00\x00", b"\xff\x00\x00\x00", b"\xff\xff\xff\x00"


def cpixel(pixel: bytes) -> bytes:
    return pixel[:3]


def pixels_of(fb: Framebuffer, rect: Rect) -> list[bytes]:
    data = fb.region(rect)
    return [data[i:i + 4] for i in range(0, len(data), 4)]


def zrle(stream: zlib._Compress, tiles: bytes) -> bytes:
    """One ZRLE rectangle's body as the server sends it after the length: zlib data, flushed (Z_SYNC_FLUSH)."""
    return stream.compress(tiles) + stream.flush(zlib.Z_SYNC_FLUSH)


def test_raw_writes_rows_at_the_rectangle() -> None:
    fb = Framebuffer(4, 3)
    decode_raw(fb, 1, 1, 2, 2, RED + GREEN + BLUE + WHITE)
    assert pixels_of(fb, Rect(1, 1, 2, 2)) == [RED, GREEN, BLUE, WHITE]
    assert pixels_of(fb, Rect(0, 0, 4, 1)) == [b"\0\0\0\0"] * 4  # the rest untouched
    assert pixels_of(fb, Rect(3, 1, 1, 2)) == [b"\0\0\0\0"] * 2


def test_raw_outside_the_screen_or_short_is_a_protocol_error() -> None:
    fb = Framebuffer(4, 3)
    with pytest.raises(RfbError, match="outside its 4x3 screen"):
        decode_raw(fb, 3, 0, 2, 1, RED * 2)
    with pytest.raises(RfbError, match="came with 4 bytes"):
        decode_raw(fb, 0, 0, 2, 1, RED)


def test_copy_rect_moves_overlapping_regions_as_through_a_buffer() -> None:
    fb = Framebuffer(3, 1)
    decode_raw(fb, 0, 0, 3, 1, RED + GREEN + BLUE)
    decode_copy_rect(fb, 1, 0, 2, 1, struct.pack(">HH", 0, 0))  # src-x-position, src-y-position
    assert pixels_of(fb, Rect(0, 0, 3, 1)) == [RED, RED, GREEN]
    fb = Framebuffer(2, 3)
    decode_raw(fb, 0, 0, 2, 3, RED * 2 + GREEN * 2 + BLUE * 2)
    decode_copy_rect(fb, 0, 0, 2, 2, struct.pack(">HH", 0, 1))  # scroll up one row
    assert pixels_of(fb, Rect(0, 0, 1, 3)) == [GREEN, BLUE, BLUE]


def test_zrle_raw_and_solid_tiles() -> None:
    fb, dec, z = Framebuffer(3, 2), ZrleDecoder(), zlib.compressobj()
    raw_tile = b"\x00" + b"".join(cpixel(p) for p in (RED, GREEN, BLUE, WHITE, RED, GREEN))
    dec.decode(fb, 0, 0, 3, 2, zrle(z, raw_tile))
    assert pixels_of(fb, Rect(0, 0, 3, 2)) == [RED, GREEN, BLUE, WHITE, RED, GREEN]
    dec.decode(fb, 1, 0, 2, 2, zrle(z, b"\x01" + cpixel(BLUE)))  # the zlib stream carries on
    assert pixels_of(fb, Rect(0, 0, 3, 2)) == [RED, BLUE, BLUE, WHITE, BLUE, BLUE]


def test_zrle_splits_into_64_pixel_tiles_left_to_right_top_to_bottom() -> None:
    fb, dec, z = Framebuffer(70, 65), ZrleDecoder(), zlib.compressobj()
    tiles = b"".join(b"\x01" + cpixel(p) for p in (RED, GREEN, BLUE, WHITE))  # 64x64, 6x64, 64x1, 6x1
    dec.decode(fb, 0, 0, 70, 65, zrle(z, tiles))
    assert pixels_of(fb, Rect(63, 63, 2, 1)) == [RED, GREEN]
    assert pixels_of(fb, Rect(63, 64, 2, 1)) == [BLUE, WHITE]
    assert set(pixels_of(fb, Rect(0, 0, 64, 64))) == {RED}
    assert set(pixels_of(fb, Rect(64, 0, 6, 64))) == {GREEN}


def test_zrle_packed_palettes_of_1_2_and_4_bits_with_rows_padded_to_a_byte() -> None:
    dec, z = ZrleDecoder(), zlib.compressobj()
    fb = Framebuffer(3, 2)
    # palette size 2 -> 1 bit an index, 3 pixels a row in one byte: rows 1,0,1 and 0,1,1
    dec.decode(fb, 0, 0, 3, 2, zrle(z, b"\x02" + cpixel(RED) + cpixel(GREEN) + bytes([0b10100000, 0b01100000])))
    assert pixels_of(fb, Rect(0, 0, 3, 2)) == [GREEN, RED, GREEN, RED, GREEN, GREEN]
    # palette size 3 -> 2 bits: indexes 2,1,0 then 0,0,2
    dec.decode(fb, 0, 0, 3, 2, zrle(z, b"\x03" + cpixel(RED) + cpixel(GREEN) + cpixel(BLUE)
                                   + bytes([0b10010000, 0b00001000])))
    assert pixels_of(fb, Rect(0, 0, 3, 2)) == [BLUE, GREEN, RED, RED, RED, BLUE]
    # palette size 5 -> 4 bits: indexes 4,3,1 then 2,0,4 (a row of 3 takes 2 bytes)
    palette = b"".join(cpixel(p) for p in (RED, GREEN, BLUE, WHITE, b"\x10\x20\x30\x00"))
    dec.decode(fb, 0, 0, 3, 2, zrle(z, b"\x05" + palette + bytes([0x43, 0x10, 0x20, 0x40])))
    assert pixels_of(fb, Rect(0, 0, 3, 2)) == [b"\x10\x20\x30\x00", WHITE, GREEN, BLUE, RED, b"\x10\x20\x30\x00"]


def test_zrle_plain_rle_run_lengths_are_sums_of_bytes_until_one_below_255() -> None:
    fb, dec, z = Framebuffer(64, 5), ZrleDecoder(), zlib.compressobj()
    # 320 pixels: a run of 1 (byte 0), of 290 (1 + 255 + 34) and of 29 (1 + 28)
    body = b"\x80" + cpixel(RED) + b"\x00" + cpixel(GREEN) + b"\xff\x22" + cpixel(BLUE) + b"\x1c"
    dec.decode(fb, 0, 0, 64, 5, zrle(z, body))
    assert pixels_of(fb, Rect(0, 0, 64, 5)) == [RED] + [GREEN] * 290 + [BLUE] * 29


def test_zrle_palette_rle_index_with_bit_7_has_a_run_length() -> None:
    fb, dec, z = Framebuffer(4, 2), ZrleDecoder(), zlib.compressobj()
    body = b"\x82" + cpixel(RED) + cpixel(BLUE) + b"\x81\x04" + b"\x00" + b"\x01" + b"\x00"  # 130: 2 colours
    dec.decode(fb, 0, 0, 4, 2, zrle(z, body))
    assert pixels_of(fb, Rect(0, 0, 4, 2)) == [BLUE] * 5 + [RED, BLUE, RED]


def test_zrle_broken_data_is_a_protocol_error() -> None:
    fb = Framebuffer(4, 2)
    with pytest.raises(RfbError, match="unknown kind 17"):
        ZrleDecoder().decode(fb, 0, 0, 4, 2, zrle(zlib.compressobj(), b"\x11"))
    with pytest.raises(RfbError, match="ended in the middle"):
        ZrleDecoder().decode(fb, 0, 0, 4, 2, zrle(zlib.compressobj(), b"\x00" + b"\x01" * 5))
    with pytest.raises(RfbError, match="went past the end"):
        ZrleDecoder().decode(fb, 0, 0, 4, 2, zrle(zlib.compressobj(), b"\x80" + cpixel(RED) + b"\x08"))
    with pytest.raises(RfbError, match="colour 3 of a palette of 2"):
        ZrleDecoder().decode(fb, 0, 0, 4, 2, zrle(zlib.compressobj(), b"\x82" + cpixel(RED) * 2 + b"\x03"))
    with pytest.raises(RfbError, match="left over"):
        ZrleDecoder().decode(fb, 0, 0, 4, 2, zrle(zlib.compressobj(), b"\x01" + cpixel(RED) + b"\x01"))
    with pytest.raises(RfbError, match="broken ZRLE"):
        ZrleDecoder().decode(fb, 0, 0, 4, 2, b"not zlib at all")


def test_cursor_alpha_comes_from_the_bitmask_one_bit_a_pixel_rows_padded() -> None:
    w, h = 3, 2
    pixels = RED + GREEN + BLUE + WHITE + RED + GREEN
    mask = bytes([0b10100000, 0b01000000])
    assert cursor_bytes(w, h) == len(pixels) + len(mask)
    cur = decode_cursor(1, 0, w, h, pixels + mask)
    assert (cur.width, cur.height, cur.hot_x, cur.hot_y) == (3, 2, 1, 0)
    alphas = [cur.pixels[i + 3] for i in range(0, len(cur.pixels), 4)]
    assert alphas == [255, 0, 255, 0, 255, 0]
    assert cur.pixels[:3] == RED[:3]
