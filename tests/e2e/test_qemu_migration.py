"""Real QEMU: migration between two roots (two "hosts"), cancel, lease hand-over and conflicts."""
from __future__ import annotations

import e2e_helpers as h
import pytest

from drivers import DomainState, DriverError, ErrorCode, JobFlags, JobOperation, JobState, MigrateFlags
from drivers.flags import ShutoffReason

pytestmark = pytest.mark.qemu


def test_live_migration_keeps_the_heartbeat(env):
    src = env.open("hostA")
    dst = env.open("hostB")
    assert not src.same_host(dst)
    log_src, log_dst = h.EventLog(src), h.EventLog(dst)
    disk = h.make_qcow2(env.base / "shared.qcow2")
    dom = src.define_xml(env.xml("mover", memory_mib=64, disks=[{"path": disk}]))
    dom.create()
    serial = env.serial("mover")
    before = h.wait_heartbeat(serial, 3)
    moved = dom.migrate(dst, MigrateFlags.LIVE | MigrateFlags.PERSIST_DEST)
    assert moved.connection is dst and moved.name == "mover"
    assert moved.state()[0] == DomainState.RUNNING and moved.is_persistent()
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.MIGRATED) and dom.is_persistent()
    after = h.wait_heartbeat(serial, before + 3)
    assert h.boots(serial) == 1, "the guest continued, it was not rebooted"
    job = dom.get_job_info()
    assert job.operation == JobOperation.MIGRATION_OUT and job.state == JobState.COMPLETED
    assert job.processed > 0 and job.total and job.detail("iteration") is not None
    assert job.detail("remaining_bytes") is not None  # the dirty rate: test_qemu_migration_safety
    src.host.bus.flush()
    dst.host.bus.flush()
    assert ("STOPPED", 3) in log_src.kinds("mover")  # StoppedDetail.MIGRATED
    assert log_dst.kinds("mover")[:1] == [("STARTED", 1)] and ("RESUMED", 1) in log_dst.kinds("mover")
    # the disk lease moved with the guest: the source cannot start it again meanwhile
    with h.refused(ErrorCode.RESOURCE_BUSY):
        dom.create()
    assert not dom.is_active()
    # and back again, undefining the source this time
    back = moved.migrate(src, MigrateFlags.LIVE | MigrateFlags.UNDEFINE_SOURCE)
    assert back.state()[0] == DomainState.RUNNING
    h.wait_heartbeat(serial, after + 2)
    with h.refused(ErrorCode.NO_DOMAIN):
        dst.lookup_by_name("mover")


def test_offline_style_paused_migration(env):
    src = env.open("a")
    dst = env.open("b")
    dom = src.create_xml(env.xml("pm"))
    h.wait_heartbeat(env.serial("pm"), 1)
    moved = dom.migrate(dst, MigrateFlags.PAUSED)
    assert moved.state()[0] == DomainState.PAUSED and not moved.is_persistent()
    with pytest.raises(DriverError):
        src.lookup_by_name("pm")  # transient source disappears
    moved.resume()
    h.wait_heartbeat(env.serial("pm"), h.heartbeat(env.serial("pm")))


def _slow_migration(env, name: str):
    """A running guest on root a migrating to root b at 4 MiB/s (so it can be interrupted)."""
    src = env.open("a")
    dst = env.open("b")
    dom = src.define_xml(env.xml(name, memory_mib=64))
    dom.create()
    serial = env.serial(name)
    h.wait_heartbeat(serial, 1)
    job_id = dom.migrate(dst, MigrateFlags.LIVE | JobFlags.ASYNC, {"bandwidth": 4})
    assert h.wait_until(lambda: dom.get_job_info(job_id).processed > 0)
    return src, dst, dom, serial, job_id


def test_migration_cancel_leaves_source_running(env):
    src, dst, dom, serial, job_id = _slow_migration(env, "stay")
    info = dom.get_job_info(job_id)
    assert info.total and info.total >= 32 * 1024 * 1024 and info.rate is None or info.rate >= 0
    assert dst.lookup_by_name("stay").state()[0] == DomainState.PAUSED  # the incoming guest exists
    dom.abort_job(job_id)
    assert h.wait_until(lambda: dom.get_job_info(job_id).finished)
    assert dom.get_job_info(job_id).state == JobState.CANCELLED
    assert dom.state()[0] == DomainState.RUNNING
    h.wait_heartbeat(serial, h.heartbeat(serial))
    assert h.wait_until(lambda: not dst.list_all_domains())
    assert not h_processes(env, "b")
    # and it can still migrate afterwards (its leases are back)
    moved = dom.migrate(dst, MigrateFlags.LIVE)
    assert moved.is_active()


def h_processes(env, root_name):
    from drivers.qemu.layout import RootLayout
    return h.processes_under(str(RootLayout(env.root(root_name)).runtime))


def test_migration_refuses_same_root(env):
    a = env.open("a")
    a2 = env.open("a")
    dom = a.create_xml(env.xml("same"))
    with h.refused(ErrorCode.INVALID_ARG):
        dom.migrate(a2)


def test_migration_to_a_busy_name_fails_cleanly(env):
    src = env.open("a")
    dst = env.open("b")
    dst.define_xml(env.xml("clash"))  # other uuid, same name
    dom = src.create_xml(env.xml("clash"))
    with pytest.raises(DriverError):
        dom.migrate(dst)
    assert dom.state()[0] == DomainState.RUNNING
    assert not dst.lookup_by_name("clash").is_active()


def test_lease_conflict_on_shared_disk(env):
    conn = env.open()
    disk = h.make_qcow2(env.base / "one.qcow2")
    first = conn.define_xml(env.xml("first", disks=[{"path": disk}]))
    second = conn.define_xml(env.xml("second", disks=[{"path": disk}]))
    first.create()
    with pytest.raises(DriverError) as err:
        second.create()
    assert err.value.code == ErrorCode.RESOURCE_BUSY and "first" in err.value.message
    assert not second.is_active() and second.qemu_pid() is None
    # another root on the same machine sees the same lease
    other = env.open("other")
    third = other.define_xml(env.xml("third", disks=[{"path": disk}]))
    with h.refused(ErrorCode.RESOURCE_BUSY):
        third.create()
    first.destroy()
    second.create()  # the lease was released with the first VM
    assert second.is_active()


def test_resume_takes_back_the_leases_a_switch_over_gave_up(env):
    """A source paused at the switch-over without its leases (its driver died there) runs again only with them."""
    conn = env.open()
    disk = h.make_qcow2(env.base / "given.qcow2")
    dom = conn.define_xml(env.xml("given", disks=[{"path": disk}]))
    dom.create()
    dom.suspend()
    with conn.host.lock:
        sup = conn.host.by_name["given"].live.sup
    sup.release()  # what a migration's switch-over does
    assert not sup.info()["active"]
    dom.resume()
    assert dom.state()[0] == DomainState.RUNNING and sup.info()["active"]
    h.wait_heartbeat(env.serial("given"), h.heartbeat(env.serial("given")))
    other = env.open("other")
    with h.refused(ErrorCode.RESOURCE_BUSY, f"{disk} is in use by VM 'given'"):  # the lease, not QEMU's lock
        other.define_xml(env.xml("intruder", disks=[{"path": disk}])).create()


def test_shareable_and_readonly_disks(env):
    conn = env.open()
    shared = env.base / "shared.raw"
    shared.write_bytes(b"\0" * (1 << 20))
    ro = h.make_qcow2(env.base / "ro.qcow2")
    for name in ("s1", "s2"):
        conn.define_xml(env.xml(name, disks=[{"path": str(shared), "shareable": True, "format": "raw"},
                                             {"path": ro, "readonly": True, "dev": "vdb"}]))
    conn.lookup_by_name("s1").create()
    conn.lookup_by_name("s2").create()
    assert all(d.is_active() for d in conn.list_all_domains())
    # a writer of the read-only image is refused while readers run
    writer = conn.define_xml(env.xml("w", disks=[{"path": ro}]))
    with h.refused(ErrorCode.RESOURCE_BUSY):
        writer.create()
    # qcow2 cannot be shared by writers: refused before anything starts
    bad = conn.define_xml(env.xml("bad", disks=[{"path": ro, "shareable": True}]))
    with h.refused(ErrorCode.NO_SUPPORT):
        bad.create()


def test_destination_dying_mid_migration_rolls_back(env):
    import os
    import signal
    src, dst, dom, serial, job_id = _slow_migration(env, "survive")
    os.kill(dst.lookup_by_name("survive").qemu_pid(), signal.SIGKILL)
    assert h.wait_until(lambda: dom.get_job_info(job_id).finished)
    info = dom.get_job_info(job_id)
    assert info.state == JobState.FAILED and info.error
    assert dom.state()[0] == DomainState.RUNNING
    h.wait_heartbeat(serial, h.heartbeat(serial))
    assert h.wait_until(lambda: not dst.list_all_domains())
    moved = dom.migrate(dst, MigrateFlags.LIVE)  # the leases came back: it can go again
    assert moved.is_active()


def test_offline_migration_moves_the_definition(env):
    src = env.open("a")
    dst = env.open("b")
    dom = src.define_xml(env.xml("cold"))
    moved = dom.migrate(dst, MigrateFlags.OFFLINE | MigrateFlags.PERSIST_DEST | MigrateFlags.UNDEFINE_SOURCE)
    assert moved.is_persistent() and not moved.is_active() and moved.uuid == dom.uuid
    with pytest.raises(DriverError):
        src.lookup_by_name("cold")
    moved.create()
    h.wait_heartbeat(env.serial("cold"), 1)


def test_vnc_follows_the_guest_to_the_destination_root(env):
    src = env.open("a")
    dst = env.open("b")
    dom = src.create_xml(env.xml("vncmig", extra_devices="<graphics type='vnc'/>"))
    src_sock = dom.xml_desc().split("socket=\"")[1].split("\"")[0]
    moved = dom.migrate(dst)
    dst_sock = moved.xml_desc().split("socket=\"")[1].split("\"")[0]
    assert dst_sock != src_sock and dst_sock.startswith(str(env.base / "run"))


def test_v2_migration_when_one_end_lacks_v3(env):
    from drivers import Feature
    from drivers.migration import choose_protocol
    src = env.open("v2a")
    dst = env.open("v2b")
    dst.FEATURES = dst.FEATURES - {Feature.MIGRATION_V3}  # this connection speaks V2 only
    assert choose_protocol(src, dst) == "v2"
    vnc = "<graphics type='vnc'/>"  # the source's live XML names its VNC socket; the destination picks its own
    dom = src.create_xml(env.xml("old", memory_mib=64, extra_devices=vnc))
    serial = env.serial("old")
    before = h.wait_heartbeat(serial, 2)
    moved = dom.migrate(dst, MigrateFlags.LIVE)
    assert moved.state()[0] == DomainState.RUNNING
    assert str(dst.host.layout.runtime) in moved.xml_desc()
    h.wait_heartbeat(serial, before + 2)
    assert h.boots(serial) == 1
    with h.refused(ErrorCode.NO_DOMAIN):
        src.lookup_by_name("old")  # V2 confirms too: the transient source is gone
    assert moved.screenshot().width == 720
