"""What the guest agent of a running domain reports, as rows a person reads in the details pane.

:func:`read_guest` runs in a worker (it asks the agent, which may take its
deadline of a few seconds); the rest turns its :class:`GuestReport` into plain
(heading, text) rows. A guest without an agent that answers gets one plain
row saying so instead of a dialog.
"""
from __future__ import annotations

from dataclasses import dataclass

from drivers import Domain, DriverError, ErrorCode
from drivers.guestagent import GuestFilesystem, GuestInterface

from ..textmark import N_
from .format import bytes_text

NO_AGENT = N_("No guest agent")
#: refusals that mean "no agent to ask" rather than a fault to report
_NO_AGENT_CODES = (ErrorCode.AGENT_UNRESPONSIVE, ErrorCode.NO_SUPPORT, ErrorCode.OPERATION_INVALID)


@dataclass(frozen=True)
class GuestReport:
    """The agent's answers; ``why_not`` says why there are none ("" when the agent answered)."""

    hostname: str | None = None
    os_text: str | None = None
    interfaces: tuple[GuestInterface, ...] = ()
    filesystems: tuple[GuestFilesystem, ...] = ()
    why_not: str = ""


def read_guest(dom: Domain) -> GuestReport:
    """Ask ``dom``'s guest agent for its addresses, host name, OS and file systems (worker thread)."""
    if dom.agent_connected() is False:
        return GuestReport(why_not=N_("the guest has not started qemu-ga (package qemu-guest-agent), or has no "
                                      "channel for it"))
    try:
        interfaces = tuple(dom.interface_addresses())
    except DriverError as exc:
        if exc.code not in _NO_AGENT_CODES:
            raise
        return GuestReport(why_not=N_("this connection cannot ask guest agents") if exc.code == ErrorCode.NO_SUPPORT
                           else exc.message)
    try:
        info = dom.guest_info()
    except DriverError as exc:
        if exc.code not in _NO_AGENT_CODES:
            raise
        return GuestReport(interfaces=interfaces)  # a host whose libvirt cannot ask the rest
    return GuestReport(info.hostname or None, info.os.text if info.os else None, interfaces,
                       info.filesystems or ())


def _addresses(interface: GuestInterface) -> str:
    return ", ".join(f"{a.address}/{a.prefix}" for a in interface.addresses) or N_("no address")


def _filesystem(fs: GuestFilesystem) -> str:
    kind, device = fs.type or N_("unknown type"), fs.name or N_("unknown device")
    if fs.used_bytes is not None and fs.total_bytes:
        return N_("{kind} on {device}, {used} of {total} used", kind=kind, device=device,
                  used=bytes_text(fs.used_bytes), total=bytes_text(fs.total_bytes))
    return N_("{kind} on {device}", kind=kind, device=device)


def guest_rows(report: GuestReport) -> list[tuple[str, str]]:
    """(heading, text): host name, OS, one row per interface (loopback left out) and per file system."""
    if report.why_not:
        return [(NO_AGENT, report.why_not)]
    rows: list[tuple[str, str]] = [(N_("Host name"), report.hostname or N_("not reported")),
                                   (N_("OS"), report.os_text or N_("not reported"))]
    rows += [(N_("Interface {name}", name=i.name), _addresses(i)) for i in report.interfaces if i.name != "lo"]
    rows += [(N_("File system {mountpoint}", mountpoint=fs.mountpoint), _filesystem(fs))
             for fs in report.filesystems]
    return rows
