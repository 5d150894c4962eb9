"""A running VM's display as a connected stream (``Domain.open_graphics``), the way libvirt does it.

One end of a fresh socket pair is handed to QEMU (SCM_RIGHTS + ``getfd``) and
attached to its VNC server with ``add_client``; the other end is the
caller's. That reaches the display whether it listens on a unix socket or a
loopback port, needs no path or port from the XML, and QEMU serves it like
any other VNC client. ``skipauth`` as virt-viewer's ``--attach`` asks for it:
whoever may control the domain may see its screen.
"""
from __future__ import annotations

import itertools
import socket

from ..errors import DriverError, ErrorCode, invalid_arg
from ..lifecycle import not_running
from .events import EventHost
from .state import QDom

_names = itertools.count(1)


def open_graphics(host: EventHost, dom: QDom, index: int) -> socket.socket:
    """A stream speaking RFB from display ``index`` of a running domain (only its first <graphics> runs)."""
    if index < 0:
        raise invalid_arg(f"display index {index} is negative")
    with host.lock:
        vm = dom.live
        if vm is None:
            raise not_running(dom.name)
        graphics = vm.definition.graphics()
        mon = vm.mon
    if not graphics:
        raise DriverError(ErrorCode.NO_SUPPORT,
                          f"domain '{dom.name}' has no display; add <graphics type='vnc'/> to its XML")
    if index > 0:
        raise DriverError(ErrorCode.NO_SUPPORT, f"domain '{dom.name}' has no display {index}: QEMU runs "
                                                "the first <graphics> of its XML only (index 0)")
    if mon is None:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"no monitor connection to '{dom.name}'")
    fdname = f"vmgui-display-{next(_names)}"
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        mon.send_fd(theirs.fileno(), fdname)
        vm.execute("add_client", {"protocol": "vnc", "fdname": fdname, "skipauth": True}, timeout=15)
    except DriverError as exc:
        ours.close()
        try:
            vm.execute("closefd", {"fdname": fdname}, timeout=5)  # getfd may have worked; add_client did not
        except DriverError:
            pass
        with host.lock:
            if dom.live is not vm:
                raise not_running(dom.name) from None
        raise DriverError(ErrorCode.OPERATION_FAILED,
                          f"QEMU could not open the display of '{dom.name}': {exc.message}") from None
    finally:
        theirs.close()
    return ours
