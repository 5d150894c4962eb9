"""QEMU processes of a root: launch under a lock supervisor, connect QMP, kill, reap, boot.

Each VM's QEMU runs under its supervisor (``leases``), detached: it outlives
this process. QMP events arrive on the loop thread and are handed, in order,
to the host's dispatcher thread (:meth:`ProcessHost.dispatch`), where the
events layer turns them into state changes.
"""
from __future__ import annotations

import itertools
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from ..diskimage import check_guest_files
from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode
from ..flags import (
    DomainState,
    EventType,
    PausedReason,
    RunningReason,
    StartedDetail,
    SuspendedDetail,
)
from . import agent, cmdline, diskstamps, firmware, leases, swtpm
from .layout import RootLayout, unlink
from .monitor import LoopThread, Monitor
from .state import LiveVM, QDom
from .store import DomainStore, drop_runtime_sockets

log = logging.getLogger(__name__)


class ProcessHost(DomainStore):
    """Starting and ending the QEMU processes of one root, and recording that they run or stopped."""

    def __init__(self, layout: RootLayout) -> None:
        super().__init__(layout)
        self.loop = LoopThread(f"qemu-qmp-{layout.key}")
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name=f"qemu-dispatch-{layout.key}",
                                            daemon=True)
        self._dispatcher.start()
        self._ids = itertools.count(1)
        #: set once the last connection closed: the QMP sessions are gone
        self.closed = False
        #: set when the last connection closes: jobs QEMU runs on its own (backups) stop being followed
        self.leaving = threading.Event()
        #: job id -> bytes/s limit of the copy QEMU runs for it (backup, outgoing migration; 0 = unlimited)
        self.job_speed: dict[int, int] = {}
        self.host_key = lease_host_key(layout)
        self.lease_host = self.host_key
        self._lockspace: Any = None
        #: forks supervisors fast; started once the root has domains (see warm_up)
        self.launcher = leases.FastLauncher()

    @property
    def lockspace(self) -> Any:
        if self._lockspace is None:
            self._lockspace = leases.lockspace()
        return self._lockspace

    def dispatch(self, fn: Callable[[], None]) -> None:
        self._queue.put(fn)

    def _dispatch_loop(self) -> None:
        while True:
            fn = self._queue.get()
            if fn is None:
                return
            try:
                fn()
            except Exception:
                log.exception("handling a QEMU event failed")

    def flush_dispatch(self, timeout: float = 10.0) -> None:
        done = threading.Event()
        self.dispatch(done.set)
        done.wait(timeout)

    def shutdown(self) -> None:
        """Last connection closed: drop QMP sessions; the VMs keep running."""
        with self.lock:
            self.closed = True
            vms = [d.live for d in self.by_uuid.values() if d.live is not None]
        for vm in vms:
            vm.detach()
        self._queue.put(None)
        self.launcher.close()
        self.loop.stop()
        self.bus.close()

    def reserve_ids(self, highest: int) -> None:
        """New VMs get ids above ``highest`` (the largest id a running VM of the root has)."""
        self._ids = itertools.count(highest + 1)

    def on_qmp_event(self, dom: QDom, vm: LiveVM, name: str, data: dict[str, Any]) -> None:
        """What a QMP event of ``vm`` changes (the events layer says); runs on the dispatcher thread, in order."""
        raise NotImplementedError

    def warm_up(self) -> None:
        """Start the supervisor helper in the background, ahead of the first VM start."""
        self.launcher.start()

    def next_id(self) -> int:
        return next(self._ids)

    def connect_monitor(self, dom: QDom, vm: LiveVM, timeout: float = 10.0) -> None:
        mon = Monitor(self.loop, dom.name, lambda name, data: self.on_qmp_event(dom, vm, name, data),
                      self.dispatch)
        mon.connect(vm.qmp_path, timeout=timeout, alive=vm.sup.alive)
        vm.mon = mon

    def launch(self, dom: QDom, definition: DomainXML, *, paused: bool = False, incoming: str | None = None,
               register_only: bool = False, extra_args: list[str] | None = None) -> LiveVM:
        """Start QEMU for ``dom`` under a lock supervisor and connect QMP (no state change yet)."""
        check_guest_files(definition, ErrorCode.OPERATION_INVALID)  # a symlink may point elsewhere by now
        lay = self.layout
        qmp = lay.socket(dom.uuid, "qmp")
        vnc = lay.socket(dom.uuid, "vnc")
        con = lay.socket(dom.uuid, "con")
        tpm = lay.socket(dom.uuid, "tpm") if definition.tpms() else None
        qga = lay.socket(dom.uuid, "qga")
        drop_runtime_sockets(definition)  # sockets chosen for an earlier run (or another root) are chosen again
        cmd = cmdline.build(definition, qmp_socket=qmp, vnc_socket=vnc, incoming=incoming, paused=paused,
                            console_socket=con, pty_log=str(lay.serial_log(dom.name)), tpm_socket=tpm,
                            agent_socket=qga)
        firmware.prepare_nvram(definition)
        diskstamps.check_before_start(lay, dom.uuid, cmd.disks)
        argv = cmd.argv + list(extra_args or [])
        if cmd.vnc_socket:  # tell clients (xml_desc) where the display is
            el = definition.root.find("devices/graphics")
            if el is not None:
                el.set("socket", cmd.vnc_socket)
        agent.show_channel(definition, cmd.agent_socket)
        for path in (qmp, vnc, con, qga):
            unlink(path)
        prev = leases.attach(dom.uuid, lay.supervisors)
        if prev is not None and prev.wait(10.0) is None:  # a previous QEMU still on its way out
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              f"the previous QEMU process of '{dom.name}' (pid {prev.vm_pid}) is still stopping")
        mgr = leases.manager(dom.uuid, dom.name, cmd.disks, self.lockspace, self.host_key, lay.supervisors,
                             cmd.bases)
        logfile = lay.log(dom.name)
        try:
            log_start = os.path.getsize(logfile)
        except OSError:
            log_start = 0
        try:
            with open(logfile, "ab") as fh:
                fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} starting: {argv!r}\n".encode())
        except OSError:
            pass
        tpm_pid = swtpm.start(lay.tpm_dir(dom.uuid), tpm, lay.tpm_log(dom.name)) if tpm else None
        try:
            sup = self.launcher.launch(mgr, argv, register_only=register_only, stdout_path=str(logfile),
                                       cwd=str(lay.root))
        except BaseException:
            if tpm_pid is not None:
                swtpm.stop(tpm_pid)
            raise
        vm = LiveVM(self.next_id(), definition, sup, qmp, cmd.disks, cmd.serial_log, cmd.console_socket)
        agent.attach(vm, dom.name)
        try:
            self.connect_monitor(dom, vm)
            if cmd.vnc_password and vm.mon is not None:
                vm.mon.execute("set_password", {"protocol": "vnc", "password": cmd.vnc_password})
        except DriverError as exc:
            try:
                sup.shutdown(5)
            except DriverError:
                pass
            if tpm_pid is not None:
                swtpm.stop(tpm_pid)
            tail = self.log_tail(dom.name, since=log_start)
            code = ErrorCode.RESOURCE_BUSY if 'Failed to get "write" lock' in tail or \
                'Failed to get "consistent read" lock' in tail else ErrorCode.OPERATION_FAILED
            raise DriverError(code, f"QEMU could not start '{dom.name}': {tail or exc.message}") from None
        return vm

    def log_tail(self, name: str, lines: int = 3, since: int = 0) -> str:
        """The last lines QEMU wrote to its log (after offset ``since``)."""
        try:
            with open(self.layout.log(name), "rb") as fh:
                fh.seek(max(since, os.fstat(fh.fileno()).st_size - 4096))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return ""
        tail = [ln for ln in text.splitlines() if ln.strip() and "starting:" not in ln][-lines:]
        return " | ".join(tail)

    def attach_live(self, dom: QDom, vm: LiveVM, state: DomainState, reason: int) -> None:
        """Make ``vm`` the running instance of ``dom`` (under the lock)."""
        dom.live = vm
        dom.state = state
        dom.reason = int(reason)
        dom.touch()
        self.write_state(dom)

    def kill(self, vm: LiveVM, timeout: float = 10.0, wait: bool = True) -> None:
        """End a QEMU process: QMP quit, then the supervisor's SIGTERM/SIGKILL.

        ``wait=False`` returns once QEMU accepted ``quit`` and reaps in the
        background: only for a VM that holds no leases any more (a migrated
        source); a later start of the same domain waits for it (see launch).
        """
        if vm.mon is not None and vm.mon.connected:
            try:
                vm.mon.execute("quit", timeout=3)
                quit_ok = True
            except DriverError:
                quit_ok = False
            if quit_ok and not wait:
                threading.Thread(target=self._reap, args=(vm, timeout), name="qemu-reap", daemon=True).start()
                return
            if vm.sup.wait(min(5.0, timeout)) is not None:
                return
        try:
            vm.sup.shutdown(timeout)
        except DriverError as exc:
            log.warning("stopping '%s': %s", vm.definition.name, exc)

    def _reap(self, vm: LiveVM, timeout: float) -> None:
        if vm.sup.wait(min(5.0, timeout)) is None:
            try:
                vm.sup.shutdown(timeout)
            except DriverError as exc:
                log.warning("stopping '%s': %s", vm.definition.name, exc)

    def finish_stop(self, dom: QDom, vm: LiveVM, reason: int, detail: int, crashed: bool = False) -> None:
        """Record that ``vm`` ended (idempotent); a transient domain disappears."""
        with self.lock:
            if vm.finished or dom.live is not vm:
                return
            vm.finished = True
            vm.detach()
            dom.live = None
            dom.run_problem = ""  # an unreadable state file goes with the process it described
            dom.state = DomainState.SHUTOFF
            dom.reason = int(reason)
            unlink(self.layout.state(dom.uuid))
            diskstamps.record_stop(self.layout, dom.uuid, vm.disks, crashed)
            dom.touch()
            if crashed:
                self.emit(dom, EventType.CRASHED, 0, "the QEMU process ended unexpectedly")
            self.emit(dom, EventType.STOPPED, detail)
            if not dom.persistent:
                self.remove(dom)
                sdir = self.layout.snapshot_dir(dom.uuid)
                if sdir.is_dir() or self.layout.tpm_dir(dom.uuid).is_dir() or \
                        self.layout.checkpoint_dir(dom.uuid).is_dir():
                    self.forget_files(dom, keep_nvram=True)

    def set_run_state(self, dom: QDom, state: DomainState, reason: int, event: EventType | None,
                      detail: int = 0) -> None:
        """Change a running domain's state; emits ``event`` only on a real change."""
        with self.lock:
            if dom.live is None:
                return
            changed = dom.state != state
            dom.state = state
            if state == DomainState.PAUSED:
                dom.live.clock.pause()
            elif state == DomainState.RUNNING:
                dom.live.clock.resume()
            dom.reason = int(reason)
            dom.touch()
            self.write_state(dom)
            if changed and event is not None:
                self.emit(dom, event, detail)

    def started(self, dom: QDom, vm: LiveVM, paused: bool, detail: StartedDetail,
                running_reason: RunningReason) -> None:
        """Record a freshly started VM and emit STARTED (+ SUSPENDED when paused)."""
        with self.lock:
            self.attach_live(dom, vm, DomainState.RUNNING, running_reason)
            self.emit(dom, EventType.STARTED, detail)
            if paused:
                susp = {StartedDetail.RESTORED: SuspendedDetail.RESTORED,
                        StartedDetail.FROM_SNAPSHOT: SuspendedDetail.FROM_SNAPSHOT,
                        StartedDetail.MIGRATED: SuspendedDetail.MIGRATED}.get(detail, SuspendedDetail.PAUSED)
                preason = {StartedDetail.RESTORED: PausedReason.USER,
                           StartedDetail.FROM_SNAPSHOT: PausedReason.FROM_SNAPSHOT,
                           StartedDetail.MIGRATED: PausedReason.MIGRATION}.get(detail, PausedReason.USER)
                self.set_run_state(dom, DomainState.PAUSED, preason, EventType.SUSPENDED, susp)

    def boot(self, dom: QDom, definition: DomainXML | None, paused: bool,
             detail: StartedDetail = StartedDetail.BOOTED, extra_args: list[str] | None = None) -> None:
        """Start QEMU for ``dom`` and record it as running (or paused)."""
        if definition is None:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{dom.name}' has no definition to start")
        live_def = definition.copy()
        if detail == StartedDetail.BOOTED:  # a new boot starts the driver's own serial log afresh
            unlink(self.layout.serial_log(dom.name))
        vm = self.launch(dom, live_def, paused=paused, extra_args=extra_args)
        reason = RunningReason.FROM_SNAPSHOT if detail == StartedDetail.FROM_SNAPSHOT else RunningReason.BOOTED
        self.started(dom, vm, paused, detail, reason)


def lease_host_key(layout: RootLayout) -> str:
    """The host name a root's VMs hold their leases under: two roots are two hosts."""
    return f"{socket.gethostname() or 'localhost'}-{layout.key}"
