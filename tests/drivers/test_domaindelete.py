"""Deleting a domain with the disk files the user ticked, and the backup a folder receives: test:/// driver."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from refusals import refused

import drivers
from drivers import ErrorCode
from drivers.domaindelete import delete_domain
from drivers.domxml import Disk, DomainXML
from drivers.snapxml import BackupDef, BackupDisk, backup_file


def _with_disk(conn: drivers.Connection, name: str, *paths: str) -> drivers.Domain:
    xml = DomainXML.new(name, 65536, 1)
    for i, path in enumerate(paths):
        xml.add_disk(Disk(f"vd{chr(ord('a') + i)}", source=path, format="qcow2"))
    return conn.define_xml(xml.to_string())


def _image(tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(b"QFI\xfb guest data")
    return str(path)


def _names(conn: drivers.Connection) -> set[str]:
    return {d.name for d in conn.list_all_domains()}


def test_the_definition_and_the_ticked_files_go_the_others_stay(conn, tmp_path):
    ticked, kept = _image(tmp_path, "a.qcow2"), _image(tmp_path, "b.qcow2")
    dom = _with_disk(conn, "leaving", ticked, kept)
    assert delete_domain(dom, files=[ticked]) == [ticked]
    assert "leaving" not in _names(conn)
    assert not os.path.lexists(ticked) and Path(kept).read_bytes().startswith(b"QFI")


def test_a_refused_file_leaves_the_domain_defined_and_every_file_in_place(conn, tmp_path):
    own, shared = _image(tmp_path, "own.qcow2"), _image(tmp_path, "shared.qcow2")
    dom = _with_disk(conn, "leaving", own, shared)
    _with_disk(conn, "staying", shared)
    with refused(ErrorCode.RESOURCE_BUSY, "'leaving' was not deleted: disk " + shared + " is in use by domain "
                 "'staying'"):
        delete_domain(dom, files=[own, shared])
    assert "leaving" in _names(conn)
    assert os.path.exists(own) and os.path.exists(shared)


def test_a_running_domain_is_forced_off_only_when_asked(conn, tmp_path):
    dom = _with_disk(conn, "busy", _image(tmp_path, "busy.qcow2"))
    dom.create()
    delete_domain(dom, force_off=True)
    assert "busy" not in _names(conn)


def test_saved_state_blocks_the_undefine_unless_the_flags_cover_it(conn):
    dom = conn.lookup_by_name("test")
    dom.managed_save()
    with refused(ErrorCode.OPERATION_INVALID):
        delete_domain(dom, flags=0)
    assert "test" in _names(conn)
    assert delete_domain(dom) == [] and "test" not in _names(conn)


def test_a_folder_backup_names_one_new_file_per_disk_and_reads_back(tmp_path):
    folder = str(tmp_path)
    plan = BackupDef.into_folder("web01", ["vda", "vdb"], folder, "20260101-000000")
    assert plan.disks == (BackupDisk("vda", f"{folder}/web01-vda-20260101-000000.qcow2"),
                          BackupDisk("vdb", f"{folder}/web01-vdb-20260101-000000.qcow2"))
    assert BackupDef.parse(plan.to_xml(), ["vda", "vdb"]) == plan
    assert backup_file(folder, "web01", "vda", "s") == os.path.join(folder, "web01-vda-s.qcow2")


def test_a_domain_without_disks_has_nothing_to_back_up(tmp_path):
    with refused(ErrorCode.OPERATION_INVALID, "domain 'bare' has no disk to back up"):
        BackupDef.into_folder("bare", [], str(tmp_path), "s")


@pytest.mark.parametrize("name", ["we<b>01", "a&b", "q'uote\""])
def test_folder_backup_xml_escapes_what_a_name_carries(tmp_path, name):
    plan = BackupDef.into_folder(name, ["vda"], str(tmp_path), "s")
    assert BackupDef.parse(plan.to_xml(), ["vda"]).disks[0].target == backup_file(str(tmp_path), name, "vda", "s")
