"""The state of one root: its domains, their QEMU processes, events and jobs.

One :class:`QemuHost` exists per root directory per process; every
connection to that root shares it (like libvirt's daemon state), so a QMP
socket has exactly one client in this process. Mutations happen under
:attr:`QemuHost.lock`; QMP commands that take long (jobs) run without it.
QMP events arrive on the loop thread and are handled, in order, on the
host's dispatcher thread, which may take the lock and issue QMP commands.
"""
from __future__ import annotations

import fcntl
import itertools
import logging
import os
import queue
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import diskdelete
from ..diskdelete import DomainUse
from ..diskimage import check_guest_files, guest_file_paths
from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode
from ..flags import (
    DomainState,
    EventType,
    JobOperation,
    PausedReason,
    ResumedDetail,
    RunningReason,
    ShutdownDetail,
    ShutoffReason,
    StartedDetail,
    StoppedDetail,
    SuspendedDetail,
)
from ..fsutil import read_json
from ..records import DomainRecord, filter_bits
from ..snapxml import SnapshotDef
from ..stateful import StatefulHost
from . import cmdline, leases, salvage, snapjournal
from .cmdline import BlockNode
from .console import SerialHub
from .layout import RootLayout, base_runtime_dir, unlink, write_file, write_json
from .monitor import LoopThread, Monitor

log = logging.getLogger(__name__)

_PAUSED_STATUS = {
    "paused": PausedReason.USER, "postmigrate": PausedReason.MIGRATION, "finish-migrate": PausedReason.MIGRATION,
    "inmigrate": PausedReason.MIGRATION, "prelaunch": PausedReason.STARTING_UP, "io-error": PausedReason.IOERROR,
    "watchdog": PausedReason.WATCHDOG, "save-vm": PausedReason.SNAPSHOT, "restore-vm": PausedReason.FROM_SNAPSHOT,
    "suspended": PausedReason.UNKNOWN, "internal-error": PausedReason.UNKNOWN, "debug": PausedReason.UNKNOWN,
    "colo": PausedReason.UNKNOWN, "guest-panicked": PausedReason.CRASHED,
}


_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


class LiveVM:
    """A running QEMU process of a domain, seen through its supervisor and QMP."""

    def __init__(self, dom_id: int, definition: DomainXML, sup: Any, qmp_path: str,
                 disks: list[BlockNode], serial_log: str | None, console_socket: str | None = None) -> None:
        self.id = dom_id
        self.definition = definition
        self.sup = sup
        self.qmp_path = qmp_path
        self.disks = disks
        self.serial_log = serial_log
        #: QEMU's socket for serial port 0, and our one connection to it while consoles are open
        self.console_socket = console_socket
        self.hub: SerialHub | None = None
        self.mon: Monitor | None = None
        self.started = time.time()
        #: (shutoff reason, stopped detail) when we caused or expect the end
        self.ending: tuple[int, int] | None = None
        self.incoming = False
        #: reason / event detail to use for the next pause or resume QEMU reports
        self.pause_hint: tuple[int, int] | None = None
        self.resume_hint: tuple[int, int] | None = None
        self.finished = False
        self.last_reset = 0.0
        #: a graceful reboot was asked for: the guest's next shutdown is followed by a reset, not an exit
        self.reboot_pending = False
        #: what a running job did to this VM that a later process must undo if we die
        #: (e.g. {"kind": "save", "was_running": True}); persisted in the state file
        self.job_note: dict[str, Any] = {}
        #: set on every QMP job or migration event: pollers sleep on it instead of spinning
        self.wakeup = threading.Event()
        #: (QEMU version, accelerator) of this process, asked once over QMP (see migration.live_copy_problem)
        self.engine: tuple[tuple[int, int, int], str] | None = None

    @property
    def pid(self) -> int | None:
        return getattr(self.sup, "vm_pid", None)

    def cpu_time_ns(self) -> int:
        pid = self.pid
        if not pid:
            return 0
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ticks = int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            return 0
        return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> int | None:
        """Resident memory of the QEMU process (VmRSS), from /proc/<pid>/statm: one short read, no parsing."""
        pid = self.pid
        if not pid:
            return None
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                resident = int(fh.read().split()[1])
        except (OSError, IndexError, ValueError):
            return None
        return resident * _PAGE_KIB

    def detach(self) -> None:
        """Drop our ties to the process: consoles hang up (after their buffered output), QMP, supervisor."""
        if self.hub is not None:
            self.hub.hang_up()
        if self.mon is not None:
            self.mon.close()
        try:
            self.sup.close()
        except Exception:  # noqa: BLE001
            pass

    def execute(self, cmd: str, args: dict[str, Any] | None = None, timeout: float = 30.0) -> Any:
        if self.mon is None:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"no monitor for '{self.definition.name}'")
        return self.mon.execute(cmd, args, timeout)


class QDom:
    """One domain of a root. Mutate under the host lock, then ``touch()``."""

    def __init__(self, config: DomainXML | None, persistent: bool, name: str, uuid: str,
                 shadow: DomainXML | None = None) -> None:
        self.config = config
        #: what a transient domain that is being started (or restored, or migrated in) will run
        self.shadow = shadow
        self.persistent = persistent
        self.name = name
        self.uuid = uuid
        self.title = config.title if config is not None else ""
        self.autostart = False
        self.managed_save = False
        self.snapshots: OrderedDict[str, SnapshotDef] = OrderedDict()
        self.current_snapshot: str | None = None
        self.live: LiveVM | None = None
        self.state = DomainState.SHUTOFF
        self.reason = int(ShutoffReason.UNKNOWN)
        self._busy: str | None = None
        #: why domain.xml could not be read (cleared when a definition is written); see salvage
        self.config_problem = ""
        #: why the running VM's state file could not be read (cleared when its process ends)
        self.run_problem = ""
        #: what could be read of a broken domain.xml: xml_desc shows it, to be corrected and applied,
        #: and the deletion checks count the disks it names as this domain's
        self.salvaged: DomainXML | None = None
        self.bits = 0
        self.touch()

    @property
    def id(self) -> int | None:
        return self.live.id if self.live is not None else None

    @property
    def active(self) -> bool:
        return self.live is not None

    @property
    def definition(self) -> DomainXML:
        if self.live is not None:
            return self.live.definition
        if self.config is not None:
            return self.config
        if self.shadow is not None:
            return self.shadow
        raise DriverError(ErrorCode.NO_DOMAIN, f"domain '{self.name}' has no definition any more")

    @property
    def problem(self) -> str:
        """What is wrong with this domain's files, for DomainRecord.problem ("" when nothing)."""
        return " ".join(p for p in (self.run_problem, self.config_problem) if p)

    @property
    def broken(self) -> bool:
        """Nothing to manage it by: its process runs without a readable state, or it has no definition."""
        return bool(self.run_problem) or (bool(self.config_problem) and self.live is None)

    def shown_state(self) -> tuple[DomainState, int]:
        """The state callers see: NOSTATE (BROKEN) while :attr:`broken`."""
        return salvage.BROKEN_STATE if self.broken else (self.state, self.reason)

    def touch(self) -> None:
        self.bits = filter_bits(self.live is not None, self.persistent, self.shown_state()[0], self.managed_save,
                                self.autostart, bool(self.snapshots))

    def record(self) -> DomainRecord:
        vm = self.live
        d = self.definition if vm is not None or self.config is not None or self.shadow is not None else None
        memory, max_memory, vcpus = (d.current_memory_kib, d.memory_kib, d.vcpus) if d is not None else (0, 0, 0)
        cpu, started, used = (0, None, None) if vm is None else (vm.cpu_time_ns(), vm.started, vm.rss_kib())
        state, reason = self.shown_state()
        return DomainRecord(self.name, self.uuid, self.id, state, reason, self.persistent,
                            self.autostart, self.managed_save, len(self.snapshots), memory,
                            max_memory, vcpus, cpu, self.title, started, used, self.problem)


class QemuHost(StatefulHost[QDom]):
    """Everything of one root in this process; shared by its connections.

    The domain index, event bus and job table are the core's
    (:class:`drivers.stateful.StatefulHost`), with libvirt's name/uuid rules.
    """

    def __init__(self, layout: RootLayout) -> None:
        super().__init__(f"qemu-events-{layout.key}")
        self.layout = layout
        #: job id -> bytes/s limit set with QemuDomain.job_set_speed (0 = unlimited)
        self.job_speed: dict[int, int] = {}
        self.loop = LoopThread(f"qemu-qmp-{layout.key}")
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name=f"qemu-dispatch-{layout.key}",
                                            daemon=True)
        self._dispatcher.start()
        self._ids = itertools.count(1)
        self.refs = 0
        self.closed = False
        self.host_key = lease_host_key(layout)
        self.lease_host = self.host_key
        #: set when the last connection closes: jobs QEMU runs on its own (backups) stop being followed
        self.leaving = threading.Event()
        self._lockspace: Any = None
        self._owner_fd: int | None = None
        #: forks supervisors fast; started once the root has domains (see warm_up)
        self.launcher = leases.FastLauncher()

    # -- plumbing ------------------------------------------------------------------
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
        if self._owner_fd is not None:
            os.close(self._owner_fd)  # drops the flock
            self._owner_fd = None

    def warm_up(self) -> None:
        """Start the supervisor helper in the background, ahead of the first VM start."""
        self.launcher.start()

    def next_id(self) -> int:
        return next(self._ids)

    def disk_use(self, dom: QDom) -> DomainUse:
        """Every file of the definition, the running one and a transient one being started."""
        vm = dom.live
        defs = {id(d): d for d in (dom.config, dom.shadow, vm.definition if vm is not None else None, dom.salvaged)
                if d is not None}
        files = frozenset().union(*(guest_file_paths(d) for d in defs.values()))
        return DomainUse(dom.name, dom.uuid, vm is not None, vm.pid if vm is not None else None, files)

    # -- persistence ----------------------------------------------------------------
    def save_config(self, dom: QDom) -> None:
        assert dom.config is not None
        write_file(self.layout.config(dom.uuid), dom.config.to_string())
        dom.config_problem, dom.salvaged = "", None  # the file is whole again
        self.save_meta(dom)

    def save_meta(self, dom: QDom) -> None:
        if not dom.persistent and not dom.snapshots:
            return
        write_json(self.layout.meta(dom.uuid), {"name": dom.name, "autostart": dom.autostart,
                                                "current_snapshot": dom.current_snapshot})

    def rename_files(self, old: str, new: str) -> None:
        """Move QEMU's log of a renamed domain along (unless one of the new name is there already)."""
        src, dst = self.layout.log(old), self.layout.log(new)
        if src.exists() and not dst.exists():
            try:
                os.replace(src, dst)
            except OSError as exc:
                log.warning("keeping %s after the rename to '%s': %s", src, new, exc.strerror)
        unlink(self.layout.serial_log(old))  # a new boot starts it afresh anyway

    def save_snapshot(self, dom: QDom, snap: SnapshotDef) -> None:
        write_file(self.layout.snapshot_dir(dom.uuid) / f"{snap.name}.xml", snap.to_xml())

    def forget_files(self, dom: QDom) -> None:
        """Remove a domain's directory (undefine)."""
        d = self.layout.domain_dir(dom.uuid)
        for sub in (d / "snapshots",):
            if sub.is_dir():
                for f in sub.iterdir():
                    unlink(f)
                sub.rmdir()
        for f in (self.layout.config(dom.uuid), self.layout.meta(dom.uuid), self.layout.managed_save(dom.uuid)):
            unlink(f)
        try:
            d.rmdir()
        except OSError:
            pass

    def portable_xml(self, definition: DomainXML) -> str:
        """The XML without what only this root's runtime directory means (our VNC socket)."""
        copy = definition.copy()
        drop_runtime_sockets(copy)
        return copy.to_string()

    def write_state(self, dom: QDom) -> None:
        vm = dom.live
        if vm is None:
            unlink(self.layout.state(dom.uuid))
            return
        write_json(self.layout.state(dom.uuid), {
            "uuid": dom.uuid, "name": dom.name, "id": vm.id, "xml": vm.definition.to_string(),
            "qmp": vm.qmp_path, "serial_log": vm.serial_log, "console": vm.console_socket,
            "persistent": dom.persistent,
            "started": vm.started, "reason": dom.reason, "state": int(dom.state),
            "incoming": vm.incoming, "job_note": vm.job_note, "reboot_pending": vm.reboot_pending,
            "disks": [d.__dict__ for d in vm.disks]})

    def load(self) -> None:
        """Read every definition and re-attach to running VMs."""
        lay = self.layout
        broken: list[tuple[Path, Exception]] = []
        for d in sorted((lay.root / "domains").iterdir()) if (lay.root / "domains").is_dir() else []:
            cfg = d / "domain.xml"
            if not cfg.is_file():
                continue
            try:
                definition = DomainXML.parse(cfg.read_bytes())
            except (DriverError, OSError) as exc:
                broken.append((d, exc))
                continue
            dom = QDom(definition, True, definition.name, definition.ensure_uuid())
            meta = read_json(lay.meta(dom.uuid)) or {}
            dom.autostart = bool(meta.get("autostart"))
            self.load_snapshots(dom, meta)
            dom.managed_save = lay.managed_save(dom.uuid).is_file()
            if dom.managed_save:
                dom.reason = int(ShutoffReason.SAVED)
            dom.touch()
            try:
                self.add(dom)
            except DriverError as exc:
                log.warning("skipping %s: %s", cfg, exc)
        for d, error in broken:  # listed as broken, not skipped; after the readable ones, which keep their names
            salvage.broken_definition(self, d, error)
        max_id = 0
        for st in sorted((lay.root / "state").glob("*.json")):
            data = read_json(st)
            if not data:
                continue
            max_id = max(max_id, int(data.get("id") or 0))
        self._ids = itertools.count(max_id + 1)
        for st in sorted((lay.root / "state").glob("*.json")):
            try:
                self._reattach(salvage.read_state(st))
            except Exception as exc:  # noqa: BLE001 - one broken VM must not hide the others
                log.warning("cannot re-attach to %s: %s", st, exc)
                salvage.unreadable_state(self, st, exc)
        snapjournal.settle_all(self)  # snapshot operations a dead process left half done (QEMU's jobs ended)

    def load_snapshots(self, dom: QDom, meta: dict[str, Any]) -> None:
        sdir = self.layout.snapshot_dir(dom.uuid)
        snaps = []
        if sdir.is_dir():
            for f in sdir.glob("*.xml"):
                try:
                    snaps.append(SnapshotDef.parse(f.read_text()))
                except (DriverError, OSError):
                    continue
        for s in sorted(snaps, key=lambda s: (s.creation_time, s.name)):
            dom.snapshots[s.name] = s
        cur = meta.get("current_snapshot")
        dom.current_snapshot = cur if cur in dom.snapshots else None

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
            status = leases.exit_status(uuid, self.layout.supervisors)
            unlink(self.layout.state(uuid))
            if dom.persistent:
                crashed = status is None or status.crashed
                dom.reason = int(ShutoffReason.CRASHED if crashed else ShutoffReason.SHUTDOWN)
                dom.touch()
            from . import recovery
            recovery.vm_gone(self, dom, data)
            return
        disks = [BlockNode(**d) for d in data.get("disks", [])]
        vm = LiveVM(int(data.get("id") or self.next_id()), definition, sup, str(data["qmp"]), disks,
                    data.get("serial_log"), data.get("console"))
        vm.started = float(data.get("started") or time.time())
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
            self.connect_monitor(dom, vm, timeout=snapjournal.monitor_wait(self, uuid, 10.0))
        except DriverError as exc:
            log.warning("re-attached to '%s' without a monitor: %s", dom.name, exc)
            return
        if vm.incoming:
            # an incoming migration whose driver died: nobody will finish it
            vm.ending = (int(ShutoffReason.FAILED), int(StoppedDetail.FAILED))
            self.kill(vm, 5)
            self.finish_stop(dom, vm, ShutoffReason.FAILED, StoppedDetail.FAILED)
            from . import recovery
            recovery.report(self, dom, JobOperation.MIGRATION_IN, recovery.incoming_lost(dom.name, "was stopped"))
            return
        self.cleanup_orphans(dom, vm)
        try:  # the guest shut down while no vmgui was watching, or a reboot was cut short after the reset
            status = self.query_status(vm)
        except DriverError:
            status = ""
        stopped_for_reboot = status == "shutdown" or (vm.reboot_pending and status == "prelaunch")
        if stopped_for_reboot:
            self.dispatch(lambda: self._after_guest_shutdown(dom, vm))
        self.sync_status(dom, vm, emit=False)

    def cleanup_orphans(self, dom: QDom, vm: LiveVM) -> None:
        """Finish or roll back what the jobs of a process that died left in QEMU (recovery.py)."""
        from . import recovery
        recovery.reattached(self, dom, vm)

    # -- processes ----------------------------------------------------------------
    def connect_monitor(self, dom: QDom, vm: LiveVM, timeout: float = 10.0) -> None:
        mon = Monitor(self.loop, dom.name, lambda name, data: self._on_qmp_event(dom, vm, name, data),
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
        cmd = cmdline.build(definition, qmp_socket=qmp, vnc_socket=vnc, incoming=incoming, paused=paused,
                            console_socket=con, pty_log=str(lay.serial_log(dom.name)))
        argv = cmd.argv + list(extra_args or [])
        if cmd.vnc_socket:  # tell clients (xml_desc) where the display is
            el = definition.root.find("devices/graphics")
            if el is not None:
                el.set("socket", cmd.vnc_socket)
        for path in (qmp, vnc, con):
            unlink(path)
        prev = leases.attach(dom.uuid, lay.supervisors)
        if prev is not None and prev.wait(10.0) is None:  # a previous QEMU still on its way out
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              f"the previous QEMU process of '{dom.name}' (pid {prev.vm_pid}) is still stopping")
        mgr = leases.manager(dom.uuid, dom.name, cmd.disks, self.lockspace, self.host_key, lay.supervisors)
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
        sup = self.launcher.launch(mgr, argv, register_only=register_only, stdout_path=str(logfile),
                                   cwd=str(lay.root), runtime=lay.supervisors)
        vm = LiveVM(self.next_id(), definition, sup, qmp, cmd.disks, cmd.serial_log, cmd.console_socket)
        try:
            self.connect_monitor(dom, vm)
        except DriverError as exc:
            try:
                sup.shutdown(5)
            except DriverError:
                pass
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
            dom.touch()
            if crashed:
                self.emit(dom, EventType.CRASHED, 0, "the QEMU process ended unexpectedly")
            self.emit(dom, EventType.STOPPED, detail)
            if not dom.persistent:
                self.remove(dom)
                sdir = self.layout.snapshot_dir(dom.uuid)
                if sdir.is_dir():
                    self.forget_files(dom)

    # -- run state ------------------------------------------------------------------
    def set_run_state(self, dom: QDom, state: DomainState, reason: int, event: EventType | None,
                      detail: int = 0) -> None:
        """Change a running domain's state; emits ``event`` only on a real change."""
        with self.lock:
            if dom.live is None:
                return
            changed = dom.state != state
            dom.state = state
            dom.reason = int(reason)
            dom.touch()
            self.write_state(dom)
            if changed and event is not None:
                self.emit(dom, event, detail)

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

    def _on_qmp_event(self, dom: QDom, vm: LiveVM, name: str, data: dict[str, Any]) -> None:
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
                    vm.started = time.time()  # the guest's uptime starts again (the record's started_at)
                    self.write_state(dom)
                    if now - vm.last_reset > 5.0:
                        self.emit(dom, EventType.REBOOT)
                vm.last_reset = now
        elif name == "GUEST_PANICKED":
            with self.lock:
                if dom.live is vm:
                    self.emit(dom, EventType.CRASHED, 0, "the guest panicked")
        elif name == "__EOF__":
            vm.wakeup.set()
            self.on_process_end(dom, vm)

    # -- graceful reboot ----------------------------------------------------------------
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

    # -- boot -----------------------------------------------------------------------
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


def drop_runtime_sockets(definition: DomainXML) -> None:
    """Forget VNC sockets a driver chose in a root's runtime directory (they mean nothing elsewhere)."""
    base = str(base_runtime_dir()) + os.sep
    for el in definition.root.iterfind("devices/graphics"):
        sock = el.get("socket")
        if sock and sock.startswith(base) and os.path.basename(os.path.dirname(sock)).startswith("q-"):
            del el.attrib["socket"]


def lease_host_key(layout: RootLayout) -> str:
    """The host name a root's VMs hold their leases under: two roots are two hosts."""
    return f"{socket.gethostname() or 'localhost'}-{layout.key}"


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
