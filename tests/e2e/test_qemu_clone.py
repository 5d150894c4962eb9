"""Real QEMU, real Linux: a clone boots as a machine of its own, holding exactly the records of clone time."""
from __future__ import annotations

import re

import e2e_helpers as h
import pytest
from linuxguest.records import read_records
from refusals import refused
from test_qemu_firmware import needs_ovmf, uefi_xml

from drivers import CloneFlags, DomainState, DomainXMLFlags, ErrorCode, JobFlags, JobOperation, JobState
from drivers.domxml import DomainXML

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

NIC = "<interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>"
_IDENTITY = re.compile(rb"VMGUI ID ([0-9a-fA-F-]{36}) ([0-9a-f:]{17})")


def identity(dom, serial, times: int) -> tuple[str, str]:
    """(SMBIOS uuid, eth0 MAC) as the guest reads them, the ``times``-th answer in its serial log."""
    with dom.open_console() as console:
        console.write(b'echo "VMGUI I""D $(cat /sys/class/dmi/id/product_uuid) $(cat /sys/class/net/eth0/address)"\r')
        serial.wait_for(b"VMGUI ID ", timeout=60, count=times)
    uuid, mac = _IDENTITY.findall(serial.text())[times - 1]
    return uuid.decode().lower(), mac.decode()


def power_off(dom, serial) -> None:
    dom.shutdown()
    serial.wait_for(b"VMGUI POWEROFF", timeout=60)
    assert h.wait_until(lambda: dom.state()[0] is DomainState.SHUTOFF, timeout=60)


def recording_guest(env, tmp_path, name: str):
    """A started Linux guest with a NIC, writing records to its qcow2 disk: (connection, domain, disk, serial)."""
    disk = h.make_qcow2(tmp_path / f"{name}.qcow2", 16)
    conn = env.open()
    dom = conn.define_xml(env.linux_xml(name, "disk", disks=[{"path": disk}], extra_devices=NIC))
    dom.create()
    serial = env.guest(name)
    serial.wait_for(b"VMGUI READY", timeout=90)
    return conn, dom, disk, serial


def test_clones_boot_with_their_own_identity_and_the_records_of_clone_time(env, linux_guest, tmp_path):
    conn, dom, disk, serial = recording_guest(env, tmp_path, "orig")
    serial.wait_disk_record(10)
    assert identity(dom, serial, 1) == (dom.uuid, "52:54:00:12:34:56")
    power_off(dom, serial)
    at_clone = read_records(disk)
    assert at_clone.count > 10 and not at_clone.torn

    assert conn.clone_domain("orig", "full") is None
    job = [j for j in conn.list_all_jobs() if j.operation is JobOperation.CLONE][-1]
    assert job.state is JobState.COMPLETED and job.processed == job.total > 0
    full = conn.lookup_by_name("full")
    full_disk = str(tmp_path / "full-vda.qcow2")
    copied = read_records(full_disk)
    assert (copied.count, copied.boot_id, copied.torn) == (at_clone.count, at_clone.boot_id, []), \
        "the full clone holds exactly the records written before it was made"

    conn.clone_domain(dom, "thin", CloneFlags.LINKED)
    thin = conn.lookup_by_name("thin")
    assert DomainXML.parse(dom.xml_desc(DomainXMLFlags.INACTIVE)).disk("vda").readonly
    with refused(ErrorCode.RESOURCE_BUSY, "'thin'"):
        conn.delete_disks([disk])

    for clone, name, times in ((full, "full", 1), (thin, "thin", 1)):
        clone.create()
        out = env.guest(name)
        out.wait_for(b"VMGUI READY", timeout=90)
        uuid, mac = identity(clone, out, times)
        assert uuid == clone.uuid != dom.uuid and mac != "52:54:00:12:34:56", f"{name} is a machine of its own"
        assert mac == DomainXML.parse(clone.xml_desc()).interfaces()[0].mac
        out.wait_disk_record(at_clone.count + 5)
        assert not out.kernel_trouble()
        power_off(clone, out)

    base = read_records(disk)
    assert (base.count, base.boot_id) == (at_clone.count, at_clone.boot_id), \
        "the linked clone's writes never reach its base"
    thin_view = read_records(str(tmp_path / "thin-vda.qcow2"))
    assert thin_view.count > at_clone.count + 5 and thin_view.boot_id != at_clone.boot_id and not thin_view.torn


def test_a_cancelled_clone_leaves_no_file_and_no_domain(env, tmp_path):
    disk = h.make_qcow2(tmp_path / "big.qcow2", 768, fill_mib=768)
    conn = env.open()
    dom = conn.define_xml(env.xml("big", disks=[{"path": disk}]))
    before = sorted(p.name for p in (env.root() / "domains").iterdir())
    job_id = conn.clone_domain(dom, "bigcopy", JobFlags.ASYNC)
    assert h.wait_until(lambda: dom.get_job_info(job_id).processed > 0, timeout=60)
    dom.abort_job(job_id)
    assert h.wait_until(lambda: dom.get_job_info(job_id).state is not JobState.RUNNING, timeout=60)
    assert dom.get_job_info(job_id).state is JobState.CANCELLED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.qcow2"], "no copy and no .part file is left"
    assert sorted(p.name for p in (env.root() / "domains").iterdir()) == before, "no folder for the clone"
    with refused(ErrorCode.NO_DOMAIN):
        conn.lookup_by_name("bigcopy")
    dom.create()  # the original is free again
    dom.destroy()


@needs_ovmf
def test_a_uefi_clone_has_its_own_copy_of_the_variable_store_and_the_tpm_state(env, linux_guest):
    conn = env.open()
    dom = conn.define_xml(uefi_xml(env, "efi", tpm=True))
    dom.create()
    tpm = env.root() / "domains" / dom.uuid / "tpm"
    assert h.wait_until(lambda: tpm.is_dir() and any(tpm.iterdir()), timeout=120), "swtpm wrote its state"
    dom.destroy()
    nvram = env.root() / "domains" / dom.uuid / "VARS.fd"

    conn.clone_domain("efi", "efi2")
    twin = conn.lookup_by_name("efi2")
    own = env.root() / "domains" / twin.uuid
    assert DomainXML.parse(twin.xml_desc(DomainXMLFlags.INACTIVE)).nvram == str(own / "VARS.fd")
    assert (own / "VARS.fd").read_bytes() == nvram.read_bytes()
    assert {p.name: p.read_bytes() for p in (own / "tpm").iterdir()} == {p.name: p.read_bytes() for p in tpm.iterdir()}
    assert (own / "tpm").stat().st_mode & 0o777 == 0o700
    twin.create()
    twin.destroy()


def test_no_vm_writes_a_base_while_a_linked_clone_reads_it(env, tmp_path):
    disk = h.make_qcow2(tmp_path / "base.qcow2", 16, fill_mib=1)
    conn = env.open()
    dom = conn.define_xml(env.xml("base", disks=[{"path": disk}]))
    conn.clone_domain(dom, "reader", CloneFlags.LINKED)
    reader = conn.lookup_by_name("reader")
    reader.create()
    writable = DomainXML.parse(dom.xml_desc(DomainXMLFlags.INACTIVE))
    writable.disk("vda").readonly = False  # undoing the base's read-only mark by hand
    conn.define_xml(writable.to_string())
    with refused(ErrorCode.RESOURCE_BUSY, "'reader'"):
        dom.create()
    reader.destroy()
    dom.create()  # with no clone running, the base is the original's again
    dom.destroy()


def test_a_running_guest_is_cloned_as_of_the_call_and_keeps_running(env, linux_guest, tmp_path):
    conn, dom, disk, serial = recording_guest(env, tmp_path, "live")
    synced = serial.wait_disk_record(10)  # synced before the call: the copy holds it
    with refused(ErrorCode.OPERATION_INVALID, "shut it down first (or make a full copy)"):
        conn.clone_domain(dom, "nope", CloneFlags.LINKED)

    assert conn.clone_domain(dom, "snap") is None
    after = serial.last_disk_record()
    assert dom.state()[0] is DomainState.RUNNING, "the original runs on while it is copied"
    job = [j for j in conn.list_all_jobs() if j.operation is JobOperation.CLONE][-1]
    assert job.state is JobState.COMPLETED and job.processed == job.total > 0
    copied = read_records(str(tmp_path / "snap-vda.qcow2"))
    assert not copied.torn and not copied.after_gap, "the copy is one point in time, no record half written"
    assert synced + 1 <= copied.count <= after + 1 and copied.boot_id == read_records(disk).boot_id

    snap = conn.lookup_by_name("snap")
    snap.create()
    out = env.guest("snap")
    out.wait_for(b"VMGUI READY", timeout=90)
    uuid, mac = identity(snap, out, 1)
    assert uuid == snap.uuid != dom.uuid and mac != "52:54:00:12:34:56"
    snap.destroy()
    assert not serial.kernel_trouble()
