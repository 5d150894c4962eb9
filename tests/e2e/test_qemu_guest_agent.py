"""Real QEMU, real Linux, Debian's qemu-ga: what the guest agent reports and does on qemu:///embed.

The test guest (``vmgui.work=agent``) starts qemu-ga on the virtio port
``org.qemu.guest_agent.0``, gives eth0 a static address and, with
``vmgui.fs=/dev/vdb``, mounts an ext2 file system there. Its freeze hook and
shutdown(8) report on the serial console, so the tests see what the guest did.
"""
from __future__ import annotations

import time

import e2e_helpers as h
import pytest
from jobwait import domain_job_end

from drivers import DomainState, DriverError, ErrorCode, JobState
from drivers.domxml import DomainXML
from drivers.flags import AgentDetail, BackupFlags, MigrateFlags, ShutdownFlags

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

AGENT_CHANNEL = "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
NIC = "<interface type='user'><model type='virtio'/></interface>"


def agent_xml(env, linux_guest, name: str, *, extra: str = "", disks: list[dict] | None = None,
              work: tuple[str, ...] = ("agent",)) -> str:
    return env.xml(name, memory_mib=256, disks=disks, kernel=linux_guest.kernel, initrd=linux_guest.initrd,
                   cmdline=linux_guest.cmdline(*work, extra=extra), extra_devices=NIC + AGENT_CHANNEL)


def start_with_agent(env, linux_guest, name: str, **kw):
    conn = env.open()
    events = h.EventLog(conn)
    dom = conn.define_xml(agent_xml(env, linux_guest, name, **kw))
    dom.create()
    serial = env.guest(name)
    serial.wait_for(b"VMGUI AGENT started", timeout=120)
    events.wait_for("AGENT", AgentDetail.CONNECTED, timeout=60)
    assert dom.agent_connected()
    return conn, dom, serial


def test_the_agent_reports_addresses_host_name_os_and_file_systems(env, linux_guest):
    data = h.make_qcow2(env.base / "data.qcow2", 16)
    conn, dom, serial = start_with_agent(env, linux_guest, "ga-info", extra="vmgui.fs=/dev/vda",
                                         disks=[{"path": data}])
    serial.wait_for(b"VMGUI READY", timeout=60)
    channel = DomainXML.parse(dom.xml_desc()).guest_agent_channel()
    assert channel is not None and channel.state == "connected" and channel.path, channel

    by_name = {i.name: i for i in dom.interface_addresses()}
    assert "eth0" in by_name and "lo" in by_name, by_name
    assert [(a.type, a.address, a.prefix) for a in by_name["eth0"].addresses
            if a.type == "ipv4"] == [("ipv4", "10.0.2.15", 24)]
    assert by_name["eth0"].hwaddr and by_name["eth0"].hwaddr.count(":") == 5

    info = dom.guest_info()
    assert info.hostname == "vmguest"
    assert info.os is not None and info.os.pretty_name == "VMGUI test guest 1.0"
    assert info.os.kernel_release == linux_guest.kernel_version
    mounts = {fs.mountpoint: fs for fs in info.filesystems or ()}
    assert "/mnt/data" in mounts, mounts
    assert mounts["/mnt/data"].type == "ext2"
    assert mounts["/mnt/data"].total_bytes and mounts["/mnt/data"].total_bytes > 8 << 20
    assert not serial.kernel_trouble()


def test_the_agent_answers_after_a_re_attach_and_a_migration(env, linux_guest):
    conn, dom, serial = start_with_agent(env, linux_guest, "ga-moves")
    conn.close()
    again = env.open()  # a new process's view: QEMU says whether the port is open
    dom = again.lookup_by_name("ga-moves")
    assert dom.agent_connected()
    assert dom.guest_info().hostname == "vmguest"
    source_channel = DomainXML.parse(dom.xml_desc()).guest_agent_channel()
    moved = dom.migrate(env.open("dst"), MigrateFlags.LIVE)
    assert moved.agent_connected()
    assert moved.guest_info().hostname == "vmguest"
    channel = DomainXML.parse(moved.xml_desc()).guest_agent_channel()
    assert channel is not None and channel.state == "connected"
    assert source_channel is not None and channel.path and channel.path != source_channel.path, \
        "the destination serves the channel in its own runtime folder"


def test_shut_down_goes_through_the_agent_when_the_guest_ignores_acpi(env, linux_guest):
    conn, dom, serial = start_with_agent(env, linux_guest, "ga-off", extra="vmgui.acpi=ignore")
    dom.shutdown()
    serial.wait_for(b"VMGUI AGENT SHUTDOWN -h -P", timeout=60)
    assert h.wait_until(lambda: dom.state()[0] == DomainState.SHUTOFF, timeout=60), dom.state()
    assert b"VMGUI POWEROFF" not in serial.text(), "the power button was not what powered it off"


def test_reboot_goes_through_the_agent_and_the_domain_runs_on(env, linux_guest):
    conn, dom, serial = start_with_agent(env, linux_guest, "ga-reboot", extra="vmgui.acpi=ignore")
    events = h.EventLog(conn)
    dom.reboot()
    serial.wait_for(b"VMGUI AGENT SHUTDOWN -h -r", timeout=60)
    assert h.wait_until(lambda: serial.boots() == 2, timeout=120), serial.boots()
    assert dom.state()[0] == DomainState.RUNNING
    events.wait_for("AGENT", AgentDetail.CONNECTED, timeout=120)  # the new boot's agent
    assert dom.guest_info().hostname == "vmguest"


def test_without_an_agent_the_default_uses_acpi_and_agent_only_fails_at_once(env, linux_guest):
    conn = env.open()
    dom = conn.define_xml(agent_xml(env, linux_guest, "ga-none", work=()))
    dom.create()
    serial = env.guest("ga-none")
    serial.wait_for(b"VMGUI READY", timeout=120)
    assert dom.agent_connected() is False
    began = time.monotonic()
    for call in (dom.interface_addresses, dom.guest_info, lambda: dom.shutdown_flags(ShutdownFlags.GUEST_AGENT)):
        with pytest.raises(DriverError) as err:
            call()
        assert err.value.code == ErrorCode.AGENT_UNRESPONSIVE
        assert "qemu-guest-agent" in err.value.message
    assert time.monotonic() - began < 2.0, "an agent that is not connected is not waited for"
    assert dom.state()[0] == DomainState.RUNNING
    dom.shutdown()  # the default: no agent, so the power button
    serial.wait_for(b"VMGUI POWEROFF", timeout=60)
    assert h.wait_until(lambda: dom.state()[0] == DomainState.SHUTOFF, timeout=60)


def test_a_backup_freezes_the_guest_file_systems_for_its_point_in_time(env, linux_guest):
    disk = h.make_qcow2(env.base / "ga-disk.qcow2", 16)
    conn, dom, serial = start_with_agent(env, linux_guest, "ga-backup", extra="vmgui.fs=/dev/vda",
                                         disks=[{"path": disk}])
    serial.wait_for(b"VMGUI READY", timeout=60)
    assert dom.fs_freeze() == 1
    assert dom.fs_frozen()
    serial.wait_for(b"VMGUI AGENT FSFREEZE freeze", timeout=30)
    assert dom.fs_thaw() == 1
    assert not dom.fs_frozen()
    serial.wait_for(b"VMGUI AGENT FSFREEZE thaw", timeout=30)

    before = serial.text().count(b"VMGUI AGENT FSFREEZE")
    target = env.base / "ga-backup.qcow2"
    job_id = dom.backup_begin(h.backup_xml(target), BackupFlags.QUIESCE)
    info = domain_job_end(dom, job_id, timeout=120)
    assert info.state == JobState.COMPLETED, info.error
    assert info.note == "guest file systems frozen for the point in time (1)"
    log = serial.text()
    assert log.count(b"VMGUI AGENT FSFREEZE") == before + 2
    assert log.rindex(b"VMGUI AGENT FSFREEZE freeze") < log.rindex(b"VMGUI AGENT FSFREEZE thaw")
    assert not dom.fs_frozen(), "the guest writes again after the backup began"


def test_a_backup_without_an_agent_says_why_it_did_not_freeze(env, linux_guest):
    disk = h.make_qcow2(env.base / "nf-disk.qcow2", 16)
    conn = env.open()
    dom = conn.define_xml(agent_xml(env, linux_guest, "ga-nofreeze", work=(), disks=[{"path": disk}]))
    dom.create()
    env.guest("ga-nofreeze").wait_for(b"VMGUI READY", timeout=120)
    with pytest.raises(DriverError) as err:
        dom.backup_begin(h.backup_xml(env.base / "q.qcow2"), BackupFlags.QUIESCE)
    assert err.value.code == ErrorCode.AGENT_UNRESPONSIVE and "cannot quiesce the guest" in err.value.message
    assert not (env.base / "q.qcow2").exists()
    job_id = dom.backup_begin(h.backup_xml(env.base / "nf.qcow2"))
    info = domain_job_end(dom, job_id, timeout=120)
    assert info.state == JobState.COMPLETED, info.error
    assert info.note.startswith("guest file systems not frozen: the guest agent of 'ga-nofreeze' is not connected")


def test_an_agent_that_never_answers_costs_seconds_and_shut_down_falls_back_to_acpi(env, linux_guest):
    conn = env.open()
    events = h.EventLog(conn)
    dom = conn.define_xml(agent_xml(env, linux_guest, "ga-deaf", extra="vmgui.agent=deaf"))
    dom.create()
    serial = env.guest("ga-deaf")
    serial.wait_for(b"VMGUI AGENT deaf", timeout=120)
    events.wait_for("AGENT", AgentDetail.CONNECTED, timeout=60)
    serial.wait_for(b"VMGUI READY", timeout=60)
    began = time.monotonic()
    with pytest.raises(DriverError) as err:
        dom.guest_info()
    took = time.monotonic() - began
    assert err.value.code == ErrorCode.AGENT_UNRESPONSIVE
    assert err.value.message == "the guest agent of 'ga-deaf' did not answer guest-sync-delimited in time", \
        (events.kinds(), serial.text()[-600:])
    assert took < 10, f"an agent that never answers cost {took:.1f} s"
    dom.shutdown()  # the agent misses its deadline: the power button instead
    serial.wait_for(b"VMGUI POWEROFF", timeout=60)
    assert h.wait_until(lambda: dom.state()[0] == DomainState.SHUTOFF, timeout=60)
