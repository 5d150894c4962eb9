"""Local path facts: what the worker finds, which answers a dialog keeps, and a probe that never answers."""
from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest
from isoimages import DEBIAN_11, make_iso
from test_hung import run

from drivers import DriverError, ErrorCode
from drivers.isoinfo import IsoInfo
from vmgui.bridge import Bridge
from vmgui.models import pathprobe
from vmgui.models.newvm import QCOW2_MAGIC
from vmgui.models.pathprobe import UNANSWERED, FactBook, PathFacts, look_up, probe, unsettled


# -- the blocking look ------------------------------------------------------------------------------------
def test_probe_tells_files_folders_and_missing_paths_apart(tmp_path: Path):
    disk = tmp_path / "d.qcow2"
    disk.write_bytes(QCOW2_MAGIC + bytes(60))
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    facts = probe([str(disk), str(tmp_path), str(tmp_path / "nowhere"), str(tmp_path / "dangling")])
    assert facts[str(disk)] == PathFacts(True, True, True, False, True, True, QCOW2_MAGIC, medium_problem=(
        f"{disk} is not a CD/DVD image (no ISO 9660 or UDF volume descriptor): choose an installer .iso file."))
    folder = facts[str(tmp_path)]
    assert folder.is_dir and not folder.is_file and folder.writable and folder.magic == b""
    assert facts[str(tmp_path / "nowhere")] == PathFacts()
    assert facts[str(tmp_path / "dangling")] == PathFacts(lexists=True)  # a new disk there would clash


def test_an_iso_is_read_as_a_cd_image_and_a_folder_tells_its_free_space(tmp_path: Path):
    iso = make_iso(tmp_path / "debian.iso", DEBIAN_11)
    facts = probe([str(iso), str(tmp_path)])
    assert facts[str(iso)].medium == IsoInfo(DEBIAN_11) and facts[str(iso)].medium_problem == ""
    st = os.statvfs(tmp_path)
    assert abs(facts[str(tmp_path)].free_bytes - st.f_bavail * st.f_frsize) < 256 * 1024 * 1024
    assert facts[str(iso)].free_bytes is None


def test_a_fifo_is_never_opened(tmp_path: Path):
    """Opening a FIFO waits for a writer: the probe only reads regular files."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    found = probe([str(fifo)])[str(fifo)]
    assert found.exists and not found.is_file and found.magic == b""


def test_an_unreadable_file_is_seen_as_such(tmp_path: Path):
    secret = tmp_path / "secret.iso"
    secret.write_bytes(b"CD001")
    secret.chmod(0)
    if os.access(secret, os.R_OK):
        pytest.skip("running as root: every file is readable")
    assert probe([str(secret)])[str(secret)] == PathFacts(True, True, True, False, False, False, b"")


def test_unsettled_says_checking_then_does_not_answer():
    why = unsettled({}, "/mnt/nfs/x", "The folder")
    assert why == "Checking /mnt/nfs/x…" and pathprobe.is_checking(why)
    why = unsettled({"/mnt/nfs/x": UNANSWERED}, "/mnt/nfs/x", "The folder")
    assert why == "The folder /mnt/nfs/x does not answer (a hung network mount?)" and not pathprobe.is_checking(why)
    assert unsettled({"/x": PathFacts()}, "/x", "The folder") is None


# -- which answers a dialog keeps ---------------------------------------------------------------------------
def test_a_late_answer_for_a_path_no_longer_shown_is_dropped():
    book = FactBook()
    first, paths = book.ask(["/a"])
    assert paths == ["/a"] and book.waiting()
    book.ask(["/b"])  # the user typed over /a before its answer came
    assert not book.answer(first, {"/a": PathFacts()}) and "/a" not in book.facts


def test_a_path_being_looked_at_is_not_asked_again_and_only_its_own_round_counts():
    book = FactBook()
    first, _ = book.ask(["/hung"])
    second, paths = book.ask(["/hung", "/ok"])
    assert paths == ["/ok"]  # /hung still has a worker on it: no second one per keystroke
    assert not book.answer(second, {"/hung": PathFacts()})  # not the round /hung was asked in
    assert book.answer(second, {"/ok": PathFacts()}) and book.waiting()
    assert book.answer(first, {"/hung": UNANSWERED}) and not book.waiting()
    assert book.facts == {"/ok": PathFacts(), "/hung": UNANSWERED}
    third, paths = book.ask(["/hung"])  # asked again once answered, and the other path's facts forgotten
    assert paths == ["/hung"] and book.facts == {"/hung": UNANSWERED}


# -- one path per worker call, a timeout for each -------------------------------------------------------------
def test_look_up_marks_only_the_path_that_timed_out():
    async def runner(work, what, timeout):
        assert timeout == 0.5
        if "/hung" in what:
            raise DriverError(ErrorCode.OPERATION_TIMEOUT, f"{what} did not answer")
        return work()
    facts = asyncio.run(look_up(runner, ["/hung", "/", "/"], timeout=0.5))
    assert facts == {"/hung": UNANSWERED, "/": probe(["/"])["/"]}


def test_other_errors_are_not_taken_for_a_hung_mount():
    async def runner(work, what, timeout):
        raise DriverError(ErrorCode.OPERATION_INVALID, "vmgui is shutting down")
    with pytest.raises(DriverError):
        asyncio.run(look_up(runner, ["/"]))


def test_a_hung_path_times_out_in_the_bridge_and_the_others_answer(aloop, qtbot, node_uri, monkeypatch, tmp_path):
    release = threading.Event()
    real = pathprobe.probe

    def hanging(paths):
        if any(p.startswith("/mnt/dead") for p in paths):
            release.wait(30)
        return real(paths)
    monkeypatch.setattr(pathprobe, "probe", hanging)
    bridge = Bridge()
    try:
        run(qtbot, bridge.open(node_uri))
        task = run(qtbot, look_up(bridge.local_files, ["/mnt/dead/x.iso", str(tmp_path)], timeout=0.3))
        assert task.result() == {"/mnt/dead/x.iso": UNANSWERED, str(tmp_path): real([str(tmp_path)])[str(tmp_path)]}
        assert bridge.pending(node_uri) == 0  # the connection's share of the pool was never used
        assert len(run(qtbot, bridge.list_records(node_uri)).result()) == 8
    finally:
        release.set()
        bridge.shutdown()
        bridge.deleteLater()
