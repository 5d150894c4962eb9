"""Real QEMU: rename, disk creation by id-cancel, storage visibility, uptime and resident memory."""
from __future__ import annotations

import time

import e2e_helpers as h
import pytest
from jobwait import connection_job_end

from drivers import DiskCreateFlags, DomainState, DriverError, ErrorCode, Feature, JobFlags, JobState
from drivers.flags import DefinedDetail, UndefinedDetail

pytestmark = pytest.mark.qemu


def test_rename_survives_a_restart_of_the_driver(env):
    conn = env.open()
    assert conn.supports_feature(Feature.RENAME)
    events = h.EventLog(conn)
    dom = conn.define_xml(env.xml("alpha"))
    uuid = dom.uuid
    dom.rename("beta")
    assert dom.name == "beta" and conn.lookup_by_uuid(uuid).name == "beta"
    conn.host.bus.flush()
    assert events.kinds("alpha")[-1:] == [("UNDEFINED", UndefinedDetail.RENAMED)]
    assert events.kinds("beta") == [("DEFINED", DefinedDetail.RENAMED)]
    conn.close()
    conn = env.open()
    with h.refused(ErrorCode.NO_DOMAIN):
        conn.lookup_by_name("alpha")
    dom = conn.lookup_by_name("beta")
    assert dom.uuid == uuid and "<name>beta</name>" in dom.xml_desc()
    config_text = (env.root() / "domains" / uuid / "domain.xml").read_text()
    assert "<name>beta</name>" in config_text and "<name>alpha</name>" not in config_text
    dom.create()
    h.wait_heartbeat(env.serial("alpha"), 1)  # the serial file path is part of the definition
    assert (env.root() / "logs" / "beta.log").exists() and not (env.root() / "logs" / "alpha.log").exists()


def test_a_rename_that_cannot_be_written_leaves_the_old_name_everywhere(env, monkeypatch):
    conn = env.open()
    events = h.EventLog(conn)
    dom = conn.define_xml(env.xml("alpha"))
    uuid = dom.uuid
    save_meta, calls = conn.host.save_meta, []

    def full_disk_once(qdom):
        calls.append(qdom.name)
        if len(calls) == 1:  # the config is written by now; its metadata is not
            raise DriverError(ErrorCode.OPERATION_FAILED, "No space left on device")
        save_meta(qdom)

    monkeypatch.setattr(conn.host, "save_meta", full_disk_once)
    with h.refused(ErrorCode.OPERATION_FAILED):
        dom.rename("beta")
    assert calls == ["beta", "alpha"]
    conn.host.bus.flush()
    assert dom.name == "alpha" and conn.lookup_by_uuid(uuid).name == "alpha"
    with h.refused(ErrorCode.NO_DOMAIN):
        conn.lookup_by_name("beta")
    assert ("UNDEFINED", UndefinedDetail.RENAMED) not in events.kinds()
    conn.close()
    conn = env.open()
    assert conn.lookup_by_uuid(uuid).name == "alpha" and "<name>alpha</name>" in conn.lookup_by_uuid(uuid).xml_desc()


def test_rename_refusals(env):
    conn = env.open()
    disk = h.make_qcow2(env.base / "snap.qcow2")
    running = conn.define_xml(env.xml("running"))
    running.create()
    with h.refused(ErrorCode.OPERATION_INVALID) as err:
        running.rename("other")
    assert "active" in err.value.message
    idle = conn.define_xml(env.xml("idle", disks=[{"path": disk}]))
    with h.refused(ErrorCode.OPERATION_INVALID) as err:
        idle.rename("running")
    assert "domain with name 'running' already exists" in err.value.message
    with h.refused(ErrorCode.INVALID_ARG):
        idle.rename("a/b")
    idle.snapshot_create("s1")
    with h.refused(ErrorCode.OPERATION_INVALID) as err:
        idle.rename("other")
    assert "with snapshots" in err.value.message
    assert {d.name for d in conn.list_all_domains()} == {"running", "idle"}
    assert (env.root() / "domains" / idle.uuid / "domain.xml").read_text().count("<name>idle</name>") == 1


def test_a_preallocating_disk_creation_is_cancelled_by_job_id(env):
    conn = env.open()
    path = env.base / "big.raw"
    job_id = conn.create_disk(str(path), 4 << 30, "raw", DiskCreateFlags.PREALLOCATE | JobFlags.ASYNC)
    conn.abort_job(job_id)
    assert connection_job_end(conn, job_id, timeout=30).state is JobState.CANCELLED and not path.exists()


def test_storage_visible_is_the_local_filesystem(env):
    conn = env.open()
    disk = h.make_qcow2(env.base / "d.qcow2")
    link = env.base / "dangling"
    link.symlink_to(env.base / "missing")
    paths = [disk, str(env.base), str(link), str(env.base / "missing"), "rel.qcow2"]
    assert conn.storage_visible(paths) == {disk: True, str(env.base): False, str(link): False,
                                           str(env.base / "missing"): False, "rel.qcow2": None}
    with h.refused(ErrorCode.INVALID_ARG):
        conn.storage_visible("/one/path")


def test_records_tell_uptime_and_resident_memory(env):
    conn = env.open()
    dom = conn.define_xml(env.xml("up"))
    rec = dom.record()
    assert rec.started_at is None and rec.memory_used_kib is None
    before = time.time()
    dom.create()
    rec = next(r for r in conn.get_all_domain_stats() if r.uuid == dom.uuid)
    assert rec.state is DomainState.RUNNING and before <= rec.started_at <= time.time()
    with open(f"/proc/{dom.qemu_pid()}/status") as fh:
        vmrss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    assert rec.memory_used_kib > 1024 and abs(rec.memory_used_kib - vmrss) < max(4096, vmrss // 10)
    conn.close()
    again = env.open().lookup_by_name("up").record()  # re-attached: same start time
    assert again.started_at == pytest.approx(rec.started_at)
