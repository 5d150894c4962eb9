"""The bridge deletes disks through libvirt's storage API, never one a domain uses; local saves never overwrite."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from refusals import refused

import drivers
from drivers import ErrorCode, Feature

POOL_NODE = """<node>
  <pool type='dir'><name>p</name><uuid>35bb2ad9-388a-cdfe-461a-b8907f6e53fe</uuid>
    <target><path>/srv/lvpool</path></target>
    <volume><name>free.qcow2</name><capacity>1048576</capacity></volume>
    <volume><name>used.qcow2</name><capacity>1048576</capacity></volume>
    <volume><name>mine.qcow2</name><capacity>1048576</capacity></volume>
  </pool>
  <domain type='test'><name>user</name><uuid>6e1f8a43-0c35-4f0a-9d2a-7a5b4c3d2e10</uuid>
    <memory>65536</memory><os><type>hvm</type></os>
    <devices><disk type='file' device='disk'><source file='/srv/lvpool/used.qcow2'/><target dev='vda'/></disk></devices>
  </domain>
  <domain type='test'><name>leaving</name><uuid>6e1f8a43-0c35-4f0a-9d2a-7a5b4c3d2e11</uuid>
    <memory>65536</memory><os><type>hvm</type></os><test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>5</test:runstate>
    <devices><disk type='file' device='disk'><source file='/srv/lvpool/mine.qcow2'/><target dev='vda'/></disk></devices>
  </domain>
</node>"""
FREE, USED, MINE = "/srv/lvpool/free.qcow2", "/srv/lvpool/used.qcow2", "/srv/lvpool/mine.qcow2"


@pytest.fixture
def pooled(tmp_path: Path):
    node = tmp_path / "pool.xml"
    node.write_text(POOL_NODE)
    with drivers.open(f"libvirt:test://{node}") as conn:
        yield conn


def test_a_volume_nobody_uses_is_deleted_through_the_storage_api(pooled):
    assert pooled.supports_feature(Feature.DELETE_DISKS)
    assert pooled.check_delete_disks([FREE]) == {}
    assert pooled.delete_disks([FREE]) == [FREE]
    assert pooled.storage_visible([FREE]) == {FREE: None}, "the volume is gone from its pool"


def test_a_volume_a_domain_uses_is_refused_naming_it(pooled):
    user = pooled.lookup_by_name("user")
    with refused(ErrorCode.RESOURCE_BUSY, f"VM 'user' (uuid {user.uuid}, running on test://"):
        pooled.delete_disks([FREE, USED])  # all or nothing
    assert pooled.storage_visible([FREE, USED]) == {FREE: True, USED: True}
    leaving = pooled.lookup_by_name("leaving")
    assert pooled.check_delete_disks([MINE], leaving) == {}, "the domain being deleted does not count"
    found = pooled.check_delete_disks([MINE])
    assert found[MINE].code is ErrorCode.RESOURCE_BUSY and "domain 'leaving'" in found[MINE].message
    leaving.undefine()
    assert pooled.delete_disks([MINE]) == [MINE]


def test_a_path_in_no_pool_is_not_supported_with_the_reason(pooled, tmp_path):
    outside = tmp_path / "loose.qcow2"
    outside.write_bytes(b"data")
    found = pooled.check_delete_disks([str(outside)])
    assert found[str(outside)].code is ErrorCode.NO_SUPPORT
    assert "in no storage pool" in found[str(outside)].message
    with refused(ErrorCode.NO_SUPPORT, "libvirt deletes only pool volumes"):
        pooled.delete_disks([str(outside)])
    assert outside.read_bytes() == b"data"
    with refused(ErrorCode.INVALID_ARG):
        pooled.delete_disks(["relative.qcow2"])


def test_a_local_save_never_overwrites_an_existing_file(lvconn, tmp_path):
    dom = lvconn.lookup_by_name("run1")
    precious = tmp_path / "precious.img"
    precious.write_bytes(b"user data")
    with refused(ErrorCode.OPERATION_INVALID, f"{precious} already exists"):
        dom.save(str(precious))
    assert precious.read_bytes() == b"user data" and dom.is_active()


def test_a_real_daemon_s_volume_is_kept_while_a_guest_runs_on_it(qconn, libvirtd, unique):
    vconn = qconn.vconn()
    pool = vconn.storagePoolCreateXML(
        f"<pool type='dir'><name>del-{unique}</name><target><path>{libvirtd.images}</path></target></pool>", 0)
    try:
        disk = libvirtd.disk(f"del-{unique}", 8)
        spare = libvirtd.disk(f"spare-{unique}", 8)
        pool.refresh(0)
        dom = qconn.create_xml(libvirtd.domain_xml(f"del-{unique}", disk))
        with refused(ErrorCode.RESOURCE_BUSY, f"VM 'del-{unique}' (uuid {dom.uuid}, running on"):
            qconn.delete_disks([str(disk), str(spare)])
        assert disk.exists() and spare.exists()
        dom.destroy()  # transient: gone
        assert qconn.delete_disks([str(disk), str(spare)]) == [str(disk), str(spare)]
        assert not disk.exists() and not spare.exists()
    finally:
        pool.destroy()
    assert not os.path.exists(libvirtd.images / f"del-{unique}.qcow2")
