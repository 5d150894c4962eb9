"""This process's one connection to a VM's serial port socket, and the consoles that share it.

QEMU serves serial port 0 (XML type ``file`` or ``pty``) on a unix socket in
the VM's 0700 runtime directory (``<uuid16>.con``, ``server=on,wait=off``)
and writes everything the guest prints to the log file itself (the chardev's
``logfile=``), whether or not anyone is connected: the log keeps going while
no console is open and while the application is not running.

A :class:`SerialHub` is this process's one client of that socket (QEMU takes
one): a reader thread that fans the bytes out to the open
:class:`QemuConsole` objects. It exists while consoles are open (the first
one connects, the last close disconnects) and hangs up when the VM stops.
``history()`` is the tail of the log file.

QEMU drops what is still unread in its socket when the client hangs up (it
reads the port a byte at a time, as fast as the guest's UART takes them), so
the last close first waits until QEMU has read every byte written
(:func:`unread_bytes`): a line typed just before a console closes still
reaches the guest.
"""
from __future__ import annotations

import fcntl
import os
import select
import socket
import struct
import termios
import threading
import time

from ..base import Console
from ..errors import DriverError, ErrorCode, invalid_arg

#: scrollback a console offers (history) and keeps for slow readers
SCROLLBACK = 64 * 1024
_WRITE_TIMEOUT = 10.0
#: how long the last close waits for QEMU to read the input written (a guest may never read its port)
_DRAIN_TIMEOUT = 5.0


class SerialHub:
    """One connection to a VM's console socket, shared by that VM's consoles."""

    def __init__(self, name: str, path: str, log_path: str | None) -> None:
        self.name = name
        self.log_path = log_path
        self._cond = threading.Condition()
        self._buf = bytearray()  # received since connecting, bounded to SCROLLBACK
        self._dropped = 0
        self._alive = True
        self._users = 0
        self._write_lock = threading.Lock()
        self._sock = _connect(name, path)
        self._thread = threading.Thread(target=self._read_loop, name=f"qemu-console-{name}", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._alive

    def _read_loop(self) -> None:
        sock = self._sock
        try:
            while self._alive:
                try:
                    ready, _, _ = select.select([sock], [], [], 0.5)
                    if not ready:
                        continue
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                except (OSError, ValueError):
                    data = b""
                if not data:
                    break  # QEMU went away (or closed the port)
                with self._cond:
                    self._buf += data
                    excess = len(self._buf) - SCROLLBACK
                    if excess > 0:
                        del self._buf[:excess]
                        self._dropped += excess
                    self._cond.notify_all()
        finally:
            self.hang_up()
            with self._write_lock:
                sock.close()

    def hang_up(self) -> None:
        """The guest side is gone: readers get OPERATION_FAILED once the buffer is consumed."""
        with self._cond:
            self._alive = False
            self._cond.notify_all()
        _shutdown(self._sock)  # wakes the reader now, and QEMU takes its next client at once

    # -- users ------------------------------------------------------------------------
    def acquire(self) -> int | None:
        """A new reader's starting position (only output from now on); None once the hub hung up."""
        with self._cond:
            if not self._alive:
                return None
            self._users += 1
            return self._dropped + len(self._buf)

    def release(self) -> None:
        """A reader left; the last one disconnects (QEMU keeps logging, a new console reconnects).

        The input written is handed over first: the disconnect waits (up to
        _DRAIN_TIMEOUT) until QEMU read it all. A console opened meanwhile keeps the hub.
        """
        with self._cond:
            self._users -= 1
            if self._users > 0 or not self._alive:
                return
        self._wait_until_read()
        with self._cond:
            if self._users > 0:
                return
            self._alive = False
            self._cond.notify_all()
        _shutdown(self._sock)

    def _wait_until_read(self) -> None:
        deadline = time.monotonic() + _DRAIN_TIMEOUT
        with self._write_lock:  # a write still going on finishes first
            while self._alive and unread_bytes(self._sock) and time.monotonic() < deadline:
                time.sleep(0.01)

    def read_from(self, pos: int, timeout: float | None) -> tuple[bytes, int]:
        with self._cond:
            end = self._dropped + len(self._buf)
            if pos >= end and self._alive:
                self._cond.wait(timeout)
                end = self._dropped + len(self._buf)
            start = max(pos, self._dropped)
            data = bytes(self._buf[start - self._dropped:])
            if not data and not self._alive:
                raise self._closed_error()
            return data, end

    def _closed_error(self) -> DriverError:
        return DriverError(ErrorCode.OPERATION_FAILED,
                           f"the serial console of '{self.name}' closed (the domain stopped, or QEMU hung up)")

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + _WRITE_TIMEOUT
        with self._write_lock:
            while view:
                if not self._alive:
                    raise self._closed_error()
                try:
                    sent = self._sock.send(view)
                    view = view[sent:]
                    continue
                except BlockingIOError:
                    pass
                except OSError as exc:
                    raise DriverError(ErrorCode.OPERATION_FAILED,
                                      f"writing to the serial console of '{self.name}': {exc.strerror}") from None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DriverError(ErrorCode.OPERATION_TIMEOUT,
                                      f"the guest '{self.name}' does not read its serial port")
                select.select([], [self._sock], [], min(left, 0.5))

    def history(self) -> bytes:
        """The last SCROLLBACK bytes of the log file (or of what came since connecting)."""
        if self.log_path:
            tail = log_tail(self.log_path)
            if tail is not None:
                return tail
        with self._cond:
            return bytes(self._buf)


def _connect(name: str, path: str, timeout: float = 5.0) -> socket.socket:
    """A non-blocking connection to QEMU's console socket.

    A unix socket whose backlog is full (QEMU not yet done with the previous
    client) refuses a non-blocking connect with EAGAIN: retried until ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect(path)
            return sock
        except BlockingIOError:
            sock.close()
            if time.monotonic() >= deadline:
                raise DriverError(ErrorCode.OPERATION_FAILED,
                                  f"the serial console of '{name}' is busy (QEMU takes one client at a time)") from None
            time.sleep(0.01)
        except OSError as exc:
            sock.close()
            raise DriverError(ErrorCode.OPERATION_FAILED,
                              f"cannot connect to the serial console of '{name}' ({path}): {exc.strerror or exc}"
                              ) from None


def unread_bytes(sock: socket.socket) -> int:
    """Bytes written to a unix socket that its peer has not read yet (SIOCOUTQ; 0 once closed)."""
    try:
        return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0])
    except (OSError, ValueError):
        return 0


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def log_tail(path: str, size: int = SCROLLBACK) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            end = os.fstat(fh.fileno()).st_size
            fh.seek(max(0, end - size))
            return fh.read(size)
    except OSError:
        return None


class QemuConsole(Console):
    """One reader of a VM's serial port; ``close`` leaves the guest running."""

    def __init__(self, hub: SerialHub, pos: int) -> None:
        self._hub = hub
        self._pos = pos
        self._closed = False
        self._lock = threading.Lock()

    def _check(self) -> None:
        if self._closed:
            raise DriverError(ErrorCode.OPERATION_INVALID, "the console is closed")

    def read(self, timeout: float | None = None) -> bytes:
        self._check()
        with self._lock:
            data, self._pos = self._hub.read_from(self._pos, timeout)
        return data

    def write(self, data: bytes) -> None:
        self._check()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise invalid_arg("console input must be bytes")
        self._hub.write(bytes(data))

    def history(self) -> bytes:
        self._check()
        return self._hub.history()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._hub.release()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
