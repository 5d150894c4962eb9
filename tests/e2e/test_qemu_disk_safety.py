"""Real QEMU: a disk another root's running VM writes is never deleted; saves never replace files;
guests never get system files."""
from __future__ import annotations

import os
import stat
import uuid as uuidlib

import e2e_helpers as h
import pytest
from linuxguest.records import read_records

from drivers import DomainState, DriverError, ErrorCode

pytestmark = pytest.mark.qemu


@pytest.mark.slow
def test_a_disk_the_running_vm_of_another_root_writes_is_never_deleted(env, linux_guest, tmp_path):
    disk = h.make_qcow2(tmp_path / "deb.qcow2", 16)
    inode = os.stat(disk).st_ino
    xml = env.linux_xml("deb", "disk", disks=[{"path": disk}], uuid=str(uuidlib.uuid4()))
    root_a, root_b = env.open("A"), env.open("B")
    running = root_a.define_xml(xml)
    running.create()
    serial = env.guest("deb")
    serial.wait_for(b"VMGUI READY", timeout=90)
    first = serial.wait_disk_record(3)
    pid = running.qemu_pid()
    # the shut-off copy that a migration back and forth leaves on root B: same definition, same uuid
    copy = root_b.define_xml(xml)
    assert copy.uuid == running.uuid and not copy.is_active()

    found = root_b.check_delete_disks([disk], copy)
    assert list(found) == [disk] and found[disk].code is ErrorCode.RESOURCE_BUSY
    text = found[disk].message
    assert "VM 'deb'" in text and running.uuid in text and f"pid {pid}" in text and str(env.root("A")) in text

    copy.undefine()  # what the Delete dialog would have done first, before this check existed
    with h.refused(ErrorCode.RESOURCE_BUSY, f"pid {pid}") as err:
        root_b.delete_disks([disk])
    assert "nothing was deleted" in err.value.message and str(env.root("A")) in err.value.message

    # with root A's connection closed, only the lock manager knows: still refused, the holder named
    root_a.close()
    with h.refused(ErrorCode.RESOURCE_BUSY, f"VM 'deb' (uuid {running.uuid}, pid {pid}, running on "
                                            f"qemu:///embed?root={env.root('A')})"):
        root_b.delete_disks([disk])
    assert os.stat(disk).st_ino == inode, "the very file the guest writes is still there"

    again = env.open("A").lookup_by_name("deb")
    assert again.is_active() and again.qemu_pid() == pid
    last = serial.wait_disk_record(first + 15)
    again.shutdown()
    serial.wait_for(b"VMGUI POWEROFF", timeout=60)
    assert h.wait_until(lambda: again.state()[0] == DomainState.SHUTOFF), "the guest powers off"
    records = read_records(disk)
    assert not records.torn and not records.after_gap
    assert records.count >= last + 1, f"records synced while deletion was refused are all there ({records.count})"

    # shut off but still defined on root A: refused by the definition, then free once undefined
    with h.refused(ErrorCode.RESOURCE_BUSY, f"domain 'deb' (uuid {running.uuid}, defined on"):
        root_b.delete_disks([disk])
    again.undefine()
    assert root_b.check_delete_disks([disk]) == {}
    assert root_b.delete_disks([disk]) == [disk] and not os.path.lexists(disk)


def test_save_never_replaces_an_existing_file_link_or_device(env, tmp_path):
    conn = env.open()
    dom = conn.create_xml(env.xml("sv"))
    h.wait_heartbeat(env.serial("sv"), 1)
    precious = tmp_path / "precious.img"
    precious.write_bytes(b"user data")
    link = tmp_path / "link.img"
    link.symlink_to(precious)
    dangling = tmp_path / "dangling.img"
    dangling.symlink_to(tmp_path / "nowhere")
    for target in (precious, link, dangling, "/dev/null"):
        with h.refused(ErrorCode.OPERATION_INVALID, f"{target} already exists"):
            dom.save(str(target))
    assert precious.read_bytes() == b"user data" and os.path.islink(link) and os.path.islink(dangling)
    assert not (tmp_path / "nowhere").exists()
    with h.refused(ErrorCode.INVALID_ARG, "system folder /etc"):
        dom.save("/etc/vmgui-save.img")
    assert dom.state()[0] == DomainState.RUNNING, "a refused save leaves the guest running"
    before = h.heartbeat(env.serial("sv"))
    h.wait_heartbeat(env.serial("sv"), before)
    image = tmp_path / "new.save"
    dom.save(str(image))
    assert image.stat().st_size > 0 and not any(p.name.startswith(".new.save.") for p in tmp_path.iterdir())


def test_a_guest_never_gets_a_system_file_or_a_character_device(env, tmp_path):
    conn = env.open()
    to_shadow = tmp_path / "innocent.img"
    to_shadow.symlink_to("/etc/shadow")
    for source, words in (("/etc/shadow", "/etc/shadow is a system file (under /etc)"),
                          (str(to_shadow), f"{to_shadow} (which is /etc/shadow) is a system file"),
                          ("/boot/vmlinuz", "system file (under /boot)"),
                          ("/dev/zero", "/dev/zero is a character device"),
                          ("/dev/null", "/dev/null is a character device"),
                          ("/dev/urandom", "/dev/urandom is a character device")):
        xml = env.xml("sys", disks=[{"path": source, "format": "raw"}])
        with h.refused(ErrorCode.INVALID_XML, words):
            conn.define_xml(xml)
        with h.refused(ErrorCode.INVALID_XML, words):
            conn.create_xml(xml)
    for tag in ("kernel", "initrd"):
        with h.refused(ErrorCode.INVALID_XML, f"/domain/os/{tag}: /etc/shadow is a system file"):
            conn.define_xml(env.xml("sys", **{tag: "/etc/shadow"}))
    with h.refused(ErrorCode.INVALID_XML, "/domain/devices/serial/source/@path: /etc/passwd is a system file"):
        conn.define_xml(env.xml("sys", serial="/etc/passwd"))
    assert conn.list_all_domains() == []

    # defined while harmless, then the image is swapped for a link into /etc: the start refuses
    image = h.make_qcow2(tmp_path / "swap.qcow2")
    dom = conn.define_xml(env.xml("swap", disks=[{"path": image}]))
    os.unlink(image)
    os.symlink("/etc/hostname", image)
    with h.refused(ErrorCode.OPERATION_INVALID, "(which is /etc/hostname) is a system file"):
        dom.create()
    assert not dom.is_active() and dom.qemu_pid() is None


def test_a_block_device_stays_a_legitimate_disk_source(env):
    conn = env.open()
    blocks = [path for path in (os.path.join("/dev", n) for n in ("loop0", "sda", "vda", "nvme0n1", "ram0"))
              if os.path.exists(path) and stat.S_ISBLK(os.stat(path).st_mode)]
    if not blocks:
        pytest.skip("no block device node on this machine")
    xml = env.xml("blk", disks=[{"path": blocks[0], "format": "raw", "readonly": True}])
    try:
        dom = conn.define_xml(xml)
    except DriverError as exc:  # pragma: no cover - the point is that it is not refused
        pytest.fail(f"a block device was refused as a disk: {exc}")
    dom.undefine()
