"""Retention and pruning of catalogued backups: the rule keeps exactly its backups, and every kept
incremental restores byte for byte after the backups it depended on are gone (or a prune was cancelled)."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from backupchain import MIB, UUID
from backupchain import chain as _chain
from backupchain import restored as _restored
from backupchain import same as _same
from jobwait import connection_job_end
from refusals import refused

from drivers import DriverError, ErrorCode, JobFlags, JobOperation, JobState, backupprune, backupretention
from drivers import backupcatalog as catalog
from drivers.backupretention import Retention


def _references(backups: list[catalog.Backup], into: Path) -> dict[str, Path]:
    into.mkdir(exist_ok=True)
    return {b.id: _restored(b, into) for b in backups}


def _assert_restorable(root: Path, refs: dict[str, Path], scratch: Path) -> list[catalog.Backup]:
    """Every backup still listed verifies and restores exactly as it did before the prune."""
    scratch.mkdir(exist_ok=True)
    found = catalog.find([str(root)], UUID)
    for backup in found:
        assert catalog.verify(backup).ok, catalog.verify(backup).summary()
        assert _same(_restored(backup, scratch), refs[backup.id]), backup.id
    leftovers = [n for d in root.iterdir() if d.is_dir() for n in os.listdir(d) if n.endswith(".part")]
    assert leftovers == []
    return found


def _backup(id_: str, started: str) -> catalog.Backup:
    return catalog.Backup(folder=f"/b/{id_}", id=id_, domain_name="vm", domain_uuid=UUID, domain_xml="",
                          started=started, ended=started, images=(catalog.Image("vda", "vda.img", "raw", 1, 1, ""),))


def test_the_rule_keeps_the_newest_n_and_those_of_the_last_days_and_without_limits_everything():
    now = catalog.epoch_of("2026-12-10T12:00:00Z")
    assert now is not None
    backups = [_backup(f"b{d}", f"2026-12-{d:02d}T12:00:00Z") for d in range(1, 10)]
    ids = [b.id for b in backups]

    def kept(rule: Retention) -> list[str]:
        return [b.id for b in backupretention.kept(backups, rule, now)]
    assert kept(Retention()) == ids
    assert kept(Retention(keep_last=2)) == ["b8", "b9"]
    assert kept(Retention(keep_days=3)) == ["b8", "b9"]  # b7 is exactly 3 days old: outside the last 3 days
    assert kept(Retention(keep_days=4)) == ["b7", "b8", "b9"]
    assert kept(Retention(keep_last=4, keep_days=2)) == ["b6", "b7", "b8", "b9"]
    assert kept(Retention(keep_last=1, keep_days=3)) == ["b8", "b9"]
    assert [b.id for b in backupretention.pruned(backups, Retention(keep_last=7), now)] == ["b1", "b2"]
    odd = _backup("odd", "yesterday")
    assert {b.id for b in backupretention.kept([odd, *backups], Retention(keep_last=1), now)} == {"odd", "b9"}


def test_a_rule_says_what_it_keeps_and_refuses_a_limit_below_one():
    assert Retention(keep_last=3, keep_days=1).describe() == "Keep the newest 3 and those of the last 1 day"
    assert Retention().describe() == "Keep every backup" and not Retention().limits
    assert Retention(keep_last=0).problem() == "Keep at least the newest backup (a count of 1 or more)."
    assert Retention(keep_days=0).problem() == "Keep backups of at least the last day (1 day or more)."


def test_pruning_the_full_backup_merges_it_into_its_child_and_every_kept_backup_restores_as_before(conn, tmp_path):
    root = tmp_path / "backups"
    full, inc1, inc2 = _chain(root)
    refs = _references([full, inc1, inc2], tmp_path / "before")
    info = connection_job_end(conn, conn.backup_prune([full.folder], JobFlags.ASYNC))
    assert info.state is JobState.COMPLETED and info.operation is JobOperation.BACKUP_PRUNE, info.error
    assert info.domain == "vm" and info.processed == info.total == 8 * MIB
    found = _assert_restorable(root, refs, tmp_path / "after")
    assert [b.id for b in found] == [inc1.id, inc2.id]
    assert not os.path.exists(full.folder)
    merged, child = found
    assert (merged.kind, merged.parent, merged.images[0].backing) == ("full", None, None)
    assert (child.kind, child.parent, child.images[0].backing) == ("incremental", inc1.id, f"../{inc1.id}/vda.qcow2")
    assert child.images[0].checksum == inc2.images[0].checksum  # a child of a kept backup is left as it was


def test_pruning_a_middle_incremental_rebases_its_child_onto_the_full_backup(conn, tmp_path):
    root = tmp_path / "backups"
    full, inc1, inc2 = _chain(root)
    refs = _references([full, inc1, inc2], tmp_path / "before")
    info = connection_job_end(conn, conn.backup_prune([inc1.folder], JobFlags.ASYNC))
    assert info.state is JobState.COMPLETED, info.error
    found = _assert_restorable(root, refs, tmp_path / "after")
    assert [b.id for b in found] == [full.id, inc2.id]
    child = found[1]
    assert (child.kind, child.parent, child.images[0].backing) == ("incremental", full.id, f"../{full.id}/vda.qcow2")
    out = subprocess.run(["qemu-img", "info", child.path(child.images[0])], capture_output=True, text=True,
                         check=True).stdout
    assert f"backing file: ../{full.id}/vda.qcow2" in out


def test_a_child_holding_a_part_file_left_by_a_crash_is_merged_too_never_left_without_its_parent(conn, tmp_path):
    root = tmp_path / "backups"
    full, inc1 = _chain(root, 2)
    refs = _references([full, inc1], tmp_path / "before")
    (Path(inc1.folder) / "vda.qcow2.part").write_bytes(b"half a merge")
    assert [b.id for b in catalog.find([str(root)], UUID)] == [full.id]  # unfinished: not listed
    info = connection_job_end(conn, conn.backup_prune([full.folder], JobFlags.ASYNC))
    assert info.state is JobState.COMPLETED, info.error
    [merged] = _assert_restorable(root, refs, tmp_path / "after")
    assert (merged.id, merged.kind, merged.parent) == (inc1.id, "full", None)


def test_a_retention_rule_prunes_exactly_the_backups_it_does_not_keep(conn, tmp_path):
    root = tmp_path / "backups"
    chain = _chain(root, 4)
    refs = _references(chain, tmp_path / "before")
    doomed = backupretention.pruned(catalog.find([str(root)], UUID), Retention(keep_last=1), 1e9)
    assert [b.id for b in doomed] == [b.id for b in chain[:3]]
    info = connection_job_end(conn, conn.backup_prune([b.folder for b in doomed], JobFlags.ASYNC))
    assert info.state is JobState.COMPLETED, info.error
    assert info.processed == info.total == 3 * 8 * MIB  # the last one is merged once per removed ancestor
    [last] = _assert_restorable(root, refs, tmp_path / "after")
    assert (last.id, last.kind, last.parent) == (chain[3].id, "full", None)
    assert sorted(os.listdir(root)) == [chain[3].id]


def test_a_prune_cancelled_at_any_point_leaves_every_backup_it_did_not_remove_restorable(tmp_path):
    pristine = tmp_path / "pristine"
    chain = _chain(pristine)
    refs = _references(chain, tmp_path / "before")
    stopped_at = []
    for n in range(1, 200):
        root = tmp_path / f"run{n}"
        shutil.copytree(pristine, root)
        family = catalog.find([str(root)], UUID)
        doomed = family[:2]  # the full and the first incremental: the last one is merged twice
        def cancelled(limit: int = n, calls: list[int] = [0]) -> bool:  # noqa: B006 - one count per run
            calls[0] += 1
            return calls[0] >= limit
        try:
            backupprune.prune(doomed, family, cancelled=cancelled)
        except DriverError as exc:
            assert exc.code is ErrorCode.OPERATION_ABORTED, exc
            stopped_at.append(len(catalog.find([str(root)], UUID)))
            _assert_restorable(root, refs, tmp_path / f"scratch{n}")
            shutil.rmtree(root)
            continue
        assert [b.id for b in _assert_restorable(root, refs, tmp_path / "final")] == [chain[2].id]
        break
    else:
        pytest.fail("the prune never finished")
    assert len(stopped_at) > 4 and set(stopped_at) == {3, 2}  # cancelled before and after the first removal


def test_a_prune_names_a_folder_without_a_backup_and_asks_for_at_least_one(conn, tmp_path):
    with refused(ErrorCode.INVALID_ARG, "no finished backup"):
        conn.backup_prune([str(tmp_path)])
    with refused(ErrorCode.INVALID_ARG, "at least one backup"):
        conn.backup_prune([])


def _held_at(monkeypatch, module, name: str) -> tuple[threading.Event, threading.Event]:
    """``module.name`` waits, once called, until the second event is set; the first says it was called."""
    reached, go_on = threading.Event(), threading.Event()
    real = getattr(module, name)

    def held(*args, **kwargs):
        reached.set()
        go_on.wait(30)
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, held)
    return reached, go_on


def test_a_backup_a_verify_reads_is_not_pruned_under_it_and_is_pruned_once_it_ends(conn, tmp_path, monkeypatch):
    root = tmp_path / "backups"
    full, inc1 = _chain(root, 2)
    reading, go_on = _held_at(monkeypatch, catalog, "verify")
    verify_job = conn.backup_verify(inc1.folder, JobFlags.ASYNC)  # reads the incremental and its full parent
    assert reading.wait(30)
    # the prune would merge the full backup into inc1 while the verify reads both, and the verify would then
    # write back inc1's old manifest, naming a parent that is gone
    with refused(ErrorCode.OPERATION_INVALID, f"in use by a verify of the backup {inc1.id}"):
        conn.backup_prune([full.folder])
    conn.backup_restore(full.folder, "copy", str(tmp_path / "images"))  # readers share the backups they read
    assert conn.lookup_by_name("copy") is not None
    go_on.set()
    assert connection_job_end(conn, verify_job).state is JobState.COMPLETED
    info = connection_job_end(conn, conn.backup_prune([full.folder], JobFlags.ASYNC))
    assert info.state is JobState.COMPLETED, info.error
    [merged] = catalog.find([str(root)], UUID)
    assert (merged.id, merged.kind, merged.parent) == (inc1.id, "full", None)
    assert catalog.verify(merged).ok


def test_a_restore_is_refused_while_a_prune_rewrites_its_backup(conn, tmp_path, monkeypatch):
    root = tmp_path / "backups"
    full, inc1 = _chain(root, 2)
    merging, go_on = _held_at(monkeypatch, backupprune, "merge_into")
    prune_job = conn.backup_prune([full.folder], JobFlags.ASYNC)
    assert merging.wait(30)
    with refused(ErrorCode.OPERATION_INVALID, f"in use by the removal of the backup {full.id}"):
        conn.backup_restore(inc1.folder, "copy", str(tmp_path / "images"))
    go_on.set()
    assert connection_job_end(conn, prune_job).state is JobState.COMPLETED
