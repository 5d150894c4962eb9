"""Domain and snapshot handles of the test driver: the lifecycle state machine.

Wrong-state calls fail with OPERATION_INVALID (libvirt's test driver says
INTERNAL_ERROR for some; the qemu driver's OPERATION_INVALID is the more
honest code, and every vmgui driver uses it). ``destroy`` is always allowed:
it cancels a running job first, as libvirt does.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import backupcatalog, backupchain, media
from ..base import Checkpoint, Screenshot, Snapshot
from ..diskimage import already_exists, check_guest_files, check_new_file
from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode, check_flags, invalid_arg
from ..flags import (
    BackupFlags,
    CreateFlags,
    DefinedDetail,
    DomainState,
    DomainXMLFlags,
    EventType,
    JobFlags,
    JobOperation,
    PausedReason,
    ResumedDetail,
    RunningReason,
    SaveFlags,
    ShutdownDetail,
    ShutdownFlags,
    ShutoffReason,
    SnapshotCreateFlags,
    SnapshotEventDetail,
    StartedDetail,
    StoppedDetail,
    SuspendedDetail,
    UndefinedDetail,
    UndefineFlags,
)
from ..fsutil import write_atomically
from ..guestagent import not_connected
from ..jobs import Job, operation_text
from ..lifecycle import (
    check_autostart_allowed,
    check_can_pause,
    check_can_resume,
    check_undefine,
    find_snapshot,
    not_running,
    paused_after_restore,
)
from ..records import DomainRecord
from ..snapxml import BackupDef, SnapshotDef, snapshot_request
from ..stateful import StatefulDomain
from . import checkpoints, jobsim, simimage
from .console import TestConsole, render_screen
from .world import SimDomain, TestHost

if TYPE_CHECKING:
    from .connection import TestConnection

SAVE_MAGIC = b"VMGUI-TestSave\x00"
#: Simulated size of each disk for backup jobs.
DISK_BYTES = 1024 ** 3


class TestDomain(StatefulDomain):
    __test__ = False
    _conn: TestConnection

    @property
    def _host(self) -> TestHost:
        return self._conn.host

    def _sim(self) -> SimDomain:
        self._conn._check_open()
        return self._host.get(self._uuid, self._name)

    def _idle(self, action: str) -> SimDomain:
        """The domain, checked free of running jobs (the busy rule)."""
        sim = self._sim()
        self._host.jobs.check_idle(sim.uuid, sim.name, action)
        return sim

    # -- queries -----------------------------------------------------------
    @property
    def id(self) -> int | None:
        with self._host.lock:
            return self._sim().id

    def state(self) -> tuple[DomainState, int]:
        with self._host.lock:
            sim = self._sim()
            return sim.state, sim.reason

    def record(self) -> DomainRecord:
        import time
        with self._host.lock:
            return self._sim().record(time.monotonic())

    def xml_desc(self, flags: int = 0) -> str:
        """The live definition; with INACTIVE the persistent one the next start uses; a display's password
        only with SECURE."""
        check_flags(flags, 0b111, "xml_desc")
        with self._host.lock:
            sim = self._sim()
            inactive = flags & DomainXMLFlags.INACTIVE and sim.persistent
            return (sim.config if inactive else sim.definition).shown(bool(flags & DomainXMLFlags.SECURE))

    def set_autostart(self, value: bool) -> None:
        with self._host.lock:
            sim = self._sim()
            check_autostart_allowed(sim)
            sim.autostart = bool(value)
            sim.touch()

    # -- lifecycle ---------------------------------------------------------
    def create(self, flags: int = 0) -> int | None:
        flags = check_flags(flags, int(CreateFlags.START_PAUSED | CreateFlags.FORCE_BOOT | JobFlags.ASYNC),
                            "create")
        with self._host.lock:
            sim = self._idle("start")
            if sim.active:
                raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{sim.name}' is already running")
            check_guest_files(sim.config, ErrorCode.OPERATION_INVALID)  # a symlink may point elsewhere by now
            if sim.managed_save and not flags & CreateFlags.FORCE_BOOT:
                job = self._host.jobs.begin(sim.uuid, sim.name, JobOperation.RESTORE, "start")
                paused = sim.managed_save_paused or bool(flags & CreateFlags.START_PAUSED)
                total = sim.config.current_memory_kib * 1024
            else:
                sim.managed_save = False
                self._boot(sim, bool(flags & CreateFlags.START_PAUSED), StartedDetail.BOOTED)
                return None

        def worker(job: Job) -> None:
            jobsim.transfer(job, total, self._conn.rate)
            with self._host.lock:
                sim.managed_save = False
                self._boot(sim, paused, StartedDetail.RESTORED)

        return self._conn.run_job(job, worker, bool(flags & JobFlags.ASYNC))

    def _boot(self, sim: SimDomain, paused: bool, detail: StartedDetail) -> None:
        reason = {StartedDetail.RESTORED: RunningReason.RESTORED,
                  StartedDetail.MIGRATED: RunningReason.MIGRATED,
                  StartedDetail.FROM_SNAPSHOT: RunningReason.FROM_SNAPSHOT}.get(detail, RunningReason.BOOTED)
        self._host.start(sim, DomainState.RUNNING, reason)
        self._host.emit(sim, EventType.STARTED, detail)
        if paused:
            sim.set_state(DomainState.PAUSED, PausedReason.USER)
            sim.touch()
            self._host.emit(sim, EventType.SUSPENDED, SuspendedDetail.PAUSED)

    def shutdown(self) -> None:
        with self._host.lock:
            sim = self._idle("shut down")
            if not sim.active:
                raise not_running(sim.name)
            if sim.definition.lifecycle_action("on_poweroff") == "restart":
                self._host.guest_rebooted(sim)
                return
            self._host.emit(sim, EventType.SHUTDOWN, ShutdownDetail.FINISHED)
            self._host.stop(sim, ShutoffReason.SHUTDOWN)
            self._host.emit(sim, EventType.STOPPED, StoppedDetail.SHUTDOWN)

    def shutdown_flags(self, flags: int = 0) -> None:
        """As :meth:`shutdown`: a simulated guest runs no agent, so GUEST_AGENT alone is refused."""
        self._check_agentless(flags, "shutdown_flags")
        self.shutdown()

    def _check_agentless(self, flags: int, api: str) -> None:
        flags = check_flags(flags, int(ShutdownFlags.ACPI_POWER_BTN | ShutdownFlags.GUEST_AGENT), api)
        if flags == ShutdownFlags.GUEST_AGENT:
            raise not_connected(self._name)

    def reboot(self, flags: int = 0) -> None:
        self._check_agentless(flags, "reboot")
        with self._host.lock:
            sim = self._idle("reboot")
            if sim.state != DomainState.RUNNING:
                raise not_running(sim.name)
            if sim.definition.lifecycle_action("on_reboot") == "restart":
                self._host.guest_rebooted(sim)
                return
            self._host.stop(sim, ShutoffReason.SHUTDOWN)
            self._host.emit(sim, EventType.STOPPED, StoppedDetail.SHUTDOWN)

    def reset(self) -> None:
        """A simulated guest resets at once and runs on: REBOOT, as QEMU's RESET gives."""
        with self._host.lock:
            sim = self._idle("reset")
            if not sim.active:
                raise not_running(sim.name)
            self._host.guest_rebooted(sim)

    def destroy(self) -> None:
        job = self._host.jobs.current(self._uuid)
        if job is not None:  # destroy wins over any job: cancel it, then power off
            job.request_cancel()
            job.wait(30)
        with self._host.lock:
            sim = self._sim()
            if not sim.active:
                raise not_running(sim.name)
            self._host.stop(sim, ShutoffReason.DESTROYED)
            self._host.emit(sim, EventType.STOPPED, StoppedDetail.DESTROYED)

    def suspend(self) -> None:
        with self._host.lock:
            sim = self._idle("pause")
            check_can_pause(sim.name, sim.state)
            sim.set_state(DomainState.PAUSED, PausedReason.USER)
            sim.touch()
            self._host.emit(sim, EventType.SUSPENDED, SuspendedDetail.PAUSED)

    def resume(self) -> None:
        with self._host.lock:
            sim = self._idle("resume")
            check_can_resume(sim.name, sim.state)
            sim.set_state(DomainState.RUNNING, RunningReason.UNPAUSED)
            sim.touch()
            self._host.emit(sim, EventType.RESUMED, ResumedDetail.UNPAUSED)

    def undefine(self, flags: int = 0) -> None:
        flags = check_flags(flags, int(UndefineFlags.MANAGED_SAVE | UndefineFlags.SNAPSHOTS_METADATA
                                       | UndefineFlags.NVRAM | UndefineFlags.KEEP_NVRAM),
                            "undefine")
        with self._host.lock:
            sim = self._idle("undefine")
            check_undefine(sim, flags)
            sim.managed_save = False
            sim.snapshots.clear()
            sim.current_snapshot = None
            sim.autostart = False
            if sim.active:
                sim.persistent = False
                sim.touch()
            else:
                self._host.remove(sim)
            self._host.emit(sim, EventType.UNDEFINED, UndefinedDetail.REMOVED)

    # -- removable media ---------------------------------------------------
    def update_device_flags(self, xml: str, flags: int = 0) -> None:
        """Insert, change or eject a CD (see Domain.update_device_flags); a simulated tray never locks."""
        change = media.parse_change(xml, flags)
        with self._host.lock:
            sim = self._idle("change the CD")
            scope = media.impact(flags, sim.name, sim.active, sim.persistent)
            live = media.with_medium(sim.definition, change) if scope.live else None
            config = media.with_medium(sim.config, change) if scope.config else None
            if live is not None:
                sim.live = live
            if config is not None:
                sim.config = config
            sim.touch()
            if config is not None:
                self._host.emit(sim, EventType.DEFINED, DefinedDetail.UPDATED)

    # -- save --------------------------------------------------------------
    def _begin_save(self, action: str, operation: JobOperation) -> tuple[SimDomain, Job]:
        with self._host.lock:
            sim = self._idle(action)
            if not sim.active or sim.state not in (DomainState.RUNNING, DomainState.PAUSED):
                raise not_running(sim.name)
            job = self._host.jobs.begin(sim.uuid, sim.name, operation, action)
        # the size is known from the start: a job info asked right after the call has it, not only once
        # the worker thread has begun
        job.progress(0, sim.definition.current_memory_kib * 1024)
        return sim, job

    def _after_save(self, sim: SimDomain) -> None:
        self._host.stop(sim, ShutoffReason.SAVED)
        self._host.emit(sim, EventType.STOPPED, StoppedDetail.SAVED)

    def managed_save(self, flags: int = 0) -> int | None:
        flags = check_flags(flags, int(SaveFlags.BYPASS_CACHE | SaveFlags.RUNNING | SaveFlags.PAUSED
                                       | JobFlags.ASYNC), "managed_save")
        with self._host.lock:
            if not self._sim().persistent:
                raise DriverError(ErrorCode.OPERATION_INVALID,
                                  f"cannot do managed save for transient domain '{self._name}'")
        sim, job = self._begin_save("save", JobOperation.SAVE)
        paused = paused_after_restore(flags, sim.state == DomainState.PAUSED)

        def worker(job: Job) -> None:
            jobsim.transfer(job, sim.definition.current_memory_kib * 1024, self._conn.rate)
            with self._host.lock:
                sim.managed_save = True
                sim.managed_save_paused = paused
                self._after_save(sim)

        return self._conn.run_job(job, worker, bool(flags & JobFlags.ASYNC))

    def managed_save_remove(self) -> None:
        with self._host.lock:
            sim = self._idle("remove the managed save of")
            if not sim.managed_save:
                raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{sim.name}' has no managed save image")
            sim.managed_save = False
            sim.touch()

    def save(self, path: str, flags: int = 0) -> int | None:
        flags = check_flags(flags, int(SaveFlags.BYPASS_CACHE | SaveFlags.RUNNING | SaveFlags.PAUSED
                                       | JobFlags.ASYNC), "save")
        path = check_new_file(path, "save image path")  # never replaces a file, link or device
        sim, job = self._begin_save("save", JobOperation.SAVE)
        paused = paused_after_restore(flags, sim.state == DomainState.PAUSED)
        payload = SAVE_MAGIC + json.dumps({"xml": sim.definition.to_string(), "paused": paused,
                                           "memory": sim.definition.current_memory_kib * 1024}).encode()

        def worker(job: Job) -> None:
            jobsim.transfer(job, sim.definition.current_memory_kib * 1024, self._conn.rate)
            try:
                write_atomically(path, payload, replace=False)
            except FileExistsError:
                raise already_exists(path) from None
            except OSError as exc:
                raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot write {path}: {exc.strerror}") from None
            with self._host.lock:
                self._after_save(sim)

        return self._conn.run_job(job, worker, bool(flags & JobFlags.ASYNC))

    # -- snapshots ---------------------------------------------------------
    def snapshot_create(self, xml_or_name: str, flags: int = 0) -> TestSnapshot | int:
        flags = check_flags(flags, int(SnapshotCreateFlags.HALT | SnapshotCreateFlags.LIVE | JobFlags.ASYNC),
                            "snapshot_create")
        request = snapshot_request(xml_or_name)
        with self._host.lock:
            sim = self._idle("snapshot")
            if request.name in sim.snapshots:
                raise DriverError(ErrorCode.OPERATION_INVALID,
                                  f"domain '{sim.name}' already has a snapshot named '{request.name}'")
            job = self._host.jobs.begin(sim.uuid, sim.name, JobOperation.SNAPSHOT, "snapshot")
            active = sim.active

        def worker(job: Job) -> TestSnapshot:
            if active:  # memory goes into the snapshot; the guest is paused meanwhile
                jobsim.transfer(job, sim.definition.current_memory_kib * 1024, self._conn.rate)
            else:  # the disks only: one step
                jobsim.one_step(job, 0.0)
            with self._host.lock:
                if request.name in sim.snapshots:
                    raise DriverError(ErrorCode.OPERATION_INVALID, f"snapshot '{request.name}' exists")
                snap = SnapshotDef(name=request.name, description=request.description,
                                   state=_snapshot_state(sim.state), parent=sim.current_snapshot,
                                   domain_xml=sim.definition.to_string())
                sim.snapshots[snap.name] = snap
                sim.current_snapshot = snap.name
                if flags & SnapshotCreateFlags.HALT and sim.active:
                    self._host.stop(sim, ShutoffReason.FROM_SNAPSHOT)
                    self._host.emit(sim, EventType.STOPPED, StoppedDetail.FROM_SNAPSHOT)
                sim.touch()
                self._host.emit(sim, EventType.SNAPSHOT, SnapshotEventDetail.CREATED, snap.name)
            return TestSnapshot(self, snap.name)

        return self._conn.run_job(job, worker, bool(flags & JobFlags.ASYNC))

    def list_all_snapshots(self) -> list[Snapshot]:
        with self._host.lock:
            return [TestSnapshot(self, name) for name in self._sim().snapshots]

    # -- console and screen ------------------------------------------------
    def open_console(self) -> TestConsole:
        with self._host.lock:
            sim = self._sim()
            port = sim.serial_port()
            if port is None:
                raise not_running(sim.name)
            return TestConsole(port)

    def screenshot(self) -> Screenshot:
        with self._host.lock:
            sim = self._sim()
            if not sim.active:
                raise not_running(sim.name)
            name, uuid, state = sim.name, sim.uuid, sim.state
        return render_screen(name, uuid, state)

    # -- backup and jobs ---------------------------------------------------
    def backup_begin(self, backup_xml: str, flags: int = 0, checkpoint_xml: str | None = None) -> int:
        """A simulated push backup: its images are tiny, empty ones (:mod:`.simimage`). ``<incremental>`` copies a
        share of each disk (:data:`checkpoints.CHANGED_SHARE`) and joins the catalog's chain."""
        check_flags(flags, int(JobFlags.ASYNC | BackupFlags.SHUT_OFF), "backup_begin")
        with self._host.lock:
            sim = self._idle("back up")
            if not sim.active and not flags & BackupFlags.SHUT_OFF:
                raise DriverError(ErrorCode.OPERATION_INVALID,
                                  f"domain '{sim.name}' is not running; a push backup needs a running guest")
            spec = BackupDef.parse(backup_xml, [d.target for d in sim.definition.disks()])
            parent, chain_problem = backupchain.parent_backup(sim.uuid, spec)
            full_reason = checkpoints.plan(sim, spec.incremental, chain_problem)
            incremental = None if full_reason else spec.incremental
            new_cp = checkpoints.new_checkpoint(sim, checkpoint_xml) if checkpoint_xml is not None else None
            job = self._host.jobs.begin(sim.uuid, sim.name, JobOperation.BACKUP, "back up")
            if full_reason:
                job.note(f"full: {full_reason}")
            self._host.backups[job.id] = BackupDef(spec.mode, spec.disks, incremental).to_xml()
            if new_cp is not None:  # the backup's point in time: its start
                sim.checkpoints[new_cp.name] = new_cp
            uuid, domain_xml = sim.uuid, sim.definition.to_string()
        started = time.time()
        images = [backupcatalog.Written(target=d.name, path=d.target, final=d.target, format=d.format,
                                        virtual_size=DISK_BYTES) for d in spec.disks]
        backing = {t: b[0] for t, b in backupchain.backing_files(parent if incremental else None, spec).items()}
        lineage = backupcatalog.Lineage(kind="incremental" if incremental else "full",
                                        parent=parent.id if incremental and parent else None,
                                        checkpoint=new_cp.name if new_cp else None, full_reason=full_reason)
        copied = DISK_BYTES // checkpoints.CHANGED_SHARE if incremental else DISK_BYTES

        def worker(job: Job) -> None:
            written: list[str] = []
            try:
                jobsim.transfer(job, copied * len(spec.disks), self._conn.rate)
                for disk in spec.disks:
                    kind = f"changes since {incremental}" if incremental else "full"
                    note = f"vmgui test-driver backup of {self._name}/{disk.name} ({disk.format}, {kind})\n"
                    image = simimage.image_bytes(disk.format, DISK_BYTES, note, backing.get(disk.name))
                    try:
                        write_atomically(disk.target, image, replace=False)
                    except FileExistsError:
                        raise DriverError(ErrorCode.OPERATION_FAILED, f"{disk.target} appeared meanwhile") from None
                    written.append(disk.target)
                folder = backupcatalog.dedicated_folder(images)
                if folder is not None:  # a folder of its own: a catalog entry, like the qemu driver's
                    entries = backupcatalog.describe(images, cancelled=lambda: job.cancel_requested,
                                                     backing=backing)
                    backupcatalog.write_manifest(folder, self._name, uuid, domain_xml, started, entries, lineage)
            except BaseException:
                for path in written:  # all or nothing: no partial backup stays behind
                    try:
                        os.unlink(path)
                    except FileNotFoundError:
                        pass
                if new_cp is not None:  # no backup stands for it
                    with self._host.lock:
                        self._sim().checkpoints.pop(new_cp.name, None)
                raise

        self._conn.run_job(job, worker, True)
        return job.id


    # -- checkpoints -------------------------------------------------------
    def checkpoint_create(self, xml: str, flags: int = 0) -> Checkpoint:
        check_flags(flags, 0, "checkpoint_create")
        with self._host.lock:
            sim = self._idle("create a checkpoint of")
            cp = checkpoints.new_checkpoint(sim, xml)
            sim.checkpoints[cp.name] = cp
        return checkpoints.TestCheckpoint(self, cp.name)

    def list_all_checkpoints(self, flags: int = 0) -> list[Checkpoint]:
        check_flags(flags, 0, "list_all_checkpoints")
        with self._host.lock:
            return [checkpoints.TestCheckpoint(self, name) for name in self._sim().checkpoints]


def _snapshot_state(state: DomainState) -> str:
    return {DomainState.RUNNING: "running", DomainState.PAUSED: "paused"}.get(state, "shutoff")


class TestSnapshot(Snapshot):
    __test__ = False
    _domain: TestDomain

    def _lookup(self) -> tuple[SimDomain, SnapshotDef]:
        sim = self._domain._sim()
        return sim, find_snapshot(sim, self._name)

    def xml_desc(self) -> str:
        with self._domain._host.lock:
            return self._lookup()[1].to_xml()

    def is_current(self) -> bool:
        with self._domain._host.lock:
            sim, _ = self._lookup()
            return sim.current_snapshot == self._name

    def parent_name(self) -> str | None:
        with self._domain._host.lock:
            return self._lookup()[1].parent

    def revert(self, flags: int = 0) -> int | None:
        """Go back to the snapshot: its definition and its run state.

        With ``JobFlags.ASYNC`` a SNAPSHOT_REVERT job first "loads" the memory of a
        running or paused snapshot at the connection's rate, so the GUI can show it.
        """
        return self._run(flags, JobOperation.SNAPSHOT_REVERT, "revert", self._apply_revert, _saved_memory)

    def delete(self, flags: int = 0) -> int | None:
        """Remove the snapshot; its children move up to its parent.

        With ``JobFlags.ASYNC`` a SNAPSHOT_DELETE job frees the saved memory first: one
        step, as long as moving 1/16 of it would take, short but one the GUI can follow.
        No data moves, so the job has no byte figures.
        """
        return self._run(flags, JobOperation.SNAPSHOT_DELETE, "delete a snapshot of", self._apply_delete,
                         lambda sim, snap: _saved_memory(sim, snap) // 16, in_steps=True)

    def _run(self, flags: int, operation: JobOperation, action: str,
             commit: Callable[[SimDomain, SnapshotDef], None], size: Callable[[SimDomain, SnapshotDef], int],
             in_steps: bool = False) -> int | None:
        """``commit`` at once (no ASYNC, as libvirt's test driver), or after a simulated
        transfer of ``size`` bytes in a job (``in_steps``: one step taking that long);
        a cancel (destroy) stops it before any change."""
        flags = check_flags(flags, int(JobFlags.ASYNC), operation_text(operation))
        host = self._domain._host
        with host.lock:
            sim, snap = self._lookup()
            if not flags & JobFlags.ASYNC:
                host.jobs.check_idle(sim.uuid, sim.name, action)
                commit(sim, snap)
                return None
            job = host.jobs.begin(sim.uuid, sim.name, operation, action)
            total = size(sim, snap)

        def worker(job: Job) -> None:
            rate = self._domain._conn.rate
            if in_steps or not total:  # a shut-off snapshot has no memory to load: nothing moves
                jobsim.one_step(job, total / rate)
            else:
                jobsim.transfer(job, total, rate)
            with host.lock:
                commit(sim, snap)

        return self._domain._conn.run_job(job, worker, True)

    def _apply_revert(self, sim: SimDomain, snap: SnapshotDef) -> None:
        host = self._domain._host
        if snap.domain_xml:
            sim.config = DomainXML.parse(snap.domain_xml) if sim.persistent else sim.config
        target_active = _has_memory(snap)
        if sim.active:
            host.stop(sim, ShutoffReason.FROM_SNAPSHOT)
            if not sim.persistent and target_active:
                host.add(sim)  # a transient domain reverted to a running state lives on
            host.emit(sim, EventType.STOPPED, StoppedDetail.FROM_SNAPSHOT)
        if target_active:
            host.start(sim, DomainState.RUNNING, RunningReason.FROM_SNAPSHOT)
            host.emit(sim, EventType.STARTED, StartedDetail.FROM_SNAPSHOT)
            if snap.state == "paused":
                sim.set_state(DomainState.PAUSED, PausedReason.FROM_SNAPSHOT)
                host.emit(sim, EventType.SUSPENDED, SuspendedDetail.FROM_SNAPSHOT)
        sim.current_snapshot = snap.name
        if sim.checkpoints and sim.checkpoints_broken is None:
            sim.checkpoints_broken = f"the VM was reverted to snapshot '{snap.name}'"
        sim.touch()
        host.emit(sim, EventType.SNAPSHOT, SnapshotEventDetail.REVERTED, snap.name)

    def _apply_delete(self, sim: SimDomain, snap: SnapshotDef) -> None:
        for other in sim.snapshots.values():
            if other.parent == snap.name:
                other.parent = snap.parent
        del sim.snapshots[snap.name]
        if sim.current_snapshot == snap.name:
            sim.current_snapshot = snap.parent
        sim.touch()
        self._domain._host.emit(sim, EventType.SNAPSHOT, SnapshotEventDetail.DELETED, snap.name)


def _has_memory(snap: SnapshotDef) -> bool:
    """A snapshot taken while the guest ran holds its memory (and reverts to a running guest)."""
    return snap.state in ("running", "paused")


def _saved_memory(sim: SimDomain, snap: SnapshotDef) -> int:
    """Bytes of guest memory the snapshot holds: what a revert loads."""
    return sim.definition.current_memory_kib * 1024 if _has_memory(snap) else 0


def restore_payload(path: str) -> dict[str, Any]:
    """Read a save image written by :meth:`TestDomain.save`."""
    if not isinstance(path, str) or not os.path.isabs(path):
        raise invalid_arg(f"restore needs an absolute file path, not {path!r}")
    try:
        with open(path, "rb") as fh:
            data = fh.read(8 * 1024 * 1024)
    except OSError as exc:
        raise DriverError(ErrorCode.INVALID_ARG, f"cannot read save image {path}: {exc.strerror}") from None
    if not data.startswith(SAVE_MAGIC):
        raise DriverError(ErrorCode.INVALID_ARG, f"{path} is not a save image of the test driver")
    try:
        payload = json.loads(data[len(SAVE_MAGIC):])
        assert isinstance(payload, dict) and isinstance(payload["xml"], str)
    except (ValueError, AssertionError, KeyError):
        raise DriverError(ErrorCode.INVALID_ARG, f"save image {path} is damaged") from None
    return payload
