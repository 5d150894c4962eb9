"""QMP events to domain state: pauses and resumes, guest shutdowns and graceful reboots, crashes,
the guest agent's port opening and closing.

Handlers run on the host's dispatcher thread, in the order QEMU sent the
events; they may take the host lock and issue QMP commands.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ..errors import DriverError
from ..flags import (
    DomainState,
    EventType,
    PausedReason,
    ResumedDetail,
    RunningReason,
    ShutdownDetail,
    ShutoffReason,
    StoppedDetail,
    SuspendedDetail,
)
from . import agent, leases
from .cmdline import AGENT_PORT
from .process import ProcessHost
from .state import LiveVM, QDom

log = logging.getLogger(__name__)

_PAUSED_STATUS = {
    "paused": PausedReason.USER, "postmigrate": PausedReason.MIGRATION, "finish-migrate": PausedReason.MIGRATION,
    "inmigrate": PausedReason.MIGRATION, "prelaunch": PausedReason.STARTING_UP, "io-error": PausedReason.IOERROR,
    "watchdog": PausedReason.WATCHDOG, "save-vm": PausedReason.SNAPSHOT, "restore-vm": PausedReason.FROM_SNAPSHOT,
    "suspended": PausedReason.UNKNOWN, "internal-error": PausedReason.UNKNOWN, "debug": PausedReason.UNKNOWN,
    "colo": PausedReason.UNKNOWN, "guest-panicked": PausedReason.CRASHED,
}


class EventHost(ProcessHost):
    """A root's QEMU processes with their QMP events applied to the domains' state."""

    def query_status(self, vm: LiveVM) -> str:
        return str(vm.execute("query-status", timeout=10)["status"])

    def run_guest(self, dom: QDom, vm: LiveVM, hint: tuple[int, int]) -> None:
        """QMP ``cont``, once the supervisor holds the disk leases: no guest runs without them.

        ``hint`` is the (running reason, resumed detail) the RESUMED event reports.
        """
        leases.hold(vm.sup, dom.name)
        vm.resume_hint = hint
        vm.execute("cont")
        self.sync_status(dom, vm)

    def sync_status(self, dom: QDom, vm: LiveVM, emit: bool = True) -> None:
        """Align our state with QEMU's run state."""
        try:
            status = self.query_status(vm)
        except DriverError:
            return
        with self.lock:
            if dom.live is not vm:
                return
            if status == "running":
                if dom.state != DomainState.RUNNING:
                    reason, detail = vm.resume_hint or (RunningReason.UNPAUSED, ResumedDetail.UNPAUSED)
                    vm.resume_hint = None
                    self.set_run_state(dom, DomainState.RUNNING, reason, EventType.RESUMED if emit else None, detail)
            elif status in ("shutdown",):
                pass  # the process is about to end
            else:
                if dom.state != DomainState.PAUSED:
                    reason = _PAUSED_STATUS.get(status, PausedReason.UNKNOWN)
                    detail = SuspendedDetail.MIGRATED if reason == PausedReason.MIGRATION else SuspendedDetail.PAUSED
                    if vm.pause_hint is not None:
                        reason, detail = vm.pause_hint
                        vm.pause_hint = None
                    self.set_run_state(dom, DomainState.PAUSED, reason, EventType.SUSPENDED if emit else None,
                                       detail)

    def on_qmp_event(self, dom: QDom, vm: LiveVM, name: str, data: dict[str, Any]) -> None:
        """Runs on the dispatcher thread, in order."""
        if vm.finished:
            return
        if name in ("JOB_STATUS_CHANGE", "MIGRATION", "MIGRATION_PASS", "BLOCK_JOB_COMPLETED"):
            vm.wakeup.set()
        elif name in ("STOP", "RESUME"):
            self.sync_status(dom, vm)
        elif name == "SHUTDOWN":
            guest = bool(data.get("guest"))
            with self.lock:
                if vm.ending is not None:  # our own quit (destroy, save, migration)
                    return
                rebooting = vm.reboot_pending and guest
                if not rebooting:
                    vm.ending = (int(ShutoffReason.SHUTDOWN), int(StoppedDetail.SHUTDOWN))
                if dom.live is vm:
                    self.emit(dom, EventType.SHUTDOWN, ShutdownDetail.GUEST if guest else ShutdownDetail.HOST)
            if rebooting:
                self._after_guest_shutdown(dom, vm)
        elif name == "RESET":
            # firmware resets again while rebooting: one reboot, one event
            now = time.monotonic()
            with self.lock:
                if dom.live is vm:
                    vm.clock.reboot()  # the guest's uptime starts again from 0
                    self.write_state(dom)
                    if now - vm.last_reset > 5.0:
                        self.emit(dom, EventType.REBOOT)
                vm.last_reset = now
        elif name == "VSERPORT_CHANGE" and data.get("id") == AGENT_PORT:
            agent.port_changed(self, dom, vm, bool(data.get("open")))
        elif name == "GUEST_PANICKED":
            with self.lock:
                if dom.live is vm:
                    self.emit(dom, EventType.CRASHED, 0, "the guest panicked")
        elif name == "__EOF__":
            vm.wakeup.set()
            self.on_process_end(dom, vm)

    def expect_reboot(self, dom: QDom, vm: LiveVM, pending: bool) -> None:
        """Make the guest's next shutdown a reboot (``pending``) or a power-off again.

        QEMU's shutdown action (QMP ``set-action``) is "pause" only while a
        reboot is pending: the guest then stops in the "shutdown" run state and
        :meth:`_after_guest_shutdown` resets and continues it. Otherwise a guest
        shutdown ends the QEMU process itself, also while no vmgui is running.
        """
        vm.execute("set-action", {"shutdown": "pause" if pending else "poweroff"})
        with self.lock:
            vm.reboot_pending = pending
            if dom.live is vm:
                self.write_state(dom)

    def _after_guest_shutdown(self, dom: QDom, vm: LiveVM) -> None:
        """The guest shut down and QEMU paused it: reset and continue it (a graceful reboot), or end QEMU.

        Runs on the dispatcher thread. A reboot that QEMU refuses ends the
        process as a shutdown would, so a guest is never left stopped for ever;
        one cut short because this process let go of the VM (the last
        connection closed) is left to the next re-attach, which sees the guest
        stopped in the "shutdown" state and carries the reboot out.
        """
        if vm.reboot_pending:
            try:
                vm.execute("system_reset")
                deadline = time.monotonic() + 10.0
                while self.query_status(vm) == "shutdown" and time.monotonic() < deadline:
                    time.sleep(0.02)  # QEMU resets in its main loop, after answering
                self.expect_reboot(dom, vm, False)
                vm.execute("cont")
                self.set_run_state(dom, DomainState.RUNNING, RunningReason.BOOTED, None)
                return
            except DriverError as exc:
                if self.closed:  # our QMP session went with the last connection: a re-attach finishes it
                    return
                log.warning("rebooting '%s' after its shutdown failed, ending it: %s", dom.name, exc)
        with self.lock:
            if vm.ending is None:
                vm.ending = (int(ShutoffReason.SHUTDOWN), int(StoppedDetail.SHUTDOWN))
        threading.Thread(target=self.kill, args=(vm,), name=f"qemu-end-{dom.name}", daemon=True).start()

    def on_process_end(self, dom: QDom, vm: LiveVM) -> None:
        if vm.finished:
            return
        status = vm.sup.wait(5.0)
        if vm.finished:
            return
        if vm.ending is not None:
            reason, detail = vm.ending
            crashed = False
        elif status is not None and not status.crashed:
            reason, detail, crashed = int(ShutoffReason.SHUTDOWN), int(StoppedDetail.SHUTDOWN), False
        else:
            reason, detail, crashed = int(ShutoffReason.CRASHED), int(StoppedDetail.CRASHED), True
        job = self.jobs.current(dom.uuid)
        if job is not None:
            job.request_cancel()
        self.finish_stop(dom, vm, reason, detail, crashed)
