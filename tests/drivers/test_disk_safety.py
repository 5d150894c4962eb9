"""Disk deletion, save targets and guest files on the test driver: the rules the qemu driver shares."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from jobwait import domain_job_end
from refusals import refused

import drivers
from drivers import DomainState, ErrorCode, Feature, JobFlags, JobState
from drivers.domxml import Disk, DomainXML
from drivers.locking import LeaseHolder, LeaseMode, Lockspace, Resource


def _with_disk(conn: drivers.Connection, name: str, *paths: str) -> drivers.Domain:
    xml = DomainXML.new(name, 65536, 1)
    for i, path in enumerate(paths):
        xml.add_disk(Disk(f"vd{chr(ord('a') + i)}", source=path, format="qcow2"))
    return conn.define_xml(xml.to_string())


def _image(tmp_path: Path, name: str, data: bytes = b"QFI\xfb guest data") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.fixture
def other_host(tmp_path: Path):
    """A second simulated host (its own node file): another 'root' of this process."""
    node = tmp_path / "other.xml"
    node.write_text("<node/>")
    with drivers.open(f"test://{node}") as conn:
        yield conn


# -- delete_disks ------------------------------------------------------------------------
def test_a_disk_a_running_vm_of_another_host_uses_is_refused_naming_it(conn, other_host, tmp_path):
    disk = _image(tmp_path, "shared.qcow2")
    vm = _with_disk(other_host, "writer", disk)
    vm.create()
    copy = _with_disk(conn, "writer", disk)  # the shut-off copy a migration leaves behind
    found = conn.check_delete_disks([disk], copy)
    assert found[disk].code is ErrorCode.RESOURCE_BUSY
    assert f"VM 'writer' (uuid {vm.uuid}, running on {other_host.uri})" in found[disk].message
    copy.undefine()
    with refused(ErrorCode.RESOURCE_BUSY, f"VM 'writer' (uuid {vm.uuid}, running on {other_host.uri})"):
        conn.delete_disks([disk])
    assert Path(disk).read_bytes().startswith(b"QFI")
    vm.destroy()
    with refused(ErrorCode.RESOURCE_BUSY, f"domain 'writer' (uuid {vm.uuid}, defined on {other_host.uri})"):
        conn.delete_disks([disk])
    vm.undefine()
    assert conn.delete_disks([disk]) == [disk] and not os.path.lexists(disk)


def test_the_domain_being_deleted_does_not_count_against_its_own_disks(conn, tmp_path):
    own, shared = _image(tmp_path, "own.qcow2"), _image(tmp_path, "shared.qcow2")
    dom = _with_disk(conn, "leaving", own, shared)
    _with_disk(conn, "staying", shared)
    found = conn.check_delete_disks([own, shared], dom)
    assert list(found) == [shared] and "domain 'staying'" in found[shared].message
    assert conn.check_delete_disks([own])[own].code is ErrorCode.RESOURCE_BUSY  # without saying who leaves
    dom.undefine()
    with refused(ErrorCode.RESOURCE_BUSY, "nothing was deleted"):
        conn.delete_disks([own, shared])  # all or nothing
    assert os.path.exists(own) and os.path.exists(shared)
    assert conn.delete_disks([own, str(tmp_path / "never-existed.qcow2")]) == [own]
    assert not os.path.exists(own) and os.path.exists(shared)


def test_aliases_of_a_disk_in_use_are_refused_too(conn, tmp_path):
    disk = _image(tmp_path, "real.qcow2")
    hard = tmp_path / "hard.qcow2"
    os.link(disk, hard)
    _with_disk(conn, "user", disk)
    with refused(ErrorCode.RESOURCE_BUSY, "domain 'user'"):
        conn.delete_disks([str(hard)])
    assert os.path.exists(hard)
    other = _image(tmp_path, "other.qcow2")
    (tmp_path / "sub").mkdir()
    link = tmp_path / "sub" / "by-link.qcow2"
    link.symlink_to(other)
    _with_disk(conn, "via-link", str(tmp_path / "sub" / ".." / "sub" / "by-link.qcow2"))
    with refused(ErrorCode.RESOURCE_BUSY, "domain 'via-link'"):
        conn.delete_disks([other])
    assert os.path.exists(other)


def test_only_regular_image_files_are_deleted(conn, tmp_path):
    disk = _image(tmp_path, "keep.qcow2")
    link = tmp_path / "link.qcow2"
    link.symlink_to(disk)
    for path, words in ((str(link), f"is a symbolic link to {disk}"), (str(tmp_path), "not a regular file"),
                        ("/dev/null", "not a regular file"),
                        ("/etc/hostname", "system file (under /etc)")):
        found = conn.check_delete_disks([path])
        assert found[path].code is ErrorCode.INVALID_ARG and words in found[path].message, found
        with refused(ErrorCode.INVALID_ARG, words):
            conn.delete_disks([disk, path])
    assert os.path.exists(disk) and os.path.islink(link) and os.path.exists("/dev/null")
    for bad in ("relative.qcow2", "/a/path", [3]):
        with refused(ErrorCode.INVALID_ARG):
            conn.delete_disks(bad)


def test_a_lease_held_by_a_vm_of_another_process_is_refused_naming_it(conn, tmp_path):
    disk = _image(tmp_path, "leased.qcow2")
    vm = LeaseHolder(Lockspace(), "0f0e0d0c-0b0a-4908-8706-050403020100", "elsewhere", "otherhost")
    vm.register()
    vm.set_vm_pid(4242)
    try:
        vm.acquire([Resource.make(disk, LeaseMode.SHARED)])
        with refused(ErrorCode.RESOURCE_BUSY, "VM 'elsewhere' (uuid 0f0e0d0c-0b0a-4908-8706-050403020100, "
                                              "pid 4242, host otherhost)"):
            conn.delete_disks([disk])
        vm.release()
        vm.set_registered([Resource.make(disk)])  # paused or migrating in: it will take the lease again
        with refused(ErrorCode.RESOURCE_BUSY, "(paused or arriving by migration: it takes the disk again)"):
            conn.delete_disks([disk])
    finally:
        vm.close()
    assert conn.delete_disks([disk]) == [disk]


def test_a_closed_connection_s_domains_no_longer_count(tmp_path):
    disk = _image(tmp_path, "d.qcow2")
    node = tmp_path / "n.xml"
    node.write_text("<node/>")
    with drivers.open(f"test://{node}") as first, drivers.open(f"test://{node}") as second:
        _with_disk(first, "gone-with-it", disk)
        assert disk in second.check_delete_disks([disk])
        first.close()
        assert second.check_delete_disks([disk]) == {}


def test_a_simulated_disk_is_forgotten_when_deleted(tmp_path):
    node = tmp_path / "pool.xml"
    node.write_text("<node><pool type='dir'><name>p</name><target><path>/srv/deltest-pool</path></target>"
                    "<volume><name>free.qcow2</name></volume><volume><name>used.qcow2</name></volume>"
                    "</pool></node>")
    free, used = "/srv/deltest-pool/free.qcow2", "/srv/deltest-pool/used.qcow2"
    with drivers.open(f"test://{node}") as conn:
        _with_disk(conn, "pooled", used)
        with refused(ErrorCode.RESOURCE_BUSY, "domain 'pooled'"):
            conn.delete_disks([free, used])
        assert conn.delete_disks([free]) == [free]
        assert conn.storage_visible([free, used]) == {free: False, used: True}
        assert conn.delete_disks([free]) == [], "deleting it again finds nothing to delete"


def test_the_feature_is_advertised(conn):
    assert conn.supports_feature(Feature.DELETE_DISKS)


# -- save targets ------------------------------------------------------------------------
def test_save_never_replaces_an_existing_file_link_or_device(conn, tmp_path):
    dom = conn.lookup_by_name("test")
    precious = Path(_image(tmp_path, "precious.img", b"user data"))
    link = tmp_path / "link.img"
    link.symlink_to(precious)
    dangling = tmp_path / "dangling.img"
    dangling.symlink_to(tmp_path / "nowhere")
    for target in (precious, link, dangling, "/dev/null"):
        with refused(ErrorCode.OPERATION_INVALID, f"{target} already exists; choose a new file name"):
            dom.save(str(target))
    with refused(ErrorCode.INVALID_ARG, "system folder /etc"):
        dom.save("/etc/vmgui.save")
    assert precious.read_bytes() == b"user data" and not (tmp_path / "nowhere").exists()
    assert dom.state()[0] is DomainState.RUNNING


def test_a_save_target_that_appears_meanwhile_is_kept_and_the_save_fails(node_file, tmp_path):
    with drivers.open(f"test://{node_file}?rate=512") as conn:  # the 2 GiB guest saves in 4 s
        _save_races_with_a_new_file(conn, tmp_path)


def _save_races_with_a_new_file(conn: drivers.Connection, tmp_path: Path) -> None:
    dom = conn.lookup_by_name("test")
    target = tmp_path / "race.img"
    job = dom.save(str(target), JobFlags.ASYNC)
    target.write_bytes(b"written by someone else")
    info = domain_job_end(dom, job)
    assert info.state is JobState.FAILED and "already exists" in (info.error or "")
    assert target.read_bytes() == b"written by someone else"
    assert dom.state()[0] is DomainState.RUNNING, "a failed save leaves the guest running"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".race.img")] == []


# -- guest files ---------------------------------------------------------------------------
@pytest.mark.parametrize("source, words", [
    ("/etc/shadow", "is a system file (under /etc)"),
    ("/usr/bin/env", "is a system file (under /usr)"),
    ("/proc/self/mem", "is a system file (under /proc)"),
    ("/dev/null", "is a character device, not a disk"),
])
def test_system_files_and_character_devices_are_never_disks(conn, source, words):
    with refused(ErrorCode.INVALID_XML, f"/domain/devices/disk[1]/source: {source}") as err:
        _with_disk(conn, "sys", source)
    assert words in err.value.message
    xml = DomainXML.new("sys", 65536, 1)
    xml.add_disk(Disk("vda", source=source))
    with refused(ErrorCode.INVALID_XML, words):
        conn.create_xml(xml.to_string())
    assert "sys" not in {d.name for d in conn.list_all_domains()}


def test_a_disk_swapped_for_a_link_into_etc_is_refused_at_start(conn, tmp_path):
    disk = _image(tmp_path, "swap.qcow2")
    dom = _with_disk(conn, "swap", disk)
    os.unlink(disk)
    os.symlink("/etc/hostname", disk)
    with refused(ErrorCode.OPERATION_INVALID, f"{disk} (which is /etc/hostname) is a system file"):
        dom.create()
    assert not dom.is_active()


def test_a_read_only_image_may_come_from_usr_but_never_from_etc_or_boot(conn):
    xml = DomainXML.new("iso", 65536, 1)
    xml.add_disk(Disk("sda", device="cdrom", source="/usr/share/virtio-win/virtio-win.iso", bus="sata"))
    xml.add_disk(Disk("vdb", source="/usr/share/images/tools.img", readonly=True))
    conn.define_xml(xml.to_string()).undefine()
    for source in ("/etc/shadow", "/boot/System.map-6.1"):
        xml = DomainXML.new("iso", 65536, 1)
        xml.add_disk(Disk("sda", device="cdrom", source=source, bus="sata"))
        with refused(ErrorCode.INVALID_XML, f"{source} is a system file"):
            conn.define_xml(xml.to_string())
    with refused(ErrorCode.INVALID_XML, "is a system file (under /usr)"):
        _with_disk(conn, "writable", "/usr/share/images/tools.img")


def test_boot_files_may_come_from_boot_but_never_from_etc(conn):
    xml = DomainXML.new("direct", 65536, 1)
    xml.set_direct_boot("/boot/vmlinuz-6.1", "/boot/initrd.img-6.1")
    conn.define_xml(xml.to_string()).undefine()
    xml.set_direct_boot("/boot/vmlinuz-6.1", "/etc/shadow")
    with refused(ErrorCode.INVALID_XML, "/domain/os/initrd: /etc/shadow is a system file"):
        conn.define_xml(xml.to_string())


def test_a_block_device_is_still_a_disk(conn):
    blocks = [p for p in ("/dev/loop0", "/dev/vda", "/dev/sda")
              if os.path.exists(p) and stat.S_ISBLK(os.stat(p).st_mode)]
    if not blocks:
        pytest.skip("no block device node here")
    _with_disk(conn, "blk", blocks[0]).undefine()


def test_a_pipe_is_no_disk(conn, tmp_path):
    fifo = tmp_path / "guest.pipe"
    os.mkfifo(fifo)
    with refused(ErrorCode.INVALID_XML, f"{fifo} is a pipe or socket, not a disk image"):
        _with_disk(conn, "piped", str(fifo))


def test_backup_targets_in_system_folders_are_refused(conn):
    dom = conn.lookup_by_name("test")
    xml = ("<domainbackup mode='push'><disks><disk name='vda' type='file'><target file='/etc/vmgui-backup.qcow2'/>"
           "<driver type='qcow2'/></disk></disks></domainbackup>")
    with refused(ErrorCode.INVALID_ARG, "backup target /etc/vmgui-backup.qcow2 is in the system folder /etc"):
        dom.backup_begin(xml)
    assert not os.path.lexists("/etc/vmgui-backup.qcow2")


def test_a_name_taken_before_qemu_img_writes_is_refused_not_truncated(tmp_path):
    from drivers.diskimage import reserve_new_file
    taken = Path(_image(tmp_path, "taken.qcow2", b"someone else's"))
    dangling = tmp_path / "dangling.qcow2"
    dangling.symlink_to(tmp_path / "target-of-link")
    for path in (taken, dangling):
        with refused(ErrorCode.OPERATION_INVALID, f"{path} already exists"):
            reserve_new_file(str(path))
    assert taken.read_bytes() == b"someone else's" and not (tmp_path / "target-of-link").exists()
    fresh = tmp_path / "fresh.qcow2"
    reserve_new_file(str(fresh))
    assert fresh.stat().st_size == 0
