"""RFB 3.8 wire constants and client messages (RFC 6143, plus QEMU's extended key event)."""
from __future__ import annotations

import enum
import struct


class RfbError(Exception):
    """The server broke the protocol, refused us, or the connection ended; the message says which."""


class PasswordRequired(RfbError):
    """The server wants VNC authentication and no password was given, or it refused the one given."""

    def __init__(self, message: str, refused: bool) -> None:
        super().__init__(message)
        #: a password was sent and the server said no (else none was given)
        self.refused = refused


class Encoding(enum.IntEnum):
    """Rectangle encodings and pseudo-encodings (signed 32-bit on the wire)."""

    RAW = 0
    COPY_RECT = 1
    ZRLE = 16
    CURSOR = -239
    DESKTOP_SIZE = -223
    QEMU_POINTER_MOTION_CHANGE = -257
    QEMU_EXTENDED_KEY_EVENT = -258
    EXTENDED_DESKTOP_SIZE = -308


class ServerMessage(enum.IntEnum):
    FRAMEBUFFER_UPDATE = 0
    SET_COLOUR_MAP_ENTRIES = 1
    BELL = 2
    SERVER_CUT_TEXT = 3


SECURITY_INVALID = 0
SECURITY_NONE = 1
SECURITY_VNC_AUTH = 2
VNC_CHALLENGE_BYTES = 16

#: 32 bits per pixel, depth 24, little-endian, true colour, 8 bits a channel at shifts 16/8/0:
#: every pixel arrives as the bytes B, G, R, X, which is what QImage.Format_RGB32 stores.
PIXEL_FORMAT = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
BYTES_PER_PIXEL = 4
#: ZRLE's compressed pixel for that format: the three low bytes (B, G, R)
CPIXEL_BYTES = 3

#: Pixel data beyond this in one rectangle is a broken or hostile server, not a screen.
MAX_RECT_BYTES = 16384 * 16384 * 4
MAX_TEXT = 1 << 20


def set_pixel_format() -> bytes:
    return b"\x00\x00\x00\x00" + PIXEL_FORMAT


def set_encodings(encodings: list[int]) -> bytes:
    return struct.pack(">BxH", 2, len(encodings)) + b"".join(struct.pack(">i", e) for e in encodings)


def update_request(incremental: bool, x: int, y: int, width: int, height: int) -> bytes:
    return struct.pack(">BBHHHH", 3, int(incremental), x, y, width, height)


def key_event(down: bool, keysym: int) -> bytes:
    return struct.pack(">BBxxI", 4, int(down), keysym)


def qemu_key_event(down: bool, keysym: int, scancode: int) -> bytes:
    """QEMU client message 255, subtype 0: a key by its XT scancode, the keysym only as a hint."""
    return struct.pack(">BBHII", 255, 0, int(down), keysym, scancode)


def pointer_event(buttons: int, x: int, y: int) -> bytes:
    return struct.pack(">BBHH", 5, buttons & 0xFF, x, y)


def parse_version(banner: bytes) -> tuple[int, int]:
    """``b"RFB 003.008\\n"`` -> (3, 8); RfbError for anything that is no RFB server."""
    if len(banner) != 12 or not banner.startswith(b"RFB ") or banner[7:8] != b"." or banner[11:] != b"\n":
        raise RfbError(f"the other end is not a VNC server (it said {banner[:12]!r})")
    try:
        return int(banner[4:7]), int(banner[8:11])
    except ValueError:
        raise RfbError(f"the VNC server sent a malformed version {banner!r}") from None


def client_version(server: tuple[int, int]) -> tuple[int, int]:
    """The version we speak with ``server``: 3.8, 3.7 or 3.3.

    RFC 6143 7.1.1: other 3.x numbers (Apple's 3.889 among them) mean 3.3; a newer major gets our newest.
    """
    major, minor = server
    if major < 3:
        raise RfbError(f"the VNC server speaks RFB {major}.{minor}, older than 3.3")
    if major > 3 or minor == 8:
        return 3, 8
    return (3, 7) if minor == 7 else (3, 3)
