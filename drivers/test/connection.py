"""``test:///`` connections: listing, definitions, restore and migration phases."""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

from .. import clone
from ..base import Connection, Domain
from ..diskimage import check_create_args, check_guest_files, check_path_list, job_key
from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode, check_flags
from ..flags import (
    CreateFlags,
    DefinedDetail,
    DiskCreateFlags,
    DomainState,
    EventType,
    Feature,
    JobFlags,
    JobOperation,
    MigrateFlags,
    PausedReason,
    ResumedDetail,
    RunningReason,
    SaveFlags,
    ShutoffReason,
    StartedDetail,
    StoppedDetail,
    SuspendedDetail,
    UndefinedDetail,
)
from ..hostfacts import Firmware, FirmwareInterface, HostFacts, free_bytes, this_machine_memory, user_image_dir
from ..jobs import Job
from ..lifecycle import paused_after_restore
from ..stateful import StatefulConnection
from . import jobsim, offline, storage
from .domain import DISK_BYTES, TestDomain, restore_payload
from .world import SimDomain, TestHost

BASE_FEATURES = frozenset({
    Feature.JOBS, Feature.BACKUP, Feature.INCREMENTAL_BACKUP, Feature.SNAPSHOTS, Feature.MANAGED_SAVE,
    Feature.SAVE_RESTORE,
    Feature.AUTOSTART, Feature.DEFINE, Feature.TYPED_PARAM_STRING, Feature.SERIAL_CONSOLE,
    Feature.SCREENSHOT, Feature.DISK_CREATE, Feature.RENAME, Feature.DELETE_DISKS, Feature.CHANGE_MEDIA,
    Feature.CLONE,
})
# offline migration (definition only, drivers.test.offline) needs no memory stream: any protocol carries it
MIGRATION_FEATURES = {
    "v3": frozenset({Feature.MIGRATION_V3, Feature.MIGRATION_V2, Feature.MIGRATION_OFFLINE}),
    "v2": frozenset({Feature.MIGRATION_V2, Feature.MIGRATION_OFFLINE}),
    "none": frozenset(),
}

SIMULATED_KVM_PROBLEM = "the simulated host runs no hypervisor: its domains are not accelerated"


class TestConnection(StatefulConnection):
    """One connection to a simulated host (shared for ``default``, private for node files)."""

    __test__ = False
    host: TestHost

    def __init__(self, uri: str, host: TestHost, rate_bytes: float, migration: str = "v3") -> None:
        super().__init__(uri)
        self.host = host
        self.rate = rate_bytes
        self.FEATURES = BASE_FEATURES | MIGRATION_FEATURES[migration]

    # -- connection --------------------------------------------------------
    def same_host(self, other: Connection) -> bool:
        return isinstance(other, TestConnection) and other.host is self.host

    def host_facts(self) -> HostFacts:
        """A simulated host on this machine: its disks are real files here (``create_disk`` writes them),
        in this user's image folder (so its memory and free space are this machine's); it runs no
        hypervisor, so no KVM and only a built-in BIOS."""
        self._check_open()
        images = user_image_dir()
        return HostFacts(self.hostname(), images, SIMULATED_KVM_PROBLEM, (Firmware(FirmwareInterface.BIOS),),
                         local=True, memory_bytes=this_machine_memory(), image_free_bytes=free_bytes(images))

    def domain_handle(self, name: str, uuid: str) -> TestDomain:
        return TestDomain(self, name, uuid)

    # -- definitions -------------------------------------------------------
    def define_xml(self, xml: str) -> Domain:
        self._check_open()
        definition = DomainXML.parse(xml)
        check_guest_files(definition)
        with self.host.lock:
            self.host.adopt_uuid(definition)
            sim = self.host.by_uuid.get(definition.uuid)
            if sim is None or sim.name != definition.name:
                new = SimDomain(definition)
                self.host.add(new)  # refuses name/uuid clashes
                self.host.emit(new, EventType.DEFINED, DefinedDetail.ADDED)
                return TestDomain(self, new.name, new.uuid)
            self.host.jobs.check_idle(sim.uuid, sim.name, "redefine")
            detail = DefinedDetail.UPDATED if sim.persistent else DefinedDetail.ADDED
            sim.config = definition
            sim.title = definition.title
            sim.persistent = True
            if not sim.active:
                sim.live = None
            sim.touch()
            self.host.emit(sim, EventType.DEFINED, detail)
            return TestDomain(self, sim.name, sim.uuid)

    def create_xml(self, xml: str, flags: int = 0) -> Domain:
        flags = check_flags(flags, int(CreateFlags.START_PAUSED), "create_xml")
        self._check_open()
        definition = DomainXML.parse(xml)
        check_guest_files(definition)
        with self.host.lock:
            self.host.adopt_uuid(definition)
            sim = self.host.by_uuid.get(definition.uuid)
            if sim is not None and sim.active:
                raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{sim.name}' is already running")
            if sim is None:
                sim = SimDomain(definition, persistent=False)
                self.host.add(sim)
            else:
                self.host.jobs.check_idle(sim.uuid, sim.name, "start")
            dom = TestDomain(self, sim.name, sim.uuid)
            self.host.start(sim, DomainState.RUNNING, RunningReason.BOOTED, definition)
            self.host.emit(sim, EventType.STARTED, StartedDetail.BOOTED)
            if flags & CreateFlags.START_PAUSED:
                sim.set_state(DomainState.PAUSED, PausedReason.USER)
                sim.touch()
                self.host.emit(sim, EventType.SUSPENDED, SuspendedDetail.PAUSED)
            return dom

    def restore(self, path: str, flags: int = 0) -> int | None:
        flags = check_flags(flags, int(SaveFlags.BYPASS_CACHE | SaveFlags.RUNNING | SaveFlags.PAUSED
                                       | JobFlags.ASYNC), "restore")
        self._check_open()
        payload = restore_payload(path)
        definition = DomainXML.parse(payload["xml"])
        paused = paused_after_restore(flags & ~int(JobFlags.ASYNC), bool(payload.get("paused")))
        with self.host.lock:
            sim = self.host.by_uuid.get(definition.uuid)
            if sim is not None and sim.active:
                raise DriverError(ErrorCode.OPERATION_INVALID,
                                  f"domain '{sim.name}' is already running; stop it before restoring")
            if sim is None and definition.name in self.host.by_name:
                raise DriverError(ErrorCode.OPERATION_FAILED,
                                  f"domain '{definition.name}' already exists with another uuid")
            job = self.host.jobs.begin(definition.uuid, definition.name, JobOperation.RESTORE, "restore")

        def worker(job: Job) -> None:
            jobsim.transfer(job, int(payload.get("memory") or definition.current_memory_kib * 1024), self.rate)
            with self.host.lock:
                target = self.host.by_uuid.get(definition.uuid)
                if target is None:
                    target = SimDomain(definition, persistent=False)
                    self.host.add(target)
                elif target.active:
                    raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{target.name}' started meanwhile")
                self.host.start(target, DomainState.RUNNING, RunningReason.RESTORED, definition)
                self.host.emit(target, EventType.STARTED, StartedDetail.RESTORED)
                if paused:
                    target.set_state(DomainState.PAUSED, PausedReason.USER)
                    target.touch()
                    self.host.emit(target, EventType.SUSPENDED, SuspendedDetail.RESTORED)

        return self.run_job(job, worker, bool(flags & JobFlags.ASYNC))

    # -- storage -------------------------------------------------------------
    def create_disk(self, path: str, size_bytes: int, fmt: str = "qcow2", flags: int = 0) -> int | None:
        """A DISK_CREATE job writing a sparse file (see :func:`storage.create`); the qemu driver's rules."""
        flags = check_flags(flags, int(DiskCreateFlags.PREALLOCATE | JobFlags.ASYNC), "create_disk")
        self._check_open()
        path, size, _fmt = check_create_args(path, size_bytes, fmt)
        job = self.host.jobs.begin(job_key(path), os.path.basename(path), JobOperation.DISK_CREATE, "create")

        def worker(job: Job) -> None:
            storage.create(job, path, size, self.rate, bool(flags & DiskCreateFlags.PREALLOCATE))

        return self.run_job(job, worker, bool(flags & JobFlags.ASYNC))

    def _disk_exists(self, path: str) -> bool:
        return os.path.isfile(path) or bool(storage.visible([path])[path])

    def _write_clone_images(self, copy: clone.ClonePlan, job: Job) -> list[tuple[str, str]]:
        """Real image files are copied; a simulated disk's copy takes DISK_BYTES at the host's rate."""
        simulated = [c for c in copy.disks if not os.path.isfile(c.source)]
        real = dataclasses.replace(copy, disks=[c for c in copy.disks if c not in simulated])
        parts = clone.write_images(real, job.progress, lambda: job.cancel_requested)
        if simulated:
            try:
                jobsim.transfer(job, DISK_BYTES * len(simulated), self.rate)
            except BaseException:
                clone.discard([part for part, _ in parts])
                raise
            storage.register(c.dest for c in simulated)
        return parts

    def _redefine_busy(self, dom: Domain, definition: DomainXML) -> None:
        with self.host.lock:
            sim = self.host.get(dom.uuid, dom.name)
            sim.config = definition
            if not sim.active:
                sim.live = None
            sim.touch()
            self.host.emit(sim, EventType.DEFINED, DefinedDetail.UPDATED)

    def _forget_missing_disk(self, path: str) -> bool:
        """A simulated disk (demo image, pool volume) has no file: deleting it forgets it."""
        return storage.forget(path)

    def storage_visible(self, paths: list[str]) -> dict[str, bool | None]:
        """Test hosts share one simulated storage (see :mod:`drivers.test.storage`)."""
        paths = check_path_list(paths)
        self._check_open()
        return storage.visible(paths)

    # -- migration phases (see drivers.migration: MigrationPhases) -------------
    def migration_peer_ok(self, other: Connection) -> bool:
        """Simulated guests move between test hosts only."""
        return isinstance(other, TestConnection)

    def migrate_begin(self, dom: Domain, flags: int, params: dict[str, Any]) -> str:
        if flags & MigrateFlags.OFFLINE:
            return offline.begin(self, dom, params)
        with self.host.lock:
            sim = self.host.get(dom.uuid, dom.name)
            if not sim.active:
                raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{sim.name}' is not running")
            return params.get("destination_xml") or sim.definition.to_string()

    def migrate_prepare(self, xml: str, flags: int, params: dict[str, Any]) -> dict[str, Any]:
        self._check_open()
        definition = DomainXML.parse(xml)
        check_guest_files(definition)
        if flags & MigrateFlags.OFFLINE:
            return offline.prepare(self, definition)
        with self.host.lock:
            offline.check_arrival(self.host, definition, self.uri)
            sim = self.host.by_uuid.get(definition.uuid)
            existed = sim is not None
            if sim is None:
                sim = SimDomain(definition, persistent=False)
                self.host.add(sim)
            self.host.start(sim, DomainState.PAUSED, PausedReason.MIGRATION, definition)
            sim.incoming = True
            self.host.emit(sim, EventType.STARTED, StartedDetail.MIGRATED)
            job = self.host.jobs.begin(sim.uuid, sim.name, JobOperation.MIGRATION_IN, "migrate")
        return {"uuid": sim.uuid, "name": sim.name, "existed": existed, "job": job, "paused": False}

    def migrate_perform(self, dom: Domain, cookie: dict[str, Any], flags: int,
                        params: dict[str, Any], job: Job) -> None:
        if flags & MigrateFlags.OFFLINE:
            offline.perform(self, dom)
            return
        with self.host.lock:
            sim = self.host.get(dom.uuid, dom.name)
            cookie["paused"] = sim.state == DomainState.PAUSED
            if not flags & MigrateFlags.LIVE and sim.state == DomainState.RUNNING:
                sim.set_state(DomainState.PAUSED, PausedReason.MIGRATION)
                sim.touch()
                self.host.emit(sim, EventType.SUSPENDED, SuspendedDetail.MIGRATED)
            memory = sim.definition.current_memory_kib * 1024
            live = bool(flags & MigrateFlags.LIVE) and sim.state == DomainState.RUNNING
        bandwidth = params.get("bandwidth")
        rate = float(bandwidth) * 1024 * 1024 if bandwidth else self.rate
        _simulate_precopy(job, memory, rate, live)
        with self.host.lock:  # switch-over: the source's vCPUs stop
            if sim.state == DomainState.RUNNING:
                sim.set_state(DomainState.PAUSED, PausedReason.MIGRATION)
                sim.touch()
                self.host.emit(sim, EventType.SUSPENDED, SuspendedDetail.MIGRATED)

    def migrate_finish(self, cookie: dict[str, Any], flags: int, cancelled: bool) -> Domain | None:
        if cookie.get("offline"):
            return offline.finish(self, cookie, cancelled)
        with self.host.lock:
            sim = self.host.by_uuid.get(cookie["uuid"])
            job: Job = cookie["job"]
            if cancelled:
                if sim is not None and sim.incoming:
                    self.host.stop(sim, ShutoffReason.FAILED)
                    self.host.emit(sim, EventType.STOPPED, StoppedDetail.FAILED)
                if job.state.name == "RUNNING":
                    self.host.jobs.end(job, DriverError(ErrorCode.OPERATION_ABORTED, "migration cancelled"))
                return None
            if sim is None or not sim.incoming:
                raise DriverError(ErrorCode.OPERATION_FAILED, "the incoming guest vanished on the destination")
            sim.incoming = False
            if not (flags & MigrateFlags.PAUSED or cookie.get("paused")):
                sim.set_state(DomainState.RUNNING, RunningReason.MIGRATED)
                self.host.emit(sim, EventType.RESUMED, ResumedDetail.MIGRATED)
            if flags & MigrateFlags.PERSIST_DEST:
                sim.config = sim.definition.copy()
                sim.persistent = True
                self.host.emit(sim, EventType.DEFINED, DefinedDetail.ADDED)
            sim.touch()
            self.host.jobs.end(job, None)
            return TestDomain(self, sim.name, sim.uuid)

    def migrate_confirm(self, dom: Domain, flags: int, cancelled: bool) -> None:
        if flags & MigrateFlags.OFFLINE:
            offline.confirm(self, dom, flags, cancelled)
            return
        with self.host.lock:
            sim = self.host.by_uuid.get(dom.uuid)
            if sim is None:
                return
            if cancelled:
                if sim.state == DomainState.PAUSED and sim.reason == PausedReason.MIGRATION:
                    sim.set_state(DomainState.RUNNING, RunningReason.MIGRATION_CANCELED)
                    sim.touch()
                    self.host.emit(sim, EventType.RESUMED, ResumedDetail.MIGRATED)
                return
            self.host.stop(sim, ShutoffReason.MIGRATED)
            self.host.emit(sim, EventType.STOPPED, StoppedDetail.MIGRATED)
            if flags & MigrateFlags.UNDEFINE_SOURCE and sim.persistent:
                self.undefine_source(sim)

    def undefine_source(self, sim: SimDomain) -> None:
        """UNDEFINE_SOURCE after a migration: the shut-off source is forgotten with its metadata."""
        with self.host.lock:
            sim.snapshots.clear()
            sim.current_snapshot = None
            sim.managed_save = False
            sim.persistent = False
            self.host.remove(sim)
            self.host.emit(sim, EventType.UNDEFINED, UndefinedDetail.REMOVED)


def _simulate_precopy(job: Job, memory: int, rate: float, live: bool) -> None:
    """Pre-copy passes: all of RAM, then ever smaller sets of re-dirtied pages.

    The figures (remaining bytes, dirty-page rate, expected downtime, pass
    number) are what a GUI needs to show whether a migration converges.
    """
    sent = 0
    to_send = memory
    iteration = 1
    dirty_rate = rate * 0.1 if live else 0.0
    while True:
        start = time.monotonic()
        base = sent
        while True:
            job.raise_if_cancelled()
            done = min(to_send, int((time.monotonic() - start) * rate))
            sent = base + done
            remaining = to_send - done
            job.progress(sent, sent + remaining, remaining_bytes=remaining, dirty_rate=dirty_rate,
                         expected_downtime_ms=1000.0 * remaining / rate, iteration=iteration)
            if done >= to_send:
                break
            job.wait_cancel(min(jobsim.TICK, (to_send - done) / rate))
        if not live or iteration >= 5:
            return
        to_send = int(to_send * 0.1)  # pages dirtied while the previous pass ran
        if to_send < 4 * 1024 * 1024:
            return
        iteration += 1
