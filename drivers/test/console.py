"""The simulated guest's serial port and screen.

A tiny line-oriented shell answers on the serial port (echo, a prompt, a few
commands), and the screen is a generated picture whose colour follows the run
state. Enough for a console view and a thumbnail to be built and tested
against something that behaves like a guest.
"""
from __future__ import annotations

import threading
import time
import zlib

from ..base import Console, Screenshot
from ..errors import DriverError, ErrorCode
from ..flags import DomainState

SCROLLBACK = 64 * 1024
COMMANDS = ("help", "hostname", "uptime", "uname", "clear")


class SerialPort:
    """The guest side of one domain's serial port: output buffer and shell."""

    def __init__(self, hostname: str, booted: float | None = None) -> None:
        """``booted``: when the guest started (``time.monotonic()``), if that was before now."""
        self._hostname = hostname
        self._cond = threading.Condition()
        self._output = bytearray()  # everything printed, bounded to SCROLLBACK
        self._dropped = 0  # bytes dropped from the front of _output
        self._line = bytearray()
        self._booted = time.monotonic() if booted is None else booted
        self._alive = True
        self._emit(f"\r\n{hostname} (vmgui simulated guest) ttyS0\r\n\r\n{self._prompt()}".encode())

    def _prompt(self) -> str:
        return f"root@{self._hostname}:~# "

    def _emit(self, data: bytes) -> None:
        with self._cond:
            self._output += data
            excess = len(self._output) - SCROLLBACK
            if excess > 0:
                del self._output[:excess]
                self._dropped += excess
            self._cond.notify_all()

    @property
    def alive(self) -> bool:
        return self._alive

    def hang_up(self) -> None:
        """The guest stopped: readers get OPERATION_FAILED after the buffered output."""
        with self._cond:
            self._alive = False
            self._cond.notify_all()

    def position(self) -> int:
        with self._cond:
            return self._dropped + len(self._output)

    def read_from(self, pos: int, timeout: float | None) -> tuple[bytes, int]:
        with self._cond:
            end = self._dropped + len(self._output)
            if pos >= end and self._alive:
                self._cond.wait(timeout)
                end = self._dropped + len(self._output)
            start = max(pos, self._dropped)
            data = bytes(self._output[start - self._dropped:])
            if not data and not self._alive:
                raise DriverError(ErrorCode.OPERATION_FAILED, "the guest's serial port closed (domain stopped)")
            return data, end

    def history(self) -> bytes:
        with self._cond:
            return bytes(self._output)

    def type(self, data: bytes) -> None:
        """Input from the host: echoed, and each line run by the shell."""
        if not self._alive:
            raise DriverError(ErrorCode.OPERATION_FAILED, "the domain is not running")
        for byte in data:
            if byte in (0x0D, 0x0A):
                self._emit(b"\r\n")
                command = self._line.decode(errors="replace").strip()
                self._line.clear()
                self._emit(self._run(command).encode() + self._prompt().encode())
            elif byte in (0x08, 0x7F):
                if self._line:
                    self._line.pop()
                    self._emit(b"\b \b")
            else:
                self._line.append(byte)
                self._emit(bytes([byte]))

    def _run(self, command: str) -> str:
        if not command:
            return ""
        name = command.split()[0]
        if name == "help":
            return "commands: " + " ".join(COMMANDS) + "\r\n"
        if name == "hostname":
            return self._hostname + "\r\n"
        if name == "uptime":
            return f"up {time.monotonic() - self._booted:.0f} s\r\n"
        if name == "uname":
            return "Linux (simulated by vmgui's test driver)\r\n"
        if name == "clear":
            return "\x1b[2J\x1b[H"
        return f"sh: {name}: command not found\r\n"


class TestConsole(Console):
    """One reader's view of a SerialPort."""

    __test__ = False

    def __init__(self, port: SerialPort) -> None:
        self._port = port
        self._pos = port.position()
        self._closed = False

    def read(self, timeout: float | None = None) -> bytes:
        if self._closed:
            raise DriverError(ErrorCode.OPERATION_INVALID, "the console is closed")
        data, self._pos = self._port.read_from(self._pos, timeout)
        return data

    def write(self, data: bytes) -> None:
        if self._closed:
            raise DriverError(ErrorCode.OPERATION_INVALID, "the console is closed")
        if not isinstance(data, (bytes, bytearray)):
            raise DriverError(ErrorCode.INVALID_ARG, "console input must be bytes")
        self._port.type(bytes(data))

    def history(self) -> bytes:
        return self._port.history()

    def close(self) -> None:
        self._closed = True


def render_screen(name: str, uuid: str, state: DomainState, width: int = 320, height: int = 200) -> Screenshot:
    """A PPM picture: a per-domain colour band, dimmed while paused."""
    seed = zlib.crc32(uuid.encode())
    base = ((seed >> 16) & 0xFF, (seed >> 8) & 0xFF, seed & 0xFF)
    dim = 2 if state == DomainState.PAUSED else 1
    rows = []
    for y in range(height):
        shade = 64 + (191 * y) // height
        color = bytes(((c * shade) // 255 // dim) for c in base)
        bar = bytes((230 // dim,) * 3) if 20 <= y < 36 else color
        rows.append(bar * width)
    header = f"P6\n{width} {height}\n255\n".encode()
    return Screenshot("image/x-portable-pixmap", header + b"".join(rows), width, height)
