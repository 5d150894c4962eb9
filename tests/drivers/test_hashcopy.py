"""Copying a file while hashing the copy: the bytes, the holes, the checksum b3sum prints, a cancel."""
from __future__ import annotations

import os
import subprocess
import time

import blake3
from refusals import refused

from drivers import fsutil, hashcopy
from drivers.errors import ErrorCode

MIB = 1 << 20


def _sparse(path, layout):
    """A file of (offset, bytes) pieces with holes between them, and a hole at its end."""
    with open(path, "wb") as fh:
        for offset, data in layout:
            fh.seek(offset)
            fh.write(data)
        fh.truncate(40 * MIB)
    return str(path)


def test_the_copy_holds_the_same_bytes_and_holes_and_its_checksum_is_what_b3sum_prints(tmp_path):
    src = _sparse(tmp_path / "src.img", [(3 * MIB, os.urandom(5 * MIB + 123)), (20 * MIB, b"\x07" * (9 * MIB))])
    part = str(tmp_path / "copy.part")
    seen = []
    digest = hashcopy.copy_hashed(src, part, seen.append, lambda: False)
    assert os.stat(part).st_blocks * 512 < 20 * MIB  # the holes were not written
    with open(src, "rb") as a, open(part, "rb") as b:
        assert a.read() == b.read()
    # b3sum maps the file: on tmpfs that fills its holes, so it reads only after the holes were checked
    printed = subprocess.run(["b3sum", part], capture_output=True, text=True, check=True).stdout.split()[0]
    assert digest == printed == blake3.blake3(open(src, "rb").read()).hexdigest()
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_an_empty_file_and_one_without_holes(tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert hashcopy.copy_hashed(str(empty), str(tmp_path / "e.part"), lambda f: None, lambda: False) == \
        blake3.blake3(b"").hexdigest()
    dense = tmp_path / "dense"
    data = os.urandom(3 * MIB + 1)
    dense.write_bytes(data)
    assert hashcopy.copy_hashed(str(dense), str(tmp_path / "d.part"), lambda f: None, lambda: False) == \
        blake3.blake3(data).hexdigest()
    assert (tmp_path / "d.part").read_bytes() == data


def test_a_cancel_leaves_no_copy_and_an_existing_file_is_never_written_over(tmp_path):
    src = _sparse(tmp_path / "src.img", [(0, os.urandom(12 * MIB))])
    part = tmp_path / "copy.part"
    seen = []
    with refused(ErrorCode.OPERATION_ABORTED, "stopped"):
        hashcopy.copy_hashed(src, str(part), seen.append, lambda: len(seen) >= 2)
    assert not part.exists() and seen
    part.write_bytes(b"someone else's")
    with refused(ErrorCode.OPERATION_INVALID, str(part)):
        hashcopy.copy_hashed(src, str(part), lambda f: None, lambda: False)
    assert part.read_bytes() == b"someone else's"


def test_a_source_that_cannot_be_read_is_named(tmp_path):
    with refused(ErrorCode.OPERATION_FAILED, str(tmp_path / "src")):
        hashcopy.copy_hashed(str(tmp_path / "src"), str(tmp_path / "p"), lambda f: None, lambda: False)
    assert not (tmp_path / "p").exists()


def test_a_file_that_cannot_be_written_back_leaves_the_others_written_back(tmp_path, monkeypatch):
    started: list[int] = []
    real = hashcopy.start_write_back

    def spy(fd: int) -> None:
        started.append(fd)
        real(fd)
    monkeypatch.setattr(hashcopy, "start_write_back", spy)
    monkeypatch.setattr(hashcopy, "FLUSH_EVERY_S", 0.01)
    good = os.open(tmp_path / "good", os.O_WRONLY | os.O_CREAT, 0o600)
    closed = os.open(tmp_path / "gone", os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(closed)  # EBADF from then on
    try:
        flusher = hashcopy.Flusher(closed, good)
        deadline = time.monotonic() + 10
        while started.count(good) < 3 and time.monotonic() < deadline:
            os.write(good, b"x" * 4096)
            time.sleep(0.01)
        flusher.stop()
    finally:
        os.close(good)
    assert started.count(closed) == 1, "a file that failed once is left to its final fsync"
    assert started.count(good) >= 3, "the other file is still written back as it grows"


def test_without_sync_file_range_nothing_is_synced_early(tmp_path, monkeypatch):
    synced: list[int] = []
    monkeypatch.setattr(fsutil, "_sync_file_range", lambda: None)
    monkeypatch.setattr(fsutil.os, "fsync", synced.append)
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fsutil.start_write_back(fd)
    finally:
        os.close(fd)
    # an fsync here would see a write error the kernel reports once per file, and the writer's own would not
    assert synced == []
