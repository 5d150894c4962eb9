"""Domain.open_graphics of the libvirt bridge: virDomainOpenGraphicsFD on a private libvirtd's QEMU guest."""
from __future__ import annotations

import pytest
from refusals import refused
from rfbwatch import Watcher

from drivers import DriverError, ErrorCode
from vmgui.rfb import RfbClient


def test_open_graphics_fd_speaks_rfb_from_a_libvirt_guest(qconn, libvirtd, unique):
    xml = libvirtd.domain_xml(f"gfx-{unique}").replace("</devices>", "<graphics type='vnc'/></devices>")
    dom = qconn.define_xml(xml)
    dom.create()
    client = RfbClient(dom.open_graphics())
    init = client.handshake()
    assert init.version == (3, 8) and init.width > 0 and init.height > 0
    watcher = Watcher(client)
    try:
        watcher.wait_updates(2)
        assert client.extended_keys, "libvirt's QEMU confirms the extended key event"
    finally:
        watcher.stop()
    with refused(ErrorCode.INVALID_ARG):
        dom.open_graphics(-1)
    dom.destroy()
    with pytest.raises(DriverError) as err:
        dom.open_graphics()
    assert err.value.code == ErrorCode.OPERATION_INVALID, err.value


def test_a_guest_without_graphics_is_refused_with_libvirts_reason(qconn, libvirtd, unique):
    dom = qconn.create_xml(libvirtd.domain_xml(f"nogfx-{unique}"))
    with pytest.raises(DriverError) as err:
        dom.open_graphics()
    assert err.value.code == ErrorCode.INTERNAL_ERROR and "index 0" in err.value.message, err.value
