"""Host facts through the libvirt bridge: libvirt's test driver and a private libvirtd running QEMU."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

import drivers
from drivers import DomainState
from drivers.hostfacts import Firmware, FirmwareInterface
from drivers.libvirt.hostfacts import is_local_uri, tpm_emulator

libvirt = pytest.importorskip("libvirt")

POOL_XML = """<pool type='dir'><name>default</name>
  <uuid>35bb2ad9-388a-cdfe-461a-b8907f6e53fe</uuid><target><path>{path}</path></target></pool>"""


def test_a_host_without_a_default_pool_names_no_image_folder(lvconn):
    facts = lvconn.host_facts()
    assert facts.image_dir is None
    assert facts.hostname == lvconn.vconn().getHostname()
    assert facts.local is True
    # KVM is whatever libvirt answers for type='kvm' domains: libvirt 9's test driver has no domain
    # capabilities (no KVM, and libvirt's words say why); libvirt 11's describes its make-believe host
    try:
        lvconn.vconn().getDomainCapabilities(None, "x86_64", None, "kvm")
    except libvirt.libvirtError:
        assert facts.kvm is False and "not supported" in facts.kvm_problem
    else:
        assert facts.kvm is True and facts.kvm_problem is None
    assert facts.firmware == ()


def test_the_default_pool_is_where_new_images_go(tmp_path):
    node = tmp_path / "pool-node.xml"
    node.write_text(f"<node>{POOL_XML.format(path='/srv/vm-images')}</node>")
    with drivers.open(f"libvirt:test://{node}") as conn:
        assert conn.host_facts().image_dir == "/srv/vm-images"


@pytest.mark.libvirt
@pytest.mark.slow
def test_kvm_and_firmware_come_from_libvirts_domain_capabilities(qconn, libvirtd):
    facts = qconn.host_facts()
    vconn = libvirt.open(libvirtd.uri)
    try:
        memory_mib = vconn.getInfo()[1]
        try:
            vconn.getDomainCapabilities(None, "x86_64", None, "kvm")
            refusal = None
        except libvirt.libvirtError as exc:
            refusal = exc.get_error_message()
    finally:
        vconn.close()
    assert facts.kvm is (refusal is None)
    if refusal is not None:
        assert refusal in facts.kvm_problem
    assert Firmware(FirmwareInterface.BIOS) in facts.firmware
    assert facts.local is True
    assert facts.memory_bytes == memory_mib * 1024 * 1024 > 0  # a real host's memory, as libvirt tells it


@pytest.mark.parametrize("caps, tpm", [
    ("<domainCapabilities><devices><tpm supported='yes'><enum name='backendModel'><value>passthrough</value>"
     "<value>emulator</value></enum><enum name='backendVersion'><value>2.0</value></enum></tpm></devices>"
     "</domainCapabilities>", True),
    ("<domainCapabilities><devices><tpm supported='yes'><enum name='backendModel'><value>passthrough</value>"
     "</enum></tpm></devices></domainCapabilities>", False),
    ("<domainCapabilities><devices><tpm supported='no'/></devices></domainCapabilities>", False),
    ("<domainCapabilities/>", False),
])
def test_a_tpm_is_offered_where_libvirt_can_emulate_one(caps, tpm):
    assert tpm_emulator(etree.fromstring(caps)) is tpm


@pytest.mark.libvirt
@pytest.mark.slow
def test_the_domain_type_the_facts_name_starts_under_libvirtd(qconn, libvirtd, unique):
    facts = qconn.host_facts()
    xml = libvirtd.domain_xml(f"typed-{unique}").replace("<domain type='qemu'>",
                                                         f"<domain type='{facts.domain_type}'>")
    dom = qconn.define_xml(xml)
    dom.create()
    assert dom.state()[0] is DomainState.RUNNING
    dom.destroy()


@pytest.mark.libvirt
@pytest.mark.slow
def test_a_default_pool_on_the_daemon_gives_its_folder(qconn, libvirtd):
    folder = Path(libvirtd.images)
    vconn = libvirt.open(libvirtd.uri)
    try:
        pool = vconn.storagePoolDefineXML(POOL_XML.format(path=folder), 0)
        try:
            assert qconn.host_facts().image_dir == str(folder)
        finally:
            pool.undefine()
    finally:
        vconn.close()
    assert qconn.host_facts().image_dir is None


@pytest.mark.parametrize("uri, local", [
    ("qemu:///system", True), ("test:///default", True), ("qemu+ssh://localhost/system", True),
    ("qemu+ssh://admin@db.example/system", False), ("qemu+tcp://10.0.0.5/session", False),
])
def test_disk_paths_are_this_machines_only_when_the_uri_names_no_other_host(uri, local):
    assert is_local_uri(uri) is local


def test_the_hosts_memory_and_the_pools_free_space_are_what_libvirt_tells(tmp_path):
    node = tmp_path / "pool-node.xml"
    pool = POOL_XML.format(path="/srv/vm-images")
    node.write_text(f"<node><cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads>"
                    f"<mhz>2000</mhz><model>i686</model><memory>8388608</memory></cpu>{pool}</node>")
    with drivers.open(f"libvirt:test://{node}") as conn:
        facts = conn.host_facts()
        vconn = conn.vconn()
        assert facts.memory_bytes == vconn.getInfo()[1] * 1024 * 1024 > 0
        assert facts.image_free_bytes == vconn.storagePoolLookupByName("default").info()[3] > 0


def test_without_a_default_pool_the_free_space_is_unknown(lvconn):
    assert lvconn.host_facts().image_free_bytes is None
