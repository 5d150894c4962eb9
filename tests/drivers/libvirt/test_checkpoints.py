"""The bridge's checkpoints and incremental backups against a real private libvirtd running a TCG guest."""
from __future__ import annotations

import json
import subprocess

import pytest
from backupxml import backup_xml, checkpoint_xml
from jobwait import domain_job_end
from refusals import refused

from drivers import ErrorCode, Feature, JobState

pytestmark = [pytest.mark.libvirt, pytest.mark.slow]


def _allocated(path: str) -> int:
    return int(json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", path], capture_output=True,
                                         check=True).stdout)["actual-size"])


def test_libvirt_checkpoints_and_an_incremental_backup_through_the_bridge(qconn, libvirtd, unique):
    assert qconn.supports_feature(Feature.INCREMENTAL_BACKUP)  # libvirt 7.6 or later, QEMU driver
    disk = libvirtd.disk(f"cp-{unique}", 64, data_mib=8)
    dom = qconn.define_xml(libvirtd.domain_xml(f"cp-{unique}", disk))
    dom.create()
    full = str(libvirtd.images / f"cp-{unique}-full.qcow2")
    job_id = dom.backup_begin(backup_xml({"vda": full}), 0, checkpoint_xml("first"))
    assert domain_job_end(dom, job_id, timeout=120).state is JobState.COMPLETED
    assert [c.name for c in dom.list_all_checkpoints()] == ["first"]
    first = dom.checkpoint_lookup_by_name("first")
    assert first.parent_name() is None and "<name>first</name>" in first.xml_desc()

    inc = str(libvirtd.images / f"cp-{unique}-inc.qcow2")
    job_id = dom.backup_begin(backup_xml({"vda": inc}, "first"), 0, checkpoint_xml("second"))
    info = domain_job_end(dom, job_id, timeout=120)
    assert info.state is JobState.COMPLETED, info.error
    assert _allocated(inc) < _allocated(full) / 4, "libvirt copied the blocks changed since 'first' only"
    second = dom.checkpoint_lookup_by_name("second")
    assert second.parent_name() == "first"

    with refused(ErrorCode.NO_DOMAIN_CHECKPOINT):
        dom.checkpoint_lookup_by_name("never")
    second.delete()
    assert [c.name for c in dom.list_all_checkpoints()] == ["first"]
    dom.checkpoint_create(checkpoint_xml("third"))
    assert dom.checkpoint_lookup_by_name("third").parent_name() == "first"
    dom.destroy()
    with refused(ErrorCode.NO_SUPPORT, "inactive domain"):  # libvirt merges bitmaps in the running QEMU only
        dom.checkpoint_lookup_by_name("third").delete()
    dom.create()
    for cp in reversed(dom.list_all_checkpoints()):
        cp.delete()
    assert dom.list_all_checkpoints() == []
    dom.destroy()
    dom.undefine()
