"""Issue-8 additions through the libvirt bridge: rename, storage visibility, disk creation, record figures."""
from __future__ import annotations

import time

import pytest
from refusals import refused

from drivers import ErrorCode, EventType, Feature
from drivers.flags import DefinedDetail, UndefinedDetail

pytestmark = pytest.mark.libvirt


def lifecycle_events(conn, events, count, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(events) < count:
        conn.wait_events()
        time.sleep(0.02)
    return events


def test_rename_through_libvirt(lvconn):
    assert lvconn.supports_feature(Feature.RENAME)
    events = []
    lvconn.register_event_callback(
        lambda c, d, e: events.append((e.domain_name, e.type, e.detail))
        if e.type in (EventType.DEFINED, EventType.UNDEFINED) else None)
    dom = lvconn.lookup_by_name("off1")
    dom.rename("renamed")
    assert dom.name == "renamed" and "<name>renamed</name>" in dom.xml_desc()
    assert lvconn.lookup_by_name("renamed").uuid == dom.uuid
    with refused(ErrorCode.NO_DOMAIN):
        lvconn.lookup_by_name("off1")
    assert lifecycle_events(lvconn, events, 2) == [("off1", EventType.UNDEFINED, UndefinedDetail.RENAMED),
                                                   ("renamed", EventType.DEFINED, DefinedDetail.RENAMED)]


@pytest.mark.parametrize("name, new, code, words", [
    ("run1", "x", ErrorCode.OPERATION_INVALID, "cannot rename active domain"),
    ("off1", "run1", ErrorCode.OPERATION_INVALID, "domain with name 'run1' already exists"),
    ("off1", "off1", ErrorCode.OPERATION_INVALID, "itself"),
    ("off1", "a/b", ErrorCode.INVALID_ARG, "invalid domain name"),
    ("off1", "", ErrorCode.INVALID_ARG, "invalid domain name"),
])
def test_rename_refusals_keep_libvirts_words(lvconn, name, new, code, words):
    dom = lvconn.lookup_by_name(name)
    with refused(code, words):
        dom.rename(new)
    assert dom.name == name and lvconn.lookup_by_name(name).uuid == dom.uuid


def test_storage_visible_knows_pool_volumes_only(lvconn, tmp_path):
    vconn = lvconn.vconn()
    pool = vconn.storagePoolCreateXML("<pool type='dir'><name>p</name><target><path>/pool</path></target></pool>", 0)
    vol = pool.createXML("<volume><name>disk.img</name><capacity unit='MiB'>1</capacity></volume>", 0)
    real = tmp_path / "outside.img"
    real.write_bytes(b"x")
    paths = [vol.path(), str(real), "/no/such/file"]
    assert lvconn.storage_visible(paths) == {vol.path(): True, str(real): None, "/no/such/file": None}
    assert lvconn.storage_visible([]) == {}
    with refused(ErrorCode.INVALID_ARG):
        lvconn.storage_visible("/a/path")


def test_disk_creation_is_left_to_the_host(lvconn, tmp_path):
    assert not lvconn.supports_feature(Feature.DISK_CREATE)
    with refused(ErrorCode.NO_SUPPORT, "on the host"):
        lvconn.create_disk(str(tmp_path / "x.qcow2"), 1 << 20)
    assert not (tmp_path / "x.qcow2").exists()


def test_records_without_balloon_stats_leave_the_new_figures_unknown(lvconn):
    for rec in [*lvconn.get_all_domain_stats(), lvconn.lookup_by_name("run1").record()]:
        assert rec.started_at is None and rec.memory_used_kib is None


@pytest.mark.slow
def test_a_qemu_guest_reports_its_resident_memory_and_renames(qconn, libvirtd, unique):
    assert qconn.supports_feature(Feature.RENAME)
    dom = qconn.define_xml(libvirtd.domain_xml(f"rn-{unique}"))
    dom.rename(f"rn2-{unique}")
    assert qconn.lookup_by_name(f"rn2-{unique}").uuid == dom.uuid
    dom.create()
    rec = next(r for r in qconn.get_all_domain_stats() if r.uuid == dom.uuid)
    assert rec.started_at is None  # libvirt does not report it
    assert rec.memory_used_kib is not None and rec.memory_used_kib > 1024
    assert dom.record().memory_used_kib > 1024
    with refused(ErrorCode.OPERATION_INVALID, "active"):
        dom.rename(f"rn3-{unique}")
