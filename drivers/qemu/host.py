"""The state of one root in this process: its files, QEMU processes, events and jobs, and re-attaching.

One :class:`QemuHost` exists per root directory per process; every
connection to that root shares it (like libvirt's daemon state), so a QMP
socket has exactly one client in this process. Mutations happen under
:attr:`QemuHost.lock`; QMP commands that take long (jobs) run without it.

The host is built in layers, each importing only those below it:
:mod:`state` (declared state) <- :mod:`store` (files) <- :mod:`process`
(launch, kill, reap, boot) <- :mod:`events` (QMP events to state) <-
:mod:`salvage` (unreadable files) and :mod:`adopters` <- this module
(claiming the root, opening and re-attaching). What a previous
process left behind (jobs half done, snapshot operations) is settled by the
feature modules through the :mod:`adopters` hooks they register: the host
knows no feature.
"""
from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

from .. import diskdelete
from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode
from ..flags import DomainState, JobOperation, RunningReason, ShutoffReason
from ..fsutil import read_json
from ..guestclock import GuestClock
from . import agent, leases, salvage
from .adopters import registered
from .cmdline import BlockNode
from .events import EventHost
from .layout import RootLayout, unlink
from .process import lease_host_key
from .state import LiveVM, QDom

log = logging.getLogger(__name__)

#: how long re-attaching waits for the QMP of a VM whose snapshot was under way: QEMU takes a new
#: client only once its main loop runs again, i.e. once it finished saving the guest's memory
BUSY_QMP_WAIT_S = 90.0
#: the usual wait for a running VM's QMP socket to take this process as its client
QMP_WAIT_S = 10.0


class QemuHost(EventHost):
    """Everything of one root in this process; shared by its connections.

    The domain index, event bus and job table are the core's
    (:class:`drivers.stateful.StatefulHost`), with libvirt's name/uuid rules.
    """

    def __init__(self, layout: RootLayout) -> None:
        super().__init__(layout)
        self.refs = 0
        self._owner_fd: int | None = None

    def claim(self) -> None:
        """Become the one process that manages this root (QEMU's QMP socket takes one client)."""
        path = self.layout.runtime / "owner.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                owner = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            finally:
                os.close(fd)
            raise DriverError(ErrorCode.RESOURCE_BUSY,
                              f"the root {self.layout.root} is managed by another process (pid {owner}); "
                              "close vmgui there, or use another root") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._owner_fd = fd

    def shutdown(self) -> None:
        """Last connection closed: drop QMP sessions (the VMs keep running) and the claim on the root."""
        super().shutdown()
        if self._owner_fd is not None:
            os.close(self._owner_fd)  # drops the flock
            self._owner_fd = None

    def load(self) -> None:
        """Read every definition and re-attach to running VMs."""
        lay = self.layout
        for d, exc in self.load_definitions():  # listed as broken, not skipped; after the readable ones
            salvage.broken_definition(self, d, exc)
        max_id = 0
        for st in sorted((lay.root / "state").glob("*.json")):
            data = read_json(st)
            if not data:
                continue
            max_id = max(max_id, int(data.get("id") or 0))
        self.reserve_ids(max_id)
        for st in sorted((lay.root / "state").glob("*.json")):
            try:
                self._reattach(salvage.read_state(st))
            except Exception as exc:  # noqa: BLE001 - one broken VM must not hide the others
                log.warning("cannot re-attach to %s: %s", st, exc)
                salvage.unreadable_state(self, st, exc)
        for adopter in registered():
            if adopter.opened is not None:
                adopter.opened(self)

    def _reattach(self, data: dict[str, Any]) -> None:
        uuid = str(data["uuid"])
        definition = DomainXML.parse(data["xml"])
        with self.lock:
            dom = self.by_uuid.get(uuid)
            if dom is None:
                dom = QDom(None, False, definition.name, uuid, shadow=definition)
                if not data.get("persistent"):
                    meta = read_json(self.layout.meta(uuid)) or {}
                    self.load_snapshots(dom, meta)
        sup = leases.attach(uuid, self.layout.supervisors)
        if sup is None:
            # the VM ended while nobody watched: record how
            ended = leases.exit_status(uuid, self.layout.supervisors)
            unlink(self.layout.state(uuid))
            if dom.persistent:
                crashed = ended is None or ended.crashed
                dom.reason = int(ShutoffReason.CRASHED if crashed else ShutoffReason.SHUTDOWN)
                dom.touch()
            for adopter in registered():
                if adopter.gone is not None:
                    adopter.gone(self, dom, data)
            return
        disks = [BlockNode(**d) for d in data.get("disks", [])]
        vm = LiveVM(int(data.get("id") or self.next_id()), definition, sup, str(data["qmp"]), disks,
                    data.get("serial_log"), data.get("console"))
        vm.clock = GuestClock.from_state(data)
        agent.attach(vm, dom.name)
        with self.lock:
            if dom.uuid not in self.by_uuid:
                self.add(dom)
            dom.live = vm
            dom.state = DomainState.RUNNING
            dom.reason = int(data.get("reason") or RunningReason.UNKNOWN)
            dom.touch()
        vm.incoming = bool(data.get("incoming"))
        vm.job_note = dict(data.get("job_note") or {})
        vm.reboot_pending = bool(data.get("reboot_pending"))
        try:
            self.connect_monitor(dom, vm, timeout=BUSY_QMP_WAIT_S if self.snapshot_pending(uuid) else QMP_WAIT_S)
        except DriverError as exc:
            log.warning("re-attached to '%s' without a monitor: %s", dom.name, exc)
            return
        agent.read_port_state(self, dom, vm)
        for adopter in registered():  # finish or roll back what the jobs of a process that died left in QEMU
            if adopter.reattached is not None and not vm.finished:
                adopter.reattached(self, dom, vm)
        if vm.finished:
            return
        try:  # the guest shut down while no vmgui was watching, or a reboot was cut short after the reset
            status = self.query_status(vm)
        except DriverError:
            status = ""
        stopped_for_reboot = status == "shutdown" or (vm.reboot_pending and status == "prelaunch")
        if stopped_for_reboot:
            self.dispatch(lambda: self._after_guest_shutdown(dom, vm))
        self.sync_status(dom, vm, emit=False)


def place_lease_holder(host_name: str, vm_pid: int | None) -> str | None:
    """The URI of the root a lease holder's QEMU runs in (it runs with the root as its working
    directory), checked against the holder's host name; None when it is not one of ours."""
    if not vm_pid or not host_name.startswith(f"{socket.gethostname() or 'localhost'}-"):
        return None
    try:
        root = os.readlink(f"/proc/{vm_pid}/cwd")
    except OSError:
        return None
    return f"qemu:///embed?root={root}" if lease_host_key(RootLayout(Path(root))) == host_name else None


diskdelete.add_placer(place_lease_holder)

_hosts_lock = threading.Lock()
_hosts: dict[Path, QemuHost] = {}


def acquire_host(root: Path) -> tuple[QemuHost, bool]:
    """The process-wide host of ``root`` (created and loaded on first use); True if new."""
    layout = RootLayout(root)
    with _hosts_lock:
        host = _hosts.get(layout.root)
        if host is None or host.closed:
            layout.ensure()
            host = QemuHost(layout)
            try:
                host.claim()
                host.load()
            except BaseException:
                host.shutdown()
                raise
            _hosts[layout.root] = host
            host.refs += 1
            host.warm_up()  # a migration destination or first start should not wait for it
            return host, True
        host.refs += 1
        return host, False


def release_host(host: QemuHost) -> None:
    """A connection closed; the last one ends what needs this process and drops the QMP sessions.

    The VMs keep running, and so do backups: QEMU copies on its own, and the
    next connection to the root takes them over. Jobs this process drives
    (save, migration, disk creation) are cancelled, not left half done: the
    guest runs on, their files are removed.
    """
    with _hosts_lock:
        host.refs -= 1
        if host.refs > 0:
            return
        if _hosts.get(host.layout.root) is host:
            del _hosts[host.layout.root]
    host.leaving.set()
    with host.lock:
        vms = [d.live for d in host.by_uuid.values() if d.live is not None]
    for vm in vms:
        vm.wakeup.set()  # a backup's follower sees the host leaving at once
    for job in host.jobs.running():
        if job.operation is not JobOperation.BACKUP:
            job.request_cancel()
    for job in host.jobs.running():
        job.wait(30)
    host.shutdown()
