"""The last step of a backup QEMU copied, as the next process runs it after a crash: names and catalog entry."""
from __future__ import annotations

import os
import subprocess
from types import SimpleNamespace

from drivers import backupcatalog
from drivers.qemu import backup, partfiles

MIB = 1 << 20


def _qcow2(path: str) -> None:
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", path, str(4 * MIB)], check=True)


def test_a_backup_whose_first_image_was_already_named_when_vmgui_died_is_finished_whole(tmp_path):
    folder = tmp_path / "web01-1"
    folder.mkdir()
    finals = {dev: str(folder / f"{dev}.qcow2") for dev in ("vda", "vdb")}
    parts = {dev: partfiles.part_name(final) for dev, final in finals.items()}
    _qcow2(finals["vda"])  # renamed before the crash
    _qcow2(parts["vdb"])  # still under its temporary name
    note = {"kind": "backup", "copied": True, "started": 1000.0, "lineage": {"kind": "full"},
            "targets": {dev: [parts[dev], finals[dev]] for dev in finals}, "formats": {"vda": "qcow2", "vdb": "qcow2"}}
    written = backup.copied_written(note)
    assert written is not None and [w.path for w in written] == [finals["vda"], parts["vdb"]]
    dom = SimpleNamespace(name="web01", uuid="6b9a2d1c-0d2e-4f55-9a63-1f0c0b3a7e11")
    backup.store(dom, "<domain><name>web01</name></domain>", written, note, 1000.0, lambda: False)
    assert sorted(os.listdir(folder)) == [backupcatalog.MANIFEST, "vda.qcow2", "vdb.qcow2"], "nothing removed"
    stored = backupcatalog.read(str(folder))
    assert [i.file for i in stored.images] == ["vda.qcow2", "vdb.qcow2"]
    assert backupcatalog.verify(stored).ok
