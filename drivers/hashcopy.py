"""Copying a file and hashing the copy in one pass: a backup image and its checksum at the speed of ``cp``.

The source's data extents (SEEK_DATA/SEEK_HOLE) are read into a few reused
buffers and written at the same offsets, so holes stay holes. A second thread
hashes each buffer once it is written (zeros for a hole: the checksum is that of
the file as any reader sees it, what ``b3sum`` prints), and a third has the
kernel write the copy back to disk while it grows (:func:`drivers.fsutil.start_write_back`), so the
final fsync has little left to wait for. That is one pass over the data where
a copy, then a hash of the copy, then its write-back would be three.
"""
from __future__ import annotations

import contextlib
import errno
import os
import queue
import threading
from collections.abc import Iterator, Sequence

from . import checksum
from .checksum import Cancelled, Fraction
from .errors import DriverError, ErrorCode
from .fsutil import start_write_back

#: bytes per read and write; a cancel is seen within one of them
CHUNK = 1 << 20
#: buffers in flight between the copy and the hash
DEPTH = 8
#: pause between two write-back starts of the growing copy
FLUSH_EVERY_S = 0.05
_ZEROS = bytes(CHUNK)


class _Hasher:
    """The checksum of what the copy wrote, in the order written, in a thread of its own."""

    def __init__(self, free: queue.Queue[bytearray]) -> None:
        self.digest = checksum.new(checksum.ALGORITHM)
        self.todo: queue.Queue[tuple[bytearray | None, int] | None] = queue.Queue()
        self._free = free
        self._thread = threading.Thread(target=self._run, name="hashcopy-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self.todo.get()) is not None:
            buf, n = item
            if buf is None:  # a hole: that many zero bytes
                while n > 0:
                    step = min(n, CHUNK)
                    self.digest.update(memoryview(_ZEROS)[:step])
                    n -= step
                continue
            self.digest.update(memoryview(buf)[:n])
            self._free.put(buf)

    def finish(self) -> str:
        self.todo.put(None)
        self._thread.join()
        return self.digest.hexdigest()

    def stop(self) -> None:
        self.todo.put(None)


class Flusher:
    """Write-back of files started over and over while they are written (a copy of any kind, or QEMU's
    backup): the kernel writes them back as they grow, so the final fsync has little left to wait for."""

    def __init__(self, *fds: int) -> None:
        self._fds = fds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="write-back", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        fds = list(self._fds)
        while fds and not self._stop.wait(FLUSH_EVERY_S):
            for fd in list(fds):
                try:
                    start_write_back(fd)
                except InterruptedError:
                    pass  # the next round starts it
                except OSError:
                    fds.remove(fd)  # the final fsync, by whoever wrote the file, reports it; the others go on

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def written_back(paths: Sequence[str]) -> Iterator[None]:
    """Have the kernel write ``paths`` back while another process (QEMU) writes them.

    Only a head start for the final fsync, which still decides: a file that
    cannot be opened here is simply left to it.
    """
    fds = []
    for path in paths:
        try:
            fds.append(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            pass
    flusher = Flusher(*fds)
    try:
        yield
    finally:
        flusher.stop()
        for fd in fds:
            os.close(fd)


def _write_all(fd: int, view: memoryview, offset: int) -> None:
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def copy_hashed(src: str, part: str, fraction: Fraction, cancelled: Cancelled) -> str:
    """Copy ``src`` into the new file ``part``, made durable, and return the copy's checksum
    (:data:`drivers.checksum.ALGORITHM`).

    OPERATION_ABORTED once ``cancelled()`` turns true, OPERATION_FAILED when
    a read or write fails; ``part`` is removed then.
    """
    free: queue.Queue[bytearray] = queue.Queue()
    for _ in range(DEPTH):
        free.put(bytearray(CHUNK))
    try:
        fin = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot read {src}: {exc.strerror}") from None
    ok = False
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        os.close(fin)
        raise DriverError(ErrorCode.OPERATION_INVALID if isinstance(exc, FileExistsError) else
                          ErrorCode.OPERATION_FAILED, f"cannot create {part}: {exc.strerror}") from None
    hasher = _Hasher(free)
    flusher = Flusher(fd)
    try:
        size = os.fstat(fin).st_size
        os.posix_fadvise(fin, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        os.ftruncate(fd, size)
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fin, pos, os.SEEK_DATA)
            except OSError as exc:  # ENXIO: nothing but a hole up to the end
                if exc.errno != errno.ENXIO:
                    raise
                start = size
            if start > pos:
                hasher.todo.put((None, start - pos))
            if start >= size:
                break
            end = os.lseek(fin, start, os.SEEK_HOLE)
            while start < end:
                if cancelled():
                    raise DriverError(ErrorCode.OPERATION_ABORTED, f"copy of {os.path.basename(src)} stopped")
                buf = free.get()
                view = memoryview(buf)[:min(CHUNK, end - start)]
                n = os.preadv(fin, [view], start)
                if n <= 0:
                    raise DriverError(ErrorCode.OPERATION_FAILED, f"{src} ended while it was copied")
                _write_all(fd, view[:n], start)
                hasher.todo.put((buf, n))
                start += n
                fraction(start / size)
            pos = end
        digest = hasher.finish()
        flusher.stop()
        os.fsync(fd)
        fraction(1.0)
        ok = True
        return digest
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED,
                          f"copying {os.path.basename(src)} failed: {exc.strerror or exc}") from None
    finally:
        if not ok:
            hasher.stop()
            flusher.stop()
        os.close(fd)
        os.close(fin)
        if not ok:
            try:
                os.unlink(part)
            except FileNotFoundError:
                pass
