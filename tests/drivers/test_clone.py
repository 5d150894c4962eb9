"""Cloning on the test driver: a CLONE job that copies a shut-off domain's disks to a new domain."""
from __future__ import annotations

import os
import time

import pytest
from refusals import refused

from drivers import CloneFlags, DomainXMLFlags, ErrorCode, Feature, JobFlags, JobOperation, JobState
from drivers.domxml import DomainXML

MIB = 1 << 20


def vm_xml(name: str, disk: str, cd: str) -> str:
    return (f"<domain type='test'><name>{name}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>"
            f"<devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{disk}'/>"
            f"<target dev='vda'/></disk><disk type='file' device='cdrom'><source file='{cd}'/>"
            "<target dev='sda' bus='sata'/><readonly/></disk>"
            "<interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/></interface>"
            "</devices></domain>")


@pytest.fixture
def original(conn, tmp_path):
    disk, cd = tmp_path / "orig-vda.raw", tmp_path / "install.iso"
    disk.write_bytes(os.urandom(2 * MIB))
    cd.write_bytes(b"\0" * 4096)
    return conn.define_xml(vm_xml("orig", str(disk), str(cd))), disk, cd


def last_job(conn):
    return [j for j in conn.list_all_jobs() if j.operation is JobOperation.CLONE][-1]


def test_a_full_clone_gets_a_new_name_uuid_mac_and_its_own_copy_of_each_disk(conn, original, tmp_path):
    dom, disk, cd = original
    assert conn.supports_feature(Feature.CLONE)
    assert conn.clone_domain("orig", "copy") is None
    made = conn.lookup_by_name("copy")
    new = DomainXML.parse(made.xml_desc(DomainXMLFlags.INACTIVE))
    old = DomainXML.parse(dom.xml_desc(DomainXMLFlags.INACTIVE))
    assert made.uuid != dom.uuid and new.interfaces()[0].mac != "52:54:00:aa:bb:cc"
    assert new.interfaces()[0].mac.startswith("52:54:00:")
    copy = tmp_path / "copy-vda.raw"
    assert new.disk("vda").source == str(copy) and copy.read_bytes() == disk.read_bytes()
    assert new.disk("sda").source == str(cd), "a CD-ROM is shared, not copied"
    assert old.disk("vda").source == str(disk) and not old.disk("vda").readonly, "the original is untouched"
    job = last_job(conn)
    assert (job.state, job.domain, job.processed, job.total) == (JobState.COMPLETED, "orig", 2 * MIB, 2 * MIB)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


def test_a_linked_clone_is_an_overlay_and_its_base_becomes_read_only(conn, original, tmp_path):
    dom, disk, _cd = original
    conn.clone_domain(dom, "thin", CloneFlags.LINKED)
    new = DomainXML.parse(conn.lookup_by_name("thin").xml_desc())
    overlay = tmp_path / "thin-vda.qcow2"
    assert new.disk("vda").source == str(overlay) and new.disk("vda").format == "qcow2"
    assert f"<source file=\"{disk}\"/>" in new.to_string(), "the clone names its base as its backingStore"
    assert DomainXML.parse(dom.xml_desc()).disk("vda").readonly, "the original no longer writes its base"
    with refused(ErrorCode.RESOURCE_BUSY, "'thin'"):
        conn.delete_disks([str(disk)])
    assert disk.exists()


def test_a_cancelled_clone_leaves_nothing(slow_conn, tmp_path):
    disk, cd = tmp_path / "big-vda.raw", tmp_path / "install.iso"
    disk.write_bytes(os.urandom(64 * MIB))
    cd.write_bytes(b"\0" * 4096)
    slow_conn.define_xml(vm_xml("big", str(disk), str(cd)))
    job_id = slow_conn.clone_domain("big", "bigcopy", JobFlags.ASYNC)
    slow_conn.abort_job(job_id)
    deadline = time.monotonic() + 30
    while (job := last_job(slow_conn)).state is JobState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job.state is JobState.CANCELLED
    assert sorted(os.listdir(tmp_path)) == sorted(["big-vda.raw", "install.iso", "node.xml"])
    with refused(ErrorCode.NO_DOMAIN):
        slow_conn.lookup_by_name("bigcopy")


def test_clone_refusals_name_what_to_do(conn, original, tmp_path):
    dom, _disk, _cd = original
    with refused(ErrorCode.OPERATION_INVALID, "a domain named 'test' already exists; choose another name for "
                                              "the clone"):
        conn.clone_domain("orig", "test")
    with refused(ErrorCode.INVALID_ARG):
        conn.clone_domain("orig", "bad/name")
    (tmp_path / "taken-vda.raw").write_bytes(b"keep")
    with refused(ErrorCode.OPERATION_INVALID, f"{tmp_path}/taken-vda.raw already exists"):
        conn.clone_domain("orig", "taken")
    assert (tmp_path / "taken-vda.raw").read_bytes() == b"keep"
    dom.create()
    with refused(ErrorCode.OPERATION_INVALID, "'orig' is not shut off; shut it down to clone it"):
        conn.clone_domain("orig", "live")
    with refused(ErrorCode.INVALID_ARG, "unsupported flags"):
        conn.clone_domain("orig", "x", 1 << 5)
    assert {d.name for d in conn.list_all_domains()}.isdisjoint({"taken", "live", "x"})


def test_a_demo_domain_with_simulated_disks_clones_at_the_hosts_rate(conn):
    legacy = DomainXML.parse(conn.lookup_by_name("legacy-app").xml_desc(DomainXMLFlags.INACTIVE))
    disks = [d.source for d in legacy.disks() if d.device == "disk" and not d.readonly]
    assert disks and not any(os.path.exists(p) for p in disks), "the demo's images exist only in the simulation"
    conn.clone_domain("legacy-app", "legacy-twin")
    twin = DomainXML.parse(conn.lookup_by_name("legacy-twin").xml_desc())
    copies = [d.source for d in twin.disks() if d.device == "disk" and not d.readonly]
    assert len(copies) == len(disks) and not set(copies) & set(disks)
    assert conn.storage_visible(copies) == dict.fromkeys(copies, True)
    job = last_job(conn)
    assert job.state is JobState.COMPLETED and job.processed == job.total == len(disks) * 1024 ** 3


def test_a_saved_domain_is_not_made_a_linked_base(conn, original):
    dom, disk, _cd = original
    dom.create()
    dom.managed_save()
    with refused(ErrorCode.OPERATION_INVALID, "'orig' has a saved state that goes on writing its disks"):
        conn.clone_domain("orig", "thin", CloneFlags.LINKED)
    assert not DomainXML.parse(dom.xml_desc(DomainXMLFlags.INACTIVE)).disk("vda").readonly
    conn.clone_domain("orig", "full")  # a full copy leaves the original as it is
    assert conn.lookup_by_name("full").uuid != dom.uuid and dom.has_managed_save()
