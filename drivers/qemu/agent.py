"""The guest agent of a running VM: its channel in the live XML, its connection state, its commands.

QEMU serves the agent's virtio-serial port on a unix socket in the root's
0700 runtime directory (``<uuid16>.qga``). Whether the guest has the port
open comes from QEMU (``VSERPORT_CHANGE``; ``query-chardev`` after a
re-attach) and is what :attr:`LiveVM.agent_connected` says: a command to a
guest whose agent is not connected fails at once, without waiting. The
commands themselves go through :class:`drivers.guestagent.AgentClient`
(handshake, deadlines, one command at a time).
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode
from ..flags import AgentDetail, DomainState, EventType, GuestInfoTypes
from ..guestagent import (
    FREEZE_TIMEOUT_S,
    AgentClient,
    GuestInfo,
    GuestInterface,
    not_connected,
    parse_fsinfo,
    parse_interfaces,
    parse_osinfo,
)
from ..jobs import Job
from ..lifecycle import not_running
from .cmdline import AGENT_CHARDEV
from .state import LiveVM, QDom
from .store import DomainStore

log = logging.getLogger(__name__)
ALL_INFO = int(GuestInfoTypes.OS | GuestInfoTypes.HOSTNAME | GuestInfoTypes.FILESYSTEM)


def show_channel(definition: DomainXML, path: str | None) -> None:
    """Write the socket QEMU serves the agent on into the live XML, as libvirt shows it (not yet connected)."""
    nodes = definition.channel_nodes()
    if path is None or not nodes:
        return
    nodes[0].mode, nodes[0].path, nodes[0].state = "bind", path, "disconnected"


def attach(vm: LiveVM, name: str) -> None:
    """Give a VM whose live XML has the agent's channel the client for its socket."""
    channel = vm.definition.guest_agent_channel()
    if channel is not None and channel.path:
        vm.agent = AgentClient(channel.path, name)


def port_changed(host: DomainStore, dom: QDom, vm: LiveVM, connected: bool) -> None:
    """The guest opened or closed the agent's port: record it, say so in the live XML, emit AGENT."""
    with host.lock:
        if vm.agent is None or vm.agent_connected == connected:
            return
        vm.agent_connected = connected
        nodes = vm.definition.channel_nodes()
        if nodes:
            nodes[0].state = "connected" if connected else "disconnected"
        if dom.live is vm:
            host.write_state(dom)
            host.emit(dom, EventType.AGENT, AgentDetail.CONNECTED if connected else AgentDetail.DISCONNECTED)
    if not connected:
        vm.agent.disconnect()  # a later agent starts on a clean connection


def read_port_state(host: DomainStore, dom: QDom, vm: LiveVM) -> None:
    """After a re-attach: whether the guest has the agent's port open, from QEMU (query-chardev)."""
    if vm.agent is None:
        return
    try:
        devices = vm.execute("query-chardev", timeout=10)
    except DriverError as exc:
        log.info("cannot tell whether the guest agent of '%s' is connected: %s", dom.name, exc)
        return
    for dev in devices:
        if dev.get("label") == AGENT_CHARDEV:
            port_changed(host, dom, vm, bool(dev.get("frontend-open")))


def _client(host: DomainStore, dom: QDom) -> AgentClient:
    """The agent of a running guest, connected; a typed error saying why not, at once, otherwise."""
    with host.lock:
        vm = dom.live
        if vm is None:
            raise not_running(dom.name)
        if vm.agent is None:
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              f"domain '{dom.name}' has no guest agent channel: add <channel type='unix'><target "
                              "type='virtio' name='org.qemu.guest_agent.0'/></channel> and start it again")
        if dom.state != DomainState.RUNNING:
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              f"the guest agent of '{dom.name}' cannot answer while the guest is not running")
        if not vm.agent_connected:
            raise not_connected(dom.name)
        return vm.agent


def interface_addresses(host: DomainStore, dom: QDom) -> list[GuestInterface]:
    return parse_interfaces(_client(host, dom).execute("guest-network-get-interfaces"))


def guest_info(host: DomainStore, dom: QDom, types: int) -> GuestInfo:
    """What ``types`` (GuestInfoTypes, 0: all) asks for, each from its own agent command."""
    client = _client(host, dom)
    types = types or ALL_INFO
    hostname = os_info = filesystems = None
    if types & GuestInfoTypes.HOSTNAME:
        answer = client.execute("guest-get-host-name")
        hostname = str(answer.get("host-name") or "") if isinstance(answer, dict) else None
    if types & GuestInfoTypes.OS:
        os_info = parse_osinfo(client.execute("guest-get-osinfo"))
    if types & GuestInfoTypes.FILESYSTEM:
        filesystems = parse_fsinfo(client.execute("guest-get-fsinfo"))
    return GuestInfo(hostname, os_info, filesystems)


def shutdown(host: DomainStore, dom: QDom, reboot: bool) -> None:
    """guest-shutdown: the guest powers off (or reboots) itself; only a refusal answers."""
    _client(host, dom).execute("guest-shutdown", {"mode": "reboot" if reboot else "powerdown"}, answers=False)


def freeze(host: DomainStore, dom: QDom, mountpoints: list[str] | None = None) -> int:
    client = _client(host, dom)
    if mountpoints:
        return int(client.execute("guest-fsfreeze-freeze-list", {"mountpoints": list(mountpoints)},
                                  timeout=FREEZE_TIMEOUT_S))
    return int(client.execute("guest-fsfreeze-freeze", timeout=FREEZE_TIMEOUT_S))


def thaw(host: DomainStore, dom: QDom) -> int:
    return int(_client(host, dom).execute("guest-fsfreeze-thaw", timeout=FREEZE_TIMEOUT_S))


def frozen(host: DomainStore, dom: QDom) -> bool:
    """Whether the guest's file systems are frozen now (guest-fsfreeze-status)."""
    return bool(_client(host, dom).execute("guest-fsfreeze-status") == "frozen")


@contextlib.contextmanager
def frozen_for(host: DomainStore, dom: QDom, job: Job, required: bool) -> Iterator[None]:
    """The guest's file systems frozen while the body takes its point in time, when the agent is there.

    The job's note says which: "guest file systems frozen for the point in time",
    or why not. A freeze that fails is only noted, unless ``required`` (the caller's
    QUIESCE flag): then it raises and the body never runs. A domain with no agent
    channel at all is not asked and nothing is noted (as libvirt, without QUIESCE). The
    thaw always runs once a freeze was sent, whatever the body did; a thaw that fails is
    noted and logged.
    """
    with host.lock:
        channel = dom.live is not None and dom.live.agent is not None
        reachable = channel and dom.live is not None and dom.live.agent_connected
    if not channel and not required:
        yield
        return
    sent = False
    try:
        sent = reachable
        count = freeze(host, dom)
        job.note(f"guest file systems frozen for the point in time ({count})")
    except DriverError as exc:
        if required:
            if sent:
                _thaw_quietly(host, dom, job)
            raise DriverError(exc.code, f"cannot quiesce the guest: {exc.message}") from None
        job.note(f"guest file systems not frozen: {exc.message}")
    try:
        yield
    finally:
        if sent:
            _thaw_quietly(host, dom, job)


def _thaw_quietly(host: DomainStore, dom: QDom, job: Job) -> None:
    """Thaw, trying twice (a busy guest may miss the first deadline); failures end up in the note and the log."""
    for attempt in (1, 2):
        try:
            thaw(host, dom)
            return
        except DriverError as exc:
            if attempt == 2:
                log.warning("thawing the file systems of '%s' failed: %s", dom.name, exc)
                job.note(f"thawing the guest file systems failed: {exc.message}")
