"""Real QEMU: what the domain XML may say, and clear refusals of what it may not."""
from __future__ import annotations

import os
import socket
import time

import e2e_helpers as h
import pytest

import drivers
from drivers import DomainState, DriverError, ErrorCode, Feature
from drivers.qemu import cmdline

pytestmark = pytest.mark.qemu


def test_devices_of_every_kind_start(env):
    conn = env.open()
    disk = h.make_qcow2(env.base / "sata.qcow2")
    raw = env.base / "ide.raw"
    raw.write_bytes(b"\0" * (1 << 20))
    iso = env.base / "cd.iso"
    iso.write_bytes(b"\0" * (1 << 20))
    vnc = str(env.base / "vnc.sock")
    console = str(env.base / "console.sock")
    devices = (f"<interface type='user'><mac address='52:54:00:12:34:56'/><model type='e1000'/></interface>"
               f"<graphics type='vnc' socket='{vnc}'/>"
               f"<serial type='unix'><source mode='bind' path='{console}'/></serial>")
    xml = env.xml("full", machine="pc", extra_devices=devices, disks=[
        {"path": disk, "bus": "sata", "dev": "sda"}, {"path": str(raw), "format": "raw", "bus": "ide", "dev": "hdb"},
        {"path": str(iso), "format": "raw", "device": "cdrom", "bus": "ide", "dev": "hdc"}])
    dom = conn.define_xml(xml)
    dom.create()
    assert dom.state()[0] == DomainState.RUNNING
    h.wait_heartbeat(env.serial("full"), 1)
    assert os.path.exists(vnc)
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(vnc)
        assert s.recv(12).startswith(b"RFB ")
    assert "sata.qcow2" in dom.xml_desc()


def test_loopback_vnc_and_pty(env):
    conn = env.open()
    dom = conn.create_xml(env.xml("vnc", extra_devices="<graphics type='vnc' listen='127.0.0.1'/>"))
    assert dom.is_active()


@pytest.mark.parametrize("snippet, code, words", [
    ("<disk type='file' device='disk'><source file='rel/x.qcow2'/><target dev='vda'/></disk>",
     ErrorCode.INVALID_XML, "absolute"),
    ("<disk type='file' device='disk'><source file='/x'/><target dev='../x'/></disk>", ErrorCode.INVALID_XML, "dev"),
    ("<serial type='file'><source path='relative.log'/></serial>", ErrorCode.INVALID_XML, "absolute"),
    ("<graphics type='vnc' socket='vnc.sock'/>", ErrorCode.INVALID_XML, "absolute"),
])
def test_bad_xml_refused_at_define(env, snippet, code, words):
    conn = env.open()
    xml = env.xml("bad").replace("</devices>", snippet + "</devices>")
    with pytest.raises(DriverError) as err:
        conn.define_xml(xml)
    assert err.value.code == code and words in err.value.message, err.value.message
    assert conn.list_all_domains() == []


def test_malformed_and_hostile_xml(env):
    conn = env.open()
    kernel = "<os><type>hvm</type><kernel>vmlinuz</kernel></os>"
    for xml in ("<domain><name>x</name>", "<notadomain/>",
                f"<domain type='qemu'><name>k</name><memory>1024</memory>{kernel}</domain>",
                '<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><domain><name>&e;</name></domain>',
                "<domain type='qemu'><name>a/b</name><memory>1024</memory></domain>",
                "<domain type='xen'><name>x</name><memory>1024</memory></domain>"):
        with pytest.raises(DriverError) as err:
            conn.define_xml(xml)
        assert err.value.code == ErrorCode.INVALID_XML, xml


@pytest.mark.parametrize("snippet, code", [
    ("<interface type='network'><source network='default'/></interface>", ErrorCode.NO_SUPPORT),
    ("<graphics type='spice'/>", ErrorCode.NO_SUPPORT),
    ("<disk type='file' device='disk'><source file='/nonexistent/disk.qcow2'/><target dev='vda'/></disk>",
     ErrorCode.INVALID_ARG),
    ("<disk type='file' device='floppy'><source file='/tmp'/><target dev='fda'/></disk>", ErrorCode.NO_SUPPORT),
])
def test_unsupported_config_refused_at_start(env, snippet, code):
    conn = env.open()
    dom = conn.define_xml(env.xml("cfg").replace("</devices>", snippet + "</devices>"))
    with pytest.raises(DriverError) as err:
        dom.create()
    assert err.value.code == code, err.value
    assert not dom.is_active()


def test_kvm_only_where_it_works(env):
    conn = env.open()
    dom = conn.define_xml(env.xml("kvm", dom_type="kvm"))
    problem = cmdline.kvm_problem()
    if problem is None:
        dom.create()
        assert dom.is_active()
    else:
        with pytest.raises(DriverError) as err:
            dom.create()
        assert "KVM is not usable" in err.value.message and "type='qemu'" in err.value.message


def test_uri_validation(env):
    for uri in ("qemu:///embed?root=relative/dir", "qemu:///embed?colour=red"):
        with h.refused(ErrorCode.INVALID_ARG):
            drivers.open(uri)


def test_default_root_and_features(env):
    conn = env.open()
    assert conn.root == str(env.root())
    default = drivers.open("qemu:///embed")
    env.conns.append(default)
    assert default.root.startswith(str(env.base / "data"))
    for feature in (Feature.MIGRATION_V3, Feature.BACKUP, Feature.SNAPSHOTS, Feature.DISK_CREATE, Feature.JOBS):
        assert conn.supports_feature(feature)
    assert not conn.supports_feature(Feature.MIGRATION_P2P)


def test_definition_survives_reconnect_and_atomic_files(env):
    conn = env.open()
    dom = conn.define_xml(env.xml("persist"))
    uuid = dom.uuid
    conn.close()
    conn = env.open()
    dom = conn.lookup_by_uuid(uuid)
    assert dom.name == "persist" and "<kernel>" in dom.xml_desc()
    files = os.listdir(env.root() / "domains" / uuid)
    assert not [f for f in files if f.startswith(".")], files  # no temporary files left
    # a redefinition keeps the uuid and updates the file
    conn.define_xml(env.xml("persist").replace("<vcpu>1</vcpu>", "<vcpu>2</vcpu>"))
    assert conn.lookup_by_name("persist").info().vcpus == 2
    conn.close()
    conn = env.open()
    assert conn.lookup_by_name("persist").info().vcpus == 2


def test_many_domains_listing_is_consistent(env):
    conn = env.open()
    for i in range(3):
        conn.create_xml(env.xml(f"m{i}"))
    stats = conn.get_all_domain_stats()
    assert sorted(r.name for r in stats) == ["m0", "m1", "m2"]
    assert all(r.id is not None and r.state == DomainState.RUNNING for r in stats)
    time.sleep(0.2)
    assert all(r.cpu_time_ns > 0 for r in conn.get_all_domain_stats())


def test_default_vnc_socket_is_in_the_live_xml(env):
    conn = env.open()
    dom = conn.define_xml(env.xml("vncdef", extra_devices="<graphics type='vnc'/>"))
    assert "socket=" not in dom.xml_desc()
    dom.create()
    live = dom.xml_desc()
    path = live.split("socket=\"")[1].split("\"")[0]
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        assert s.recv(12).startswith(b"RFB ")
    assert "socket=" not in dom.xml_desc(2)  # the persistent definition is untouched
