"""Naming the system on an installer image from osinfo-db, and what a new VM for it should get."""
from __future__ import annotations

import pytest
from isoimages import (
    DEBIAN_11,
    DEBIAN_11_FILE,
    FEDORA_WS_37,
    MICROSOFT,
    UBUNTU_SERVER_22_04,
    WINDOWS_11,
    make_iso,
    stated_ram_and_storage,
)

from drivers.isoinfo import IsoInfo, read_iso_info
from drivers.osinfo import OsInfoDb

GIB = 1024 ** 3
needs_db = pytest.mark.skipif(OsInfoDb().root is None, reason="osinfo-db is not installed (Debian: osinfo-db)")


@pytest.fixture(scope="module")
def db() -> OsInfoDb:
    return OsInfoDb()


@needs_db
def test_a_debian_netinst_image_is_debian_with_virtio_devices(db, tmp_path):
    profile = db.identify(read_iso_info(str(make_iso(tmp_path / "debian.iso", DEBIAN_11))))
    assert profile is not None
    assert (profile.os_id, profile.label) == ("http://debian.org/debian/11", "Debian 11 (bullseye)")
    assert (profile.ram, profile.min_ram, profile.storage, profile.min_storage) == \
        stated_ram_and_storage(db.root, DEBIAN_11_FILE)
    assert profile.ram >= GIB and profile.storage >= 10 * GIB
    # its virtio-blk/net ids come from Debian 10, which it derives from
    assert profile.virtio_disk and profile.virtio_net
    assert not (profile.needs_uefi or profile.secure_boot or profile.tpm)


@needs_db
def test_ubuntu_server_and_fedora_workstation_are_named_with_their_recommendations(db, tmp_path):
    ubuntu = db.identify(read_iso_info(str(make_iso(tmp_path / "ubuntu.iso", UBUNTU_SERVER_22_04))))
    fedora = db.identify(read_iso_info(str(make_iso(tmp_path / "fedora.iso", FEDORA_WS_37))))
    assert ubuntu is not None and fedora is not None
    assert ubuntu.label == "Ubuntu 22.04 LTS (Jammy Jellyfish)"
    assert (ubuntu.ram, ubuntu.storage) == (4 * GIB, 25 * GIB)
    assert fedora.label == "Fedora Linux 37"
    assert (fedora.ram, fedora.storage) == (2 * GIB, 20 * GIB)
    assert ubuntu.virtio_disk and fedora.virtio_net


@needs_db
def test_windows_11_needs_uefi_secure_boot_a_tpm_and_emulated_devices(db, tmp_path):
    profile = db.identify(read_iso_info(str(make_iso(tmp_path / "win11.iso", WINDOWS_11, MICROSOFT))))
    assert profile is not None
    # Windows 10's media have the same volume id pattern: the newer system wins
    assert (profile.os_id, profile.label) == ("http://microsoft.com/win/11", "Microsoft Windows 11")
    # only a minimum is stated (4 GiB); Windows 10's smaller recommendation does not undercut it
    assert (profile.min_ram, profile.ram, profile.storage) == (4 * GIB, 4 * GIB, 64 * GIB)
    assert profile.needs_uefi and profile.secure_boot and profile.tpm
    assert not (profile.virtio_disk or profile.virtio_net)
    assert profile.nic_model == "e1000e"


@needs_db
def test_a_windows_volume_id_from_another_publisher_is_not_windows(db):
    assert db.identify(IsoInfo(WINDOWS_11, publisher_id="SOMEONE ELSE")) is None


@needs_db
def test_an_unknown_volume_id_and_an_unnamed_udf_disc_identify_nothing(db):
    assert db.identify(IsoInfo("My holiday photos")) is None
    assert db.identify(IsoInfo("")) is None


def test_without_osinfo_db_nothing_is_identified(tmp_path):
    empty = OsInfoDb(str(tmp_path))
    assert empty.root is None and empty.media() == []
    assert empty.identify(IsoInfo(DEBIAN_11)) is None


def test_a_broken_db_file_is_skipped_and_the_rest_still_match(tmp_path):
    root = tmp_path / "db"
    (root / "os" / "example.org").mkdir(parents=True)
    (root / "os" / "example.org" / "broken.xml").write_text("<libosinfo><os id='x'>")
    (root / "os" / "example.org" / "doctype.xml").write_text("<!DOCTYPE x [<!ENTITY e 'x'>]><libosinfo/>")
    (root / "os" / "example.org" / "tiny-1.xml").write_text(
        "<libosinfo><os id='http://example.org/tiny/1'><short-id>tiny1</short-id><name>Tiny 1</name>"
        "<media arch='x86_64'><iso><volume-id>^TINY_[0-9]+$</volume-id></iso></media>"
        "<resources arch='all'><recommended><ram>536870912</ram></recommended></resources></os></libosinfo>")
    profile = OsInfoDb(str(root)).identify(IsoInfo("TINY_7"))
    assert profile is not None and (profile.label, profile.ram, profile.storage) == ("Tiny 1", GIB // 2, None)
