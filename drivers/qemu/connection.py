"""``qemu:///embed`` connections: listing, definitions, restore, disks and migration phases."""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import Any, TypeVar

from .. import clone
from ..base import Connection, Domain
from ..diskimage import check_create_args, check_guest_files, check_path_list, job_key, locally_visible
from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode, check_flags
from ..flags import (
    CloneFlags,
    CreateFlags,
    DefinedDetail,
    DiskCreateFlags,
    DomainState,
    DomainXMLFlags,
    EventType,
    Feature,
    JobFlags,
    JobOperation,
    JobState,
    SaveFlags,
    StartedDetail,
)
from ..hostfacts import HostFacts
from ..jobs import Job, operation_text
from ..lifecycle import paused_after_restore
from ..stateful import StatefulConnection
from . import firmware, hostfacts, migration, recovery, salvage, saveimg, saveops, snapjournal, storage, swtpm
from .adopters import register_adopter
from .domain import QemuDomain, transition
from .guard import guard_worker, guarded
from .host import QemuHost, release_host
from .state import QDom
from .store import drop_runtime_sockets

log = logging.getLogger(__name__)
T = TypeVar("T")  # what a job's worker returns

# what a previous process left is settled at open: jobs and ended VMs first, then snapshot operations
register_adopter(recovery.ADOPTER)
register_adopter(snapjournal.ADOPTER)

FEATURES = frozenset({
    Feature.JOBS, Feature.BACKUP, Feature.INCREMENTAL_BACKUP, Feature.SNAPSHOTS, Feature.MANAGED_SAVE,
    Feature.SAVE_RESTORE,
    Feature.AUTOSTART, Feature.DEFINE, Feature.DISK_CREATE, Feature.RENAME, Feature.TYPED_PARAM_STRING,
    Feature.MIGRATION_V3, Feature.MIGRATION_V2, Feature.MIGRATION_PARAMS, Feature.MIGRATION_OFFLINE,
    Feature.FD_PASSING,
    Feature.SERIAL_CONSOLE, Feature.SCREENSHOT, Feature.DELETE_DISKS, Feature.CHANGE_MEDIA, Feature.CLONE,
    Feature.CLONE_RUNNING,
    Feature.GUESTS_OUTLIVE_CLIENT,  # each VM runs under its own supervisor, not in this process
})


@guarded
class QemuConnection(StatefulConnection):
    """A connection to one root; connections to the same root share its state."""

    FEATURES = FEATURES
    host: QemuHost

    def __init__(self, uri: str, host: QemuHost) -> None:
        super().__init__(uri)
        self.host = host

    # -- connection ----------------------------------------------------------------
    @property
    def root(self) -> str:
        return str(self.host.layout.root)

    def close(self) -> None:
        if not self._closed:
            super().close()
            release_host(self.host)

    def same_host(self, other: Connection) -> bool:
        """Two roots are two hosts, even on one machine."""
        return isinstance(other, QemuConnection) and other.host.layout.root == self.host.layout.root

    def hostname(self) -> str:
        return socket.gethostname()

    def host_facts(self) -> HostFacts:
        """This machine: new images under ``ROOT/images``, KVM as actually checked, the firmware found."""
        self._check_open()
        return hostfacts.host_facts(self.root)

    def domain_handle(self, name: str, uuid: str) -> QemuDomain:
        return QemuDomain(self, name, uuid)

    # -- clones ----------------------------------------------------------------------
    def clone_domain(self, domain: str | Domain, new_name: str, flags: int = 0) -> int | None:
        """A shut-off domain as the core clones it; a running one through a push backup of its disks
        (QEMU's blockdev-backup: the clone holds the disks as they were when the call returned)."""
        flags = check_flags(flags, int(CloneFlags.LINKED | JobFlags.ASYNC), "clone_domain")
        self._check_open()
        dom = domain if isinstance(domain, Domain) else self.lookup_by_name(domain)
        if not dom.is_active():
            return super().clone_domain(dom, new_name, flags)
        if flags & CloneFlags.LINKED:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"'{dom.name}' is running: a linked clone makes its "
                              "images a read-only base, so shut it down first (or make a full copy)")
        self._check_name_free(new_name, "the clone")
        handle = self.domain_handle(dom.name, dom.uuid)
        original = DomainXML.parse(handle.xml_desc(int(DomainXMLFlags.INACTIVE)))
        copy = clone.plan(original, new_name, False)
        self._clone_extras(dom.uuid, copy)
        job_id = handle.copy_disks_live(clone.push_backup(copy),
                                        lambda job: self._complete_clone(copy, job, [], [c.dest for c in copy.disks]))
        if flags & JobFlags.ASYNC:
            return job_id
        job = self.host.jobs.by_id(job_id)
        job.wait()
        info = job.info()
        if info.state is JobState.CANCELLED:
            raise DriverError(ErrorCode.OPERATION_ABORTED, f"the clone {new_name} was cancelled")
        if info.state is not JobState.COMPLETED:
            raise DriverError(ErrorCode.OPERATION_FAILED, info.error or f"the clone {new_name} failed")
        return None

    def _clone_extras(self, uuid: str, copy: clone.ClonePlan) -> None:
        """The clone's own UEFI variable store and TPM state, copied from the original's folder."""
        layout = self.host.layout
        old_nvram, new_nvram = str(layout.nvram(uuid)), str(layout.nvram(copy.uuid))
        copy.dirs.append(str(layout.domain_dir(copy.uuid)))
        if copy.definition.nvram == old_nvram:
            copy.definition.set_nvram(new_nvram, copy.definition.nvram_template)
            if os.path.exists(old_nvram):
                copy.files.append((old_nvram, new_nvram))
        if layout.tpm_dir(uuid).is_dir():
            copy.trees.append((str(layout.tpm_dir(uuid)), str(layout.tpm_dir(copy.uuid))))

    def _redefine_busy(self, dom: Domain, definition: DomainXML) -> None:
        with self.host.lock:
            self.host.replace_config(self.host.get(dom.uuid, dom.name), definition)

    # -- definitions -----------------------------------------------------------------
    def _parse(self, xml: str) -> DomainXML:
        definition = DomainXML.parse(xml)
        self.host.adopt_uuid(definition)
        if definition.domain_type not in ("qemu", "kvm"):
            raise DriverError(ErrorCode.INVALID_XML,
                              f"/domain/@type: {definition.domain_type!r} domains cannot run under QEMU; "
                              "use type='qemu' (TCG) or type='kvm'")
        firmware.resolve(definition, hostfacts.find_firmware(), str(self.host.layout.nvram(definition.uuid)))
        swtpm.check_tpms(definition)
        check_paths(definition)
        check_guest_files(definition)
        return definition

    def define_xml(self, xml: str) -> Domain:
        self._check_open()
        definition = self._parse(xml)
        host = self.host
        host.warm_up()
        with host.lock:
            dom = host.by_uuid.get(definition.uuid)
            if dom is not None:
                salvage.check_usable(dom, "redefine", definition_fix=True)
                salvage.take_name(host, dom, definition.name)  # a broken entry gets its name back
            if dom is None or dom.name != definition.name:
                new = QDom(definition, True, definition.name, definition.uuid)
                host.add(new)  # refuses name/uuid clashes
                try:
                    host.save_config(new)
                except DriverError:
                    host.remove(new)
                    raise
                host.emit(new, EventType.DEFINED, DefinedDetail.ADDED)
                return QemuDomain(self, new.name, new.uuid)
            host.jobs.check_idle(dom.uuid, dom.name, "redefine")
            detail = DefinedDetail.UPDATED if dom.persistent else DefinedDetail.ADDED
            old = (dom.config, dom.persistent)
            dom.config = definition
            dom.title = definition.title
            dom.persistent = True
            try:
                host.save_config(dom)
            except DriverError:
                dom.config, dom.persistent = old
                raise
            dom.touch()
            if dom.live is not None:
                host.write_state(dom)
            host.emit(dom, EventType.DEFINED, detail)
            return QemuDomain(self, dom.name, dom.uuid)

    def create_xml(self, xml: str, flags: int = 0) -> Domain:
        """Start a transient domain (gone when it stops)."""
        flags = check_flags(flags, int(CreateFlags.START_PAUSED), "create_xml")
        self._check_open()
        definition = self._parse(xml)
        host = self.host
        with host.lock:
            dom = host.by_uuid.get(definition.uuid)
            if dom is not None and dom.active:
                raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{dom.name}' is already running")
            created = dom is None
            if dom is None:
                dom = QDom(None, False, definition.name, definition.uuid, shadow=definition)
                host.add(dom)
        try:
            with transition(host, dom, "start"):
                host.boot(dom, definition, bool(flags & CreateFlags.START_PAUSED))
        except BaseException:
            if created:
                with host.lock:
                    if not dom.active:
                        host.remove(dom)
            raise
        return QemuDomain(self, dom.name, dom.uuid)

    def restore(self, path: str, flags: int = 0) -> int | None:
        """Start the guest saved in ``path`` in the state it was saved in (or RUNNING/PAUSED)."""
        flags = check_flags(flags, int(SaveFlags.BYPASS_CACHE | SaveFlags.RUNNING | SaveFlags.PAUSED
                                       | JobFlags.ASYNC), "restore")
        self._check_open()
        header = saveimg.read_header(path)
        definition = DomainXML.parse(header["xml"])
        paused_after_restore(flags, False)  # validates RUNNING|PAUSED
        host = self.host
        with host.lock:
            dom = host.by_uuid.get(definition.uuid)
            if dom is not None and dom.active:
                raise DriverError(ErrorCode.OPERATION_INVALID,
                                  f"domain '{dom.name}' is already running; stop it before restoring")
            if dom is None and definition.name in host.by_name:
                raise DriverError(ErrorCode.OPERATION_FAILED,
                                  f"domain '{definition.name}' already exists with another uuid")
            job = host.jobs.begin(definition.uuid, definition.name, JobOperation.RESTORE, "restore")

        def worker(job: Job) -> None:
            saveops.restore_into(host, dom, path, job, flags & ~int(JobFlags.ASYNC), header)

        return self.run_job(job, worker, bool(flags & JobFlags.ASYNC))

    # -- storage ---------------------------------------------------------------------
    def create_disk(self, path: str, size_bytes: int, fmt: str = "qcow2", flags: int = 0) -> int | None:
        """Create a disk image with qemu-img, as a DISK_CREATE job.

        ``flags``: ``DiskCreateFlags.PREALLOCATE`` allocates every byte now (the
        job then shows progress; ``abort_job(id)`` kills qemu-img and removes the
        file), ``JobFlags.ASYNC`` returns the job id at once. INVALID_ARG for a
        bad path, size or format; OPERATION_INVALID when the file exists.
        """
        flags = check_flags(flags, int(DiskCreateFlags.PREALLOCATE | JobFlags.ASYNC), "create_disk")
        self._check_open()
        path, size, fmt = check_create_args(path, size_bytes, fmt)
        job = self.host.jobs.begin(job_key(path), os.path.basename(path), JobOperation.DISK_CREATE, "create")

        def worker(job: Job) -> None:
            storage.create(job, path, size, fmt, bool(flags & DiskCreateFlags.PREALLOCATE))

        return self.run_job(job, worker, bool(flags & JobFlags.ASYNC))

    def delete_disks(self, paths: list[str], flags: int = 0) -> list[str]:
        """Removes only image files no VM of any root holds a lease on and no open root's domain uses."""
        return super().delete_disks(paths, flags)

    def check_delete_disks(self, paths: list[str], domain: Domain | None = None) -> dict[str, DriverError]:
        return super().check_delete_disks(paths, domain)

    def storage_visible(self, paths: list[str]) -> dict[str, bool | None]:
        """The local filesystem: a file (or device) is there; a directory or dangling symlink is not."""
        paths = check_path_list(paths)
        self._check_open()
        return {path: locally_visible(path) for path in paths}

    # -- jobs ------------------------------------------------------------------------
    def run_job(self, job: Job, worker: Callable[[Job], T], asynchronous: bool) -> T | int:
        return self.host.jobs.run(job, guard_worker(worker, operation_text(job.operation)), asynchronous)

    def migration_job(self, dom: Domain, action: str) -> Job:
        self._check_open()
        with self.host.lock:
            qd = self.host.get(dom.uuid, dom.name)
            if qd.busy:
                raise DriverError(ErrorCode.OPERATION_INVALID, f"cannot {action} '{qd.name}' while it is busy")
            return self.host.jobs.begin(qd.uuid, qd.name, JobOperation.MIGRATION_OUT, action)

    # -- migration phases (drivers.migration drives them: MigrationPhases) -----------
    def migration_peer_ok(self, other: Connection) -> bool:
        """Guests move between ``qemu:///embed`` roots only."""
        return isinstance(other, QemuConnection)

    def migrate_begin(self, dom: Domain, flags: int, params: dict[str, Any]) -> str:
        return migration.begin(self, dom, flags, params)

    def migrate_prepare(self, xml: str, flags: int, params: dict[str, Any]) -> dict[str, Any]:
        self._check_open()
        definition = self._parse(xml)
        drop_runtime_sockets(definition)  # V2 sends the source's live XML (V3's begin already did this)
        return migration.prepare(self, definition, flags, params)

    def migrate_perform(self, dom: Domain, cookie: dict[str, Any], flags: int,
                        params: dict[str, Any], job: Any) -> None:
        migration.perform(self, dom, cookie, flags, params, job)

    def migrate_finish(self, cookie: dict[str, Any], flags: int, cancelled: bool) -> Domain | None:
        return migration.finish(self, cookie, flags, cancelled)

    def migrate_confirm(self, dom: Domain, flags: int, cancelled: bool) -> None:
        migration.confirm(self, dom, flags, cancelled)


def check_paths(definition: DomainXML) -> None:
    """Every path the XML names must be absolute and free of control characters."""
    found: list[tuple[str, str | None]] = [("/domain/os/kernel", definition.kernel),
                                           ("/domain/os/initrd", definition.initrd)]
    found += [(f"/domain/devices/disk[{i + 1}]/source", d.source) for i, d in enumerate(definition.disks())]
    found += [(f"/domain/devices/{c.kind}/source/@path", c.path) for c in definition.char_devices()
              if c.type in ("file", "unix")]
    found += [("/domain/devices/graphics/@socket", g.socket) for g in definition.graphics()]
    found += [("/domain/os/loader", definition.loader), ("/domain/os/nvram", definition.nvram),
              ("/domain/os/nvram/@template", definition.nvram_template)]
    for where, path in found:
        if path is None:
            continue
        if not os.path.isabs(path) or any(c in path for c in "\x00\n\r"):
            raise DriverError(ErrorCode.INVALID_XML, f"{where}: {path!r} must be an absolute path")


def autostart(conn: QemuConnection) -> None:
    """Start the autostart domains once per boot of this machine (per root).

    A domain with a managed-save image is restored, as a normal start would.
    """
    host = conn.host
    marker = host.layout.autostart_marker
    if marker.exists():
        return
    try:
        marker.touch()
    except OSError:
        pass
    with host.lock:
        todo = [QemuDomain(conn, d.name, d.uuid) for d in host.by_uuid.values()
                if d.autostart and not d.active and d.persistent]
    for dom in todo:
        try:
            dom.create()
        except DriverError as exc:
            log.warning("autostart of '%s' failed: %s", dom.name, exc)


__all__ = ["QemuConnection", "autostart", "DomainState", "StartedDetail"]
