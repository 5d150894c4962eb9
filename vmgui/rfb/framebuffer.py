"""The client's copy of the remote screen: 32-bit B, G, R, X pixels in one bytearray, row after row."""
from __future__ import annotations

from dataclasses import dataclass

from .protocol import BYTES_PER_PIXEL, RfbError


@dataclass(frozen=True)
class Rect:
    """A region of the framebuffer (damage, or where a rectangle of an update goes)."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Cursor:
    """The pointer shape the server asked for: B, G, R, A pixels (A from its mask) and the hot spot."""

    width: int
    height: int
    hot_x: int
    hot_y: int
    pixels: bytes


class Framebuffer:
    """``data`` is ``height`` rows of ``stride`` bytes; what QImage.Format_RGB32 wraps without copying."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.data = bytearray(width * height * BYTES_PER_PIXEL)

    @property
    def stride(self) -> int:
        return self.width * BYTES_PER_PIXEL

    def resize(self, width: int, height: int) -> None:
        """A new, black screen of the new size (the server sends its contents next)."""
        self.width, self.height = width, height
        self.data = bytearray(width * height * BYTES_PER_PIXEL)

    def check(self, x: int, y: int, width: int, height: int) -> None:
        if x < 0 or y < 0 or x + width > self.width or y + height > self.height:
            raise RfbError(f"the VNC server drew a {width}x{height} rectangle at {x},{y}, "
                           f"outside its {self.width}x{self.height} screen")

    def put(self, x: int, y: int, width: int, height: int, pixels: bytes | bytearray | memoryview) -> None:
        """Copy ``width`` x ``height`` pixels, row after row, to (x, y)."""
        row = width * BYTES_PER_PIXEL
        if len(pixels) != row * height:
            raise RfbError(f"a {width}x{height} rectangle came with {len(pixels)} bytes of pixels")
        stride, data = self.stride, self.data
        start = y * stride + x * BYTES_PER_PIXEL
        if x == 0 and width == self.width:
            data[start:start + row * height] = pixels
            return
        for i in range(height):
            at = start + i * stride
            data[at:at + row] = pixels[i * row:(i + 1) * row]

    def fill(self, x: int, y: int, width: int, height: int, pixel: bytes) -> None:
        line = pixel * width
        stride, row = self.stride, width * BYTES_PER_PIXEL
        start = y * stride + x * BYTES_PER_PIXEL
        for i in range(height):
            at = start + i * stride
            self.data[at:at + row] = line

    def copy(self, x: int, y: int, width: int, height: int, src_x: int, src_y: int) -> None:
        """CopyRect: move a region already on screen; overlapping regions copy as if through a buffer."""
        self.check(src_x, src_y, width, height)
        stride, row = self.stride, width * BYTES_PER_PIXEL
        rows = [bytes(self.data[(src_y + i) * stride + src_x * BYTES_PER_PIXEL:][:row]) for i in range(height)]
        for i, line in enumerate(rows):
            at = (y + i) * stride + x * BYTES_PER_PIXEL
            self.data[at:at + row] = line

    def region(self, rect: Rect) -> bytes:
        """The pixels of ``rect``, row after row (for tests and comparisons)."""
        stride, row = self.stride, rect.width * BYTES_PER_PIXEL
        return b"".join(bytes(self.data[(rect.y + i) * stride + rect.x * BYTES_PER_PIXEL:][:row])
                        for i in range(rect.height))
