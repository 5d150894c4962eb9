"""The guest agent calls through the bridge, against libvirt's own test driver.

libvirt's test driver answers virDomainInterfaceAddresses and
virDomainFSFreeze/Thaw itself (no guest) and lacks virDomainGetGuestInfo, so
that call shows how a missing API reaches the user: a typed NO_SUPPORT.
"""
from __future__ import annotations

import pytest

import drivers
from drivers import DomainState, DriverError, ErrorCode
from drivers.flags import InterfaceSource, ShutdownFlags
from drivers.guestagent import IPAddress
from drivers.libvirt import guest

pytestmark = pytest.mark.libvirt


def running(lvconn):
    """A running persistent domain (a transient one is gone once shut down)."""
    return next(d for d in lvconn.list_all_domains() if d.state()[0] == DomainState.RUNNING and d.is_persistent())


def test_interface_addresses_come_back_as_the_cores_values():
    with drivers.open("libvirt:test:///default") as conn:
        dom = conn.lookup_by_name("test")  # the default host's guest has an interface
        for source in (InterfaceSource.AGENT, InterfaceSource.LEASE):
            found = dom.interface_addresses(source)
            assert found and all(i.name and i.hwaddr and i.addresses for i in found), found
            assert all(isinstance(a, IPAddress) and a.type in ("ipv4", "ipv6") and 0 < a.prefix <= 128
                       for i in found for a in i.addresses)


def test_freeze_and_thaw_report_how_many_file_systems(lvconn):
    dom = running(lvconn)
    frozen = dom.fs_freeze()
    assert frozen > 0
    assert dom.fs_thaw() == frozen


def test_guest_info_the_driver_lacks_is_a_typed_refusal(lvconn):
    with pytest.raises(DriverError) as err:
        running(lvconn).guest_info()
    assert err.value.code == ErrorCode.NO_SUPPORT
    assert "reading guest information" in err.value.message


def test_shutdown_flags_pass_libvirts_values(lvconn):
    dom = running(lvconn)
    with pytest.raises(DriverError) as err:
        dom.shutdown_flags(1 << 5)
    assert err.value.code == ErrorCode.INVALID_ARG
    with pytest.raises(DriverError) as err:
        dom.shutdown_flags(ShutdownFlags.GUEST_AGENT)  # libvirt's test driver knows no methods
    assert err.value.code == ErrorCode.INVALID_ARG and "unsupported flags (0x2)" in err.value.message
    dom.shutdown_flags(0)
    assert dom.state()[0] == DomainState.SHUTOFF


def test_guest_info_parameters_become_host_name_os_and_file_systems():
    params = {"hostname": "web01", "os.id": "debian", "os.pretty-name": "Debian GNU/Linux 12 (bookworm)",
              "os.kernel-release": "6.1.0-28-amd64", "fs.count": 1, "fs.0.mountpoint": "/", "fs.0.name": "vda1",
              "fs.0.fstype": "ext4", "fs.0.total-bytes": 10 << 30, "fs.0.used-bytes": 3 << 30,
              "fs.0.disk.count": 1, "fs.0.disk.0.alias": "vda"}
    info = guest.info(params, True, True, True)
    assert info.hostname == "web01"
    assert info.os is not None and info.os.text == "Debian GNU/Linux 12 (bookworm), kernel 6.1.0-28-amd64"
    assert [(f.mountpoint, f.type, f.disks, f.total_bytes) for f in info.filesystems or ()] == [
        ("/", "ext4", ("vda",), 10 << 30)]
    assert guest.info(params, False, True, False).os is None
