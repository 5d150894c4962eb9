"""Domains of ``qemu:///embed``: the lifecycle state machine on real QEMU processes.

Wrong-state calls fail with OPERATION_INVALID, as in the test driver;
``destroy`` always works (it cancels a running job first). Long operations
(save, managed save, restore, snapshots, backup) run as jobs with figures
taken from QEMU.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar, cast

from .. import media
from ..base import Checkpoint, Console, Screenshot, Snapshot
from ..diskimage import check_new_file
from ..errors import DriverError, ErrorCode, check_flags, invalid_arg
from ..flags import (
    CreateFlags,
    DomainState,
    DomainXMLFlags,
    EventType,
    InterfaceSource,
    JobFlags,
    JobOperation,
    PausedReason,
    ResumedDetail,
    RunningReason,
    SaveFlags,
    ShutdownFlags,
    ShutoffReason,
    StoppedDetail,
    SuspendedDetail,
    UndefinedDetail,
    UndefineFlags,
)
from ..guestagent import GuestInfo, GuestInterface
from ..jobs import Job
from ..lifecycle import (
    check_autostart_allowed,
    check_can_pause,
    check_can_resume,
    check_undefine,
    not_running,
)
from ..records import DomainRecord
from ..stateful import StatefulDomain
from . import agent, cdrom, checkpoints, migration, salvage, saveops, snapshots, streams
from . import backup as backup_mod
from . import console as console_mod
from . import graphics as graphics_mod
from .context import DomainOps
from .events import EventHost
from .guard import guarded
from .layout import unlink
from .state import LiveVM, QDom

if TYPE_CHECKING:
    from ..domxml import DomainXML

log = logging.getLogger(__name__)
T = TypeVar("T")
_SHUTDOWN_FLAGS = int(ShutdownFlags.ACPI_POWER_BTN | ShutdownFlags.GUEST_AGENT)
_SAVE_FLAGS = int(SaveFlags.BYPASS_CACHE | SaveFlags.RUNNING | SaveFlags.PAUSED | JobFlags.ASYNC)


@contextlib.contextmanager
def transition(host: EventHost, dom: QDom, action: str) -> Iterator[None]:
    """Hold ``dom`` busy for a synchronous state change done without the host lock."""
    with host.lock:
        host.jobs.check_idle(dom.uuid, dom.name, action)
        if dom.busy:
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              f"cannot {action} '{dom.name}' while it is busy with: {dom.busy}")
        dom.busy = action
    try:
        yield
    finally:
        with host.lock:
            dom.busy = None


@guarded
class QemuDomain(StatefulDomain):
    @property
    def _host(self) -> EventHost:
        return cast(EventHost, self._conn.host)  # a QemuConnection makes its domains' handles

    def _dom(self) -> QDom:
        self._conn.check_open()
        return self._host.get(self._uuid, self._name)

    def _ops(self) -> DomainOps:
        """This domain as the operation modules (snapshots, backup) see it."""
        return DomainOps(self, self._host, self._dom, self._idle, self._conn.run_job)

    def _idle(self, action: str, definition_fix: bool = False) -> QDom:
        """The domain, free of jobs and usable (a broken one only for ``definition_fix``: see salvage)."""
        dom = self._dom()
        salvage.check_usable(dom, action, definition_fix)
        self._host.jobs.check_idle(dom.uuid, dom.name, action)
        if dom.busy:
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              f"cannot {action} '{dom.name}' while it is busy with: {dom.busy}")
        return dom

    def _query(self, read: Callable[[QDom], T]) -> T:
        """``read(domain)`` under the host lock."""
        with self._host.lock:
            return read(self._dom())

    # -- queries -----------------------------------------------------------------
    @property
    def id(self) -> int | None:
        return self._query(lambda dom: dom.id)

    def state(self) -> tuple[DomainState, int]:
        return self._query(QDom.shown_state)

    def record(self) -> DomainRecord:
        return self._query(QDom.record)

    def xml_desc(self, flags: int = 0) -> str:
        """The live definition; with INACTIVE (2) the persistent one the next start uses. A display's
        password (``<graphics passwd>``) only with SECURE (1), as libvirt shows it."""
        check_flags(flags, 0b111, "xml_desc")
        with self._host.lock:
            dom = self._dom()
            secure = bool(flags & DomainXMLFlags.SECURE)
            if flags & DomainXMLFlags.INACTIVE and dom.config is not None:
                return dom.config.shown(secure)
            if dom.live is None and dom.config is None and dom.salvaged is not None:
                return dom.salvaged.to_string()  # a broken definition: what could be read of it
            return dom.definition.shown(secure)

    def set_autostart(self, value: bool) -> None:
        with self._host.lock:
            dom = self._dom()
            check_autostart_allowed(dom)
            dom.autostart = bool(value)
            self._host.save_meta(dom)
            dom.touch()

    def serial_log(self) -> str | None:
        """The file the guest's first serial port is logged to (type file, or pty: logs/<name>.serial.log)."""
        with self._host.lock:
            dom = self._dom()
            if dom.live is not None:
                return dom.live.serial_log
            for i, ch in enumerate(dom.definition.char_devices()):
                if ch.type == "file":
                    return ch.path
                if i == 0 and ch.type == "pty":
                    return str(self._host.layout.serial_log(dom.name))
        return None

    # -- console and display -----------------------------------------------------
    def open_console(self) -> Console:
        """Serial port 0 (type file or pty) as a console; what it printed before is ``history()``."""
        return console_mod.open_console(self._host, self._dom())

    def screenshot(self) -> Screenshot:
        """The display as a PPM (QMP screendump); NO_SUPPORT for a domain without a display."""
        return console_mod.screenshot(self._host, self._dom())

    def open_graphics(self, index: int = 0) -> socket.socket:
        """A stream speaking RFB from the VM's VNC server (a socket pair QEMU's ``add_client`` took)."""
        return graphics_mod.open_graphics(self._host, self._dom(), index)

    # -- the guest agent -----------------------------------------------------------
    def agent_connected(self) -> bool:
        """Whether the running guest has its agent's port open (False when shut off or without a channel)."""
        with self._host.lock:
            vm = self._dom().live
            return vm is not None and vm.agent is not None and vm.agent_connected

    def interface_addresses(self, source: int = InterfaceSource.AGENT) -> list[GuestInterface]:
        """The guest's interfaces and addresses as its agent reports them (the only source here)."""
        if source != InterfaceSource.AGENT:
            raise DriverError(ErrorCode.NO_SUPPORT, "user-mode networking keeps no lease or ARP table: "
                              "only the guest agent can report the guest's addresses (InterfaceSource.AGENT)")
        return agent.interface_addresses(self._host, self._dom())

    def guest_info(self, types: int = 0) -> GuestInfo:
        """Host name, OS and file systems from the guest agent (``types``: GuestInfoTypes, 0: all)."""
        types = check_flags(types, agent.ALL_INFO, "guest_info")
        return agent.guest_info(self._host, self._dom(), types)

    def fs_freeze(self, mountpoints: list[str] | None = None) -> int:
        """Freeze the guest's file systems through its agent; how many it froze."""
        return agent.freeze(self._host, self._dom(), mountpoints)

    def fs_thaw(self, mountpoints: list[str] | None = None) -> int:
        """Thaw the guest's file systems (the agent thaws all of them); how many it thawed."""
        return agent.thaw(self._host, self._dom())

    def fs_frozen(self) -> bool:
        """Whether the guest's file systems are frozen now, as its agent says (guest-fsfreeze-status)."""
        return agent.frozen(self._host, self._dom())

    def qemu_pid(self) -> int | None:
        """The pid of the running QEMU process (None when shut off)."""
        with self._host.lock:
            dom = self._dom()
            return dom.live.pid if dom.live is not None else None

    def live_migration_problem(self) -> str | None:
        """Why a live migration would lose this guest's writes here (it then moves paused), or None."""
        with self._host.lock:
            vm = self._dom().live
        return None if vm is None else migration.live_copy_problem(vm)

    # -- lifecycle ---------------------------------------------------------------
    def create(self, flags: int = 0) -> int | None:
        """Start the domain; a managed-save image is restored unless FORCE_BOOT."""
        flags = check_flags(flags, int(CreateFlags.START_PAUSED | CreateFlags.FORCE_BOOT | JobFlags.ASYNC), "create")
        host = self._host
        with host.lock:
            dom = self._idle("start")
            if dom.active:
                raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{dom.name}' is already running")
            restore = dom.managed_save and not flags & CreateFlags.FORCE_BOOT
            if restore:
                job = host.jobs.begin(dom.uuid, dom.name, JobOperation.RESTORE, "start")
        if restore:
            path = str(host.layout.managed_save(dom.uuid))
            start_paused = bool(flags & CreateFlags.START_PAUSED)

            def worker(job: Job) -> None:
                saveops.restore_into(host, dom, path, job, SaveFlags.PAUSED if start_paused else 0)
                with host.lock:
                    dom.managed_save = False
                    dom.touch()
                unlink(path)

            return self._conn.run_job(job, worker, bool(flags & JobFlags.ASYNC))
        with transition(host, dom, "start"):
            if dom.managed_save:  # FORCE_BOOT: discard the image
                unlink(host.layout.managed_save(dom.uuid))
                with host.lock:
                    dom.managed_save = False
                    dom.touch()
            host.boot(dom, dom.config, bool(flags & CreateFlags.START_PAUSED))
        return None

    def shutdown(self) -> None:
        """Ask the guest to power off: through its agent when that answers, else the ACPI power button."""
        self.shutdown_flags(0)

    def shutdown_flags(self, flags: int = 0) -> None:
        """Ask the guest to power off the way ``flags`` (ShutdownFlags) say; a pending reboot becomes a shutdown.

        0 uses the guest agent (guest-shutdown) when it answers and the ACPI
        power button otherwise. A guest without ACPI support ignores the button
        and keeps running; use destroy (force off) for it.
        """
        flags = check_flags(flags, _SHUTDOWN_FLAGS, "shutdown_flags")
        vm = self._live("shut down")
        if vm.reboot_pending:
            self._host.expect_reboot(self._dom(), vm, False)
        if not self._by_agent(flags, reboot=False):
            vm.execute("system_powerdown")

    def reboot(self, flags: int = 0) -> None:
        """Ask the guest to reboot, as libvirt's QEMU driver does by default.

        The guest agent reboots the guest when it answers (guest-shutdown
        mode reboot; QEMU sees the reset and the domain runs on). Otherwise
        the ACPI power button is pressed; once the guest has shut down, QEMU
        resets and continues it (REBOOT event) instead of exiting. A guest
        without ACPI ignores that (use reset). With ``<on_reboot>destroy`` the
        guest just shuts down. ``flags``: ShutdownFlags, as :meth:`shutdown_flags`.
        """
        flags = check_flags(flags, _SHUTDOWN_FLAGS, "reboot")
        with self._host.lock:
            dom = self._idle("reboot")
            if dom.live is None or dom.state != DomainState.RUNNING:
                raise not_running(dom.name)
            vm = dom.live
            graceful = dom.definition.lifecycle_action("on_reboot") != "destroy"
        if vm.reboot_pending:
            self._host.expect_reboot(dom, vm, False)
        if self._by_agent(flags, reboot=True):
            return
        self._host.expect_reboot(dom, vm, graceful)
        vm.execute("system_powerdown")

    def _by_agent(self, flags: int, reboot: bool) -> bool:
        """Ask the guest agent to power off or reboot, when ``flags`` allow; False: use ACPI instead.

        With GUEST_AGENT alone the agent's failure is the caller's; by default (or
        with ACPI_POWER_BTN too) it only means the power button is pressed instead.
        """
        if flags and not flags & ShutdownFlags.GUEST_AGENT:
            return False
        try:
            agent.shutdown(self._host, self._dom(), reboot)
        except DriverError as exc:
            if flags == ShutdownFlags.GUEST_AGENT:
                raise
            log.info("%s '%s' with the ACPI power button: %s", "rebooting" if reboot else "shutting down",
                     self._name, exc.message)
            return False
        return True

    def reset(self) -> None:
        """Reset the guest at once (QMP system_reset): what it had not saved is lost; a pending reboot is dropped."""
        vm = self._live("reset")
        if vm.reboot_pending:
            self._host.expect_reboot(self._dom(), vm, False)
        vm.execute("system_reset")

    def _live(self, action: str) -> LiveVM:
        """The running (or paused) QEMU of an idle domain."""
        with self._host.lock:
            dom = self._idle(action)
            if dom.live is None:
                raise not_running(dom.name)
            return dom.live

    def destroy(self) -> None:
        """Force the domain off (cancels its running job first)."""
        host = self._host
        job = host.jobs.current(self._uuid)
        if job is not None:
            job.request_cancel()
            job.wait(60)
        with host.lock:
            dom = self._dom()
            vm = dom.live
            if vm is None:
                raise not_running(dom.name)
            if vm.ending is None or vm.ending[0] != ShutoffReason.SAVED:
                vm.ending = (int(ShutoffReason.DESTROYED), int(StoppedDetail.DESTROYED))
        host.kill(vm)
        host.finish_stop(dom, vm, vm.ending[0], vm.ending[1])

    def suspend(self) -> None:
        self._set_paused(True)

    def resume(self) -> None:
        self._set_paused(False)

    def _set_paused(self, pause: bool) -> None:
        """QMP stop or cont; the STOP/RESUME event handler would see the same, the hint names the reason."""
        with self._host.lock:
            dom = self._idle("pause" if pause else "resume")
            (check_can_pause if pause else check_can_resume)(
                dom.name, dom.state if dom.live is not None else DomainState.SHUTOFF)
            vm = dom.live
            assert vm is not None
            if pause:
                vm.pause_hint = (int(PausedReason.USER), int(SuspendedDetail.PAUSED))
        if not pause:
            self._host.run_guest(dom, vm, (int(RunningReason.UNPAUSED), int(ResumedDetail.UNPAUSED)))
            return
        vm.execute("stop")
        self._host.sync_status(dom, vm)

    def undefine(self, flags: int = 0) -> None:
        flags = check_flags(flags, int(UndefineFlags.MANAGED_SAVE | UndefineFlags.SNAPSHOTS_METADATA
                                       | UndefineFlags.NVRAM | UndefineFlags.KEEP_NVRAM), "undefine")
        host = self._host
        with host.lock:
            dom = self._idle("undefine", definition_fix=True)
            nvram = dom.config.nvram if dom.config is not None else None
            check_undefine(dom, flags, nvram=bool(nvram and os.path.lexists(nvram)))
            host.forget_files(dom, keep_nvram=bool(flags & UndefineFlags.KEEP_NVRAM))
            dom.managed_save = False
            dom.snapshots.clear()
            dom.current_snapshot = None
            dom.autostart = False
            dom.persistent = False
            dom.config = None
            if dom.active:
                dom.touch()
                host.write_state(dom)
            else:
                host.remove(dom)
            host.emit(dom, EventType.UNDEFINED, UndefinedDetail.REMOVED)

    def _store_rename(self, dom: QDom, old_name: str, old_config: DomainXML) -> None:
        """The config (kept under the uuid) and its name in the metadata are rewritten atomically;
        if either write fails, both go back to the old name."""
        host = self._host
        try:
            host.save_config(dom)
        except DriverError:
            dom.config = old_config
            host.rename(dom, old_name)
            try:
                host.save_config(dom)
            except DriverError:
                pass
            raise
        host.rename_files(old_name, dom.name)

    # -- save --------------------------------------------------------------------
    # -- removable media -------------------------------------------------------
    def update_device_flags(self, xml: str, flags: int = 0) -> None:
        """Insert, change or eject a CD (see Domain.update_device_flags and cdrom)."""
        req = media.parse_change(xml, flags)
        host = self._host
        with host.lock:
            dom = self._idle("change the CD")
            scope = media.impact(flags, dom.name, dom.live is not None, dom.persistent)
            config = media.with_medium(dom.config, req) if scope.config and dom.config is not None else None
            vm = dom.live if scope.live else None
            block_device = vm is not None and media.cdrom_of(vm.definition, req.target).type == "block"
        if vm is not None:
            with transition(host, dom, "change the CD"):
                try:
                    cdrom.change(vm, req, block_device)
                finally:
                    with host.lock:
                        held = next((d for d in vm.disks if d.target == req.target), None)
                        now = media.MediaChange(req.target, held.path if held else None,
                                                held.format if held else req.format, req.force)
                        vm.definition = media.with_medium(vm.definition, now)
                        host.write_state(dom)
        if config is not None:
            with host.lock:
                host.replace_config(dom, config)

    def _begin_save(self, action: str) -> tuple[QDom, Job]:
        with self._host.lock:
            dom = self._idle(action)
            if dom.live is None or dom.state not in (DomainState.RUNNING, DomainState.PAUSED):
                raise not_running(dom.name)
            return dom, self._host.jobs.begin(dom.uuid, dom.name, JobOperation.SAVE, action)

    def managed_save(self, flags: int = 0) -> int | None:
        """Save the guest's memory into the root; the next start restores it."""
        flags = check_flags(flags, _SAVE_FLAGS, "managed_save")
        with self._host.lock:
            if not self._dom().persistent:
                raise DriverError(ErrorCode.OPERATION_INVALID,
                                  f"cannot do managed save for transient domain '{self._name}'")
        dom, job = self._begin_save("save")
        host = self._host
        path = str(host.layout.managed_save(dom.uuid))

        return self._conn.run_job(job, lambda job: saveops.save_to(host, dom, path, job, flags, managed=True),
                                  bool(flags & JobFlags.ASYNC))

    def managed_save_remove(self) -> None:
        with self._host.lock:
            dom = self._idle("remove the managed save of")
            if not dom.managed_save:
                raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{dom.name}' has no managed save image")
            unlink(self._host.layout.managed_save(dom.uuid))
            dom.managed_save = False
            if dom.reason == ShutoffReason.SAVED:
                dom.reason = int(ShutoffReason.UNKNOWN)
            dom.touch()

    def save(self, path: str, flags: int = 0) -> int | None:
        """Save the guest's memory to the new file ``path`` and stop it; ``conn.restore(path)`` brings it back.

        An existing ``path`` (file, symlink, device) is refused with OPERATION_INVALID.
        """
        flags = check_flags(flags, _SAVE_FLAGS, "save")
        path = check_new_file(path, "save image path")  # never replaces a file, link or device
        dom, job = self._begin_save("save")
        host = self._host
        return self._conn.run_job(job, lambda job: saveops.save_to(host, dom, path, job, flags),
                                  bool(flags & JobFlags.ASYNC))

    # -- snapshots ---------------------------------------------------------------
    def snapshot_create(self, xml_or_name: str, flags: int = 0) -> snapshots.QemuSnapshot | int:
        return snapshots.create(self._ops(), xml_or_name, flags)

    def list_all_snapshots(self) -> list[Snapshot]:
        with self._host.lock:
            return [snapshots.QemuSnapshot(self._ops(), name) for name in self._dom().snapshots]

    # -- backup and jobs ---------------------------------------------------------
    def backup_begin(self, backup_xml: str, flags: int = 0, checkpoint_xml: str | None = None) -> int:
        return backup_mod.begin(self._ops(), backup_xml, flags, checkpoint_xml)

    # -- checkpoints (persistent dirty bitmaps) -------------------------------------
    def checkpoint_create(self, xml: str, flags: int = 0) -> Checkpoint:
        return checkpoints.create(self._ops(), xml, flags)

    def list_all_checkpoints(self, flags: int = 0) -> list[Checkpoint]:
        check_flags(flags, 0, "list_all_checkpoints")
        return list(checkpoints.listing(self._ops()))

    def copy_disks_live(self, backup_xml: str, then: Callable[[Job], None]) -> int:
        """The running domain's disks copied as of now into the ``<domainbackup>`` targets, as a CLONE job;
        ``then(job)`` finishes the clone once the copies have their names (see Connection.clone_domain)."""
        return backup_mod.begin_live(self._ops(), backup_xml, JobOperation.CLONE, "clone", then)

    def job_set_speed(self, bytes_per_second: int, job_id: int = 0) -> None:
        """Throttle a running backup or outgoing migration (0 = unlimited); takes effect at once."""
        if isinstance(bytes_per_second, bool) or not isinstance(bytes_per_second, int) or bytes_per_second < 0:
            raise invalid_arg(f"speed must be a number of bytes per second >= 0, not {bytes_per_second!r}")
        self._conn.check_open()
        job = self._host.jobs.find(self._uuid, self._name, job_id)
        if job.state.finished:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"job {job.id} of '{self._name}' already ended")
        if job.operation not in (JobOperation.BACKUP, JobOperation.MIGRATION_OUT):
            raise DriverError(ErrorCode.NO_SUPPORT, "only backups and outgoing migrations can be throttled")
        self._host.job_speed[job.id] = bytes_per_second
        if job.operation == JobOperation.MIGRATION_OUT:
            with self._host.lock:
                vm = self._dom().live
            if vm is not None:
                try:
                    vm.execute("migrate-set-parameters",
                               {"max-bandwidth": bytes_per_second or streams.UNLIMITED})
                except DriverError:
                    pass


__all__ = ["QemuDomain", "transition"]
