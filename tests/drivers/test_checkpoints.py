"""Checkpoints and incremental backups through the driver API on test:///, and the catalog's chains."""
from __future__ import annotations

import json
import os
import shutil

import pytest
from backupxml import backup_xml, checkpoint_xml
from jobwait import connection_job_end, domain_job_end
from refusals import refused

from drivers import ErrorCode, Feature, JobFlags, JobState
from drivers import backupcatalog as catalog
from drivers.checkpointxml import CheckpointDef
from drivers.domxml import DomainXML
from drivers.test.domain import DISK_BYTES


def _backup_xml(dom, folder: str, since: str | None = None) -> str:
    """Raw targets: the test driver writes a short text for each, which only a raw image can be."""
    devs = [d.target for d in DomainXML.parse(dom.xml_desc()).disks()]
    return backup_xml({d: f"{folder}/{d}.img" for d in devs}, since, "raw")


def _back_up(dom, backups, run: str, since: str | None = None, checkpoint: str | None = None):
    folder = os.path.join(str(backups), run)
    os.makedirs(folder)
    job_id = dom.backup_begin(_backup_xml(dom, folder, since), 0, checkpoint_xml(checkpoint) if checkpoint else None)
    info = domain_job_end(dom, job_id)
    assert info.state is JobState.COMPLETED, info.error
    return catalog.read(folder), info


def test_checkpoints_are_created_listed_described_and_deleted_into_their_parent(conn):
    assert conn.supports_feature(Feature.INCREMENTAL_BACKUP)
    dom = conn.lookup_by_name("test")
    first = dom.checkpoint_create(checkpoint_xml("monday", "before the upgrade"))
    dom.checkpoint_create(checkpoint_xml("tuesday"))
    dom.checkpoint_create(checkpoint_xml("wednesday"))
    assert [c.name for c in dom.list_all_checkpoints()] == ["monday", "tuesday", "wednesday"]
    assert first.parent_name() is None and dom.checkpoint_lookup_by_name("tuesday").parent_name() == "monday"
    xml = first.xml_desc()
    assert "<name>monday</name>" in xml and "<description>before the upgrade</description>" in xml
    assert "<creationTime>" in xml and "<disk name=" in xml and "<parent>" not in xml
    assert CheckpointDef.parse(dom.checkpoint_lookup_by_name("tuesday").xml_desc()).parent == "monday"

    dom.checkpoint_lookup_by_name("tuesday").delete()
    assert dom.checkpoint_lookup_by_name("wednesday").parent_name() == "monday"
    with refused(ErrorCode.NO_DOMAIN_CHECKPOINT, "no checkpoint 'tuesday'"):
        dom.checkpoint_lookup_by_name("tuesday")
    with refused(ErrorCode.OPERATION_INVALID, "already has a checkpoint named 'monday'"):
        dom.checkpoint_create(checkpoint_xml("monday"))
    for bad in ("", "<domaincheckpoint><name>a/b</name></domaincheckpoint>", "<domainsnapshot/>"):
        with pytest.raises(Exception) as err:
            dom.checkpoint_create(bad)
        assert getattr(err.value, "code", None) in (ErrorCode.INVALID_ARG, ErrorCode.INVALID_XML), err.value


def test_a_full_and_incrementals_chain_in_the_catalog_and_restore(conn, tmp_path):
    dom = conn.lookup_by_name("test")
    backups = tmp_path / "backups"
    full, info_full = _back_up(dom, backups, "test-1", checkpoint="c1")
    inc, info_inc = _back_up(dom, backups, "test-2", since="c1", checkpoint="c2")
    top, _ = _back_up(dom, backups, "test-3", since="c2", checkpoint="c3")
    assert (full.kind, full.parent, full.checkpoint, full.full_reason) == ("full", None, "c1", None)
    assert (inc.kind, inc.parent, inc.checkpoint) == ("incremental", "test-1", "c2")
    assert (top.kind, top.parent) == ("incremental", "test-2")
    assert [i.backing for i in inc.images] == [f"../test-1/{i.file}" for i in full.images]
    assert info_inc.note is None and info_inc.total < info_full.total  # only the changes are copied
    with open(os.path.join(top.folder, catalog.MANIFEST), encoding="utf-8") as fh:
        raw = json.load(fh)
    assert raw["checkpoint"] == "c3" and raw["parent"] == "test-2" and raw["disks"][0]["backing"].startswith("../")
    assert [b.id for b in catalog.chain(top)] == ["test-3", "test-2", "test-1"]
    assert catalog.verify(top).ok

    job_id = conn.backup_restore(top.folder, "from-chain", str(tmp_path / "images"), JobFlags.ASYNC)
    assert connection_job_end(conn, job_id).state is JobState.COMPLETED
    assert conn.lookup_by_name("from-chain").uuid != dom.uuid


def test_an_incremental_whose_parent_is_gone_is_listed_but_cannot_be_restored_and_fails_verify(conn, tmp_path):
    dom = conn.lookup_by_name("test")
    backups = tmp_path / "backups"
    _back_up(dom, backups, "test-1", checkpoint="c1")
    inc, _ = _back_up(dom, backups, "test-2", since="c1", checkpoint="c2")
    shutil.rmtree(backups / "test-1")
    [listed] = catalog.find([str(backups)], dom.uuid)
    assert listed.id == "test-2"
    why = catalog.restore_problem(listed)
    assert why == f"the backup test-2 is incremental and its parent backup test-1 is missing from {backups}"
    with refused(ErrorCode.OPERATION_INVALID, "its parent backup test-1 is missing"):
        conn.backup_restore(inc.folder, "orphan", str(tmp_path / "images"))
    assert not conn.list_all_domains() or "orphan" not in [d.name for d in conn.list_all_domains()]
    result = catalog.verify(listed)
    assert not result.ok and why in result.problems


def test_an_unknown_or_empty_incremental_checkpoint_is_refused_before_anything_is_written(conn, tmp_path):
    dom = conn.lookup_by_name("test")
    folder = tmp_path / "b"
    folder.mkdir()
    jobs = len(conn.list_all_jobs())
    with refused(ErrorCode.NO_DOMAIN_CHECKPOINT, "domain 'test' has no checkpoint 'never'"):
        dom.backup_begin(_backup_xml(dom, str(folder), "never"))
    bad = _backup_xml(dom, str(folder)).replace("<disks>", "<incremental> </incremental><disks>")
    with refused(ErrorCode.INVALID_XML, "name the checkpoint"):
        dom.backup_begin(bad)
    with refused(ErrorCode.INVALID_XML):
        dom.backup_begin(_backup_xml(dom, str(folder)), 0, "<domaincheckpoint><name>x</name>")
    assert os.listdir(folder) == [] and len(conn.list_all_jobs()) == jobs
    assert dom.list_all_checkpoints() == []


def test_an_incremental_without_its_parent_backup_or_after_a_revert_is_full_and_says_why(conn, tmp_path):
    dom = conn.lookup_by_name("test")
    dom.checkpoint_create(checkpoint_xml("lonely"))  # a checkpoint no backup was taken at
    alone, info = _back_up(dom, tmp_path / "backups", "test-1", since="lonely", checkpoint="c1")
    assert info.note == f"full: no finished backup taken at checkpoint 'lonely' is in {tmp_path / 'backups'}"
    assert (alone.kind, alone.parent, alone.full_reason) == ("full", None, info.note[len("full: "):])
    assert [i.backing for i in alone.images] == [None] * len(alone.images)
    assert info.total == DISK_BYTES * len(alone.images)

    snap = dom.snapshot_create("before")
    snap.revert()
    after, info = _back_up(dom, tmp_path / "backups", "test-2", since="c1", checkpoint="c2")
    assert info.note == "full: the VM was reverted to snapshot 'before'"
    assert (after.kind, after.full_reason) == ("full", "the VM was reverted to snapshot 'before'")
    # the untrustworthy checkpoints are gone: the new one starts a new chain
    assert [(c.name, c.parent_name()) for c in dom.list_all_checkpoints()] == [("c2", None)]
    next_one, info = _back_up(dom, tmp_path / "backups", "test-3", since="c2", checkpoint="c3")
    assert info.note is None and (next_one.kind, next_one.parent) == ("incremental", "test-2")


def test_a_manifest_with_a_broken_chain_field_is_refused(tmp_path):
    folder = tmp_path / "x-1"
    folder.mkdir()
    (folder / "vda.qcow2").write_bytes(b"data")
    base = {"schema": 1, "id": "x-1", "domain": {"name": "x", "uuid": "u", "xml": ""},
            "disks": [{"target": "vda", "file": "vda.qcow2", "format": "qcow2", "virtual_size": 1, "bytes": 4,
                       "sha256": "0"}]}
    cases = [({"kind": "incremental", "parent": None}, "names no parent"),
             ({"kind": "incremental", "parent": "x-0",
               "disks": [{**base["disks"][0], "backing": "/etc/passwd"}]}, "not ../<backup>/<file>")]
    for change, words in cases:
        (folder / catalog.MANIFEST).write_text(json.dumps({**base, **change}))
        with refused(ErrorCode.INVALID_ARG, words):
            catalog.read(str(folder))
