"""What every driver that keeps hypervisor state in this process shares.

The test and qemu drivers both hold their domains in a :class:`StatefulHost`
(index, event bus, job table) and expose them through
:class:`StatefulConnection` and :class:`StatefulDomain`. Listing, lookups,
event registration and job queries are written once, here, so both drivers
answer them exactly alike.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from . import backupcatalog, backupprune, backuprestore, clone, diskdelete
from .backupclaims import BackupClaims, Claim
from .base import Connection, Domain
from .diskdelete import DomainUse
from .diskimage import check_path_list, job_key
from .domainindex import DomainIndex
from .domxml import DomainXML
from .errors import DriverError, ErrorCode, check_flags, invalid_arg
from .events import EventBus
from .flags import (
    CloneFlags,
    DefinedDetail,
    DomainState,
    DomainXMLFlags,
    EventType,
    JobEventDetail,
    JobFlags,
    JobOperation,
    ListFlags,
    UndefinedDetail,
)
from .jobs import Job, JobTable
from .lifecycle import check_rename
from .listfilter import accepted_bits, validate
from .records import DomainEvent, DomainRecord, JobInfo


class HostDomain(Protocol):
    """The host-side object of one domain, as listing needs it."""

    name: str
    uuid: str
    bits: int

    def record(self) -> DomainRecord: ...


D = TypeVar("D", bound=HostDomain)
T = TypeVar("T")  # what a job's worker returns


class StatefulHost(DomainIndex[D], Generic[D]):
    """Domains, their events and their jobs; ``lock`` guards all of it."""

    #: the host name this host's VMs hold their disk leases under (None: it takes no leases)
    lease_host: str | None = None

    def __init__(self, label: str) -> None:
        super().__init__()
        self.bus = EventBus(label)
        self.jobs = JobTable(self._job_event)
        self.backups: dict[int, str] = {}  # job id -> backup XML
        self.backup_claims = BackupClaims()  # the backup folders running jobs depend on

    def disk_uses(self) -> list[DomainUse]:
        """The host files every domain uses (for the deletion checks of every open connection)."""
        with self.lock:
            return [self.disk_use(d) for d in self.by_uuid.values()]

    def disk_use(self, dom: D) -> DomainUse:
        raise NotImplementedError

    def emit(self, dom: HostDomain, type: EventType, detail: int = 0, message: str = "",
             name: str | None = None) -> None:
        """Send an event about ``dom``; ``name`` overrides its name (a rename's UNDEFINED names the old one)."""
        name = dom.name if name is None else name
        event = DomainEvent.now(type, detail, name=name, uuid=dom.uuid, message=message)
        self.bus.emit(handle_factory(name, dom.uuid), event)

    def _job_event(self, job: Job, detail: JobEventDetail) -> None:
        event = DomainEvent.now(EventType.JOB, detail, job=job.info(), name=job.domain_name,
                                uuid=job.domain_uuid)
        # a job can outlive its domain (a transient guest saved away): then no handle
        known = job.domain_uuid in self.by_uuid
        self.bus.emit(handle_factory(job.domain_name, job.domain_uuid) if known else None, event)


def handle_factory(name: str, uuid: str) -> Callable[[Any], Any]:
    """Builds each listening connection's own handle for an event's domain."""
    def make(conn: Any) -> Any:
        return conn.domain_handle(name, uuid)
    return make


class StatefulConnection(Connection):
    """Listing, lookups, events, jobs and disk deletion over a :class:`StatefulHost`."""

    host: StatefulHost[Any]

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        diskdelete.track(self)

    def check_open(self) -> None:
        """OPERATION_INVALID once the connection is closed: what the driver's domain handles check first."""
        self._check_open()

    def delete_disks(self, paths: list[str], flags: int = 0) -> list[str]:
        """See :meth:`Connection.delete_disks`; the rules are :mod:`drivers.diskdelete`'s."""
        check_flags(flags, 0, "delete_disks")
        self._check_open()
        return diskdelete.delete(paths, self._forget_missing_disk)

    def check_delete_disks(self, paths: list[str], domain: Domain | None = None) -> dict[str, DriverError]:
        self._check_open()
        ignore = holder = None
        if domain is not None:
            if domain.connection is not self:
                raise invalid_arg(f"{domain!r} is not a domain of {self.uri}")
            ignore = diskdelete.Ignore(self.host, domain.uuid)
            holder = (self.host.lease_host, domain.uuid) if self.host.lease_host else None
        return diskdelete.refusals(paths, ignore, holder)

    def _forget_missing_disk(self, path: str) -> bool:
        """A path without a file: whether this host knew it as a (simulated) disk and forgot it now."""
        return False

    def domain_handle(self, name: str, uuid: str) -> Domain:
        raise NotImplementedError

    def close(self) -> None:
        if not self._closed:
            self.host.bus.deregister_conn(self)
        super().close()

    def register_event_callback(self, fn: Any) -> int:
        self._check_open()
        return self.host.bus.register(self, fn)

    def deregister_event_callback(self, handle: int) -> None:
        if not self.host.bus.deregister(handle):
            raise invalid_arg(f"no event callback is registered with handle {handle!r}")

    def list_all_domains(self, flags: int = ListFlags(0)) -> list[Domain]:
        accepted = accepted_bits(validate(flags))
        self._check_open()
        make = self.domain_handle
        with self.host.lock:
            return [make(d.name, d.uuid) for d in self.host.by_uuid.values() if d.bits in accepted]

    def get_all_domain_stats(self, flags: int = ListFlags(0)) -> list[DomainRecord]:
        accepted = accepted_bits(validate(flags))
        self._check_open()
        with self.host.lock:
            return [d.record() for d in self.host.by_uuid.values() if d.bits in accepted]

    def lookup_by_name(self, name: str) -> Domain:
        self._check_open()
        dom = self.host.find_by_name(name, self.uri)
        return self.domain_handle(dom.name, dom.uuid)

    def lookup_by_uuid(self, uuid: str) -> Domain:
        self._check_open()
        dom = self.host.find_by_uuid(uuid, self.uri)
        return self.domain_handle(dom.name, dom.uuid)

    def list_all_jobs(self) -> list[JobInfo]:
        self._check_open()
        return self.host.jobs.list_all()

    def abort_job(self, job_id: int) -> None:
        """Cancel any running job of this host by id, including domain-less ones (disk creation)."""
        self._check_open()
        job = self.host.jobs.by_id(job_id)
        self.host.jobs.abort(job.domain_uuid, job.domain_name, job.id)

    def run_job(self, job: Job, worker: Callable[[Job], T], asynchronous: bool) -> T | int:
        return self.host.jobs.run(job, worker, asynchronous)

    # -- backups -----------------------------------------------------------------
    def _backup_job(self, folder: str, operation: JobOperation, action: str,
                    uuid: str | None = None, name: str | None = None) -> tuple[backupcatalog.Backup, Job, Claim]:
        """The backup in ``folder`` and a job on it, holding the folders of its chain until the job ends."""
        self._check_open()
        backup = backupcatalog.read(os.path.abspath(folder))
        # a verify reports a broken chain as its finding; a restore cannot start without the whole chain
        why = (backupcatalog.unfinished_reason(backup) if operation is JobOperation.BACKUP_VERIFY
               else backupcatalog.restore_problem(backup))
        if why:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"the backup in {backup.folder} cannot be used: {why}")
        try:
            reads = [b.folder for b in backupcatalog.chain(backup)]
        except DriverError:  # a verify of a broken chain reads what there is
            reads = [backup.folder]
        claim = self.host.backup_claims.claim(reads, f"a {action} of the backup {backup.id}")
        try:
            job = self.host.jobs.begin(uuid or job_key(backup.folder), name or backup.id, operation, action)
        except BaseException:
            claim.release()
            raise
        return backup, job, claim

    def backup_verify(self, folder: str, flags: int = 0) -> int | None:
        flags = check_flags(flags, int(JobFlags.ASYNC), "backup_verify")
        backup, job, claim = self._backup_job(folder, JobOperation.BACKUP_VERIFY, "verify")

        def worker(job: Job) -> None:
            result = backupcatalog.verify(backup, job.progress, lambda: job.cancel_requested)
            backupcatalog.record_verification(backup, result)
            if not result.ok:
                raise DriverError(ErrorCode.OPERATION_FAILED,
                                  f"the backup {backup.id} is damaged: {result.summary()}")

        return self._job_result(self.run_job(job, claim.around(worker), bool(flags & JobFlags.ASYNC)))

    def backup_restore(self, folder: str, name: str, image_dir: str | None = None, flags: int = 0) -> int | None:
        flags = check_flags(flags, int(JobFlags.ASYNC), "backup_restore")
        self._check_open()
        self._check_name_free(name, "the restored VM")
        folder_for_images = image_dir or self.host_facts().image_dir
        if not folder_for_images:
            raise DriverError(ErrorCode.INVALID_ARG, "this host names no image folder; choose one for the restore")
        backup = backupcatalog.read(os.path.abspath(folder))
        dests = backuprestore.new_vm_paths(backup, name, folder_for_images)
        xml = backuprestore.new_vm_xml(backup, name, dests)
        DomainXML.parse(xml).validate()
        for path, _ in dests.values():
            if os.path.lexists(path):
                raise DriverError(ErrorCode.OPERATION_INVALID, f"{path} already exists; nothing was overwritten")
        backup, job, claim = self._backup_job(folder, JobOperation.BACKUP_RESTORE, "restore", name=name)

        def worker(job: Job) -> None:
            os.makedirs(folder_for_images, mode=0o700, exist_ok=True)
            parts = backuprestore.copy_images(backup, dests, job.progress, lambda: job.cancel_requested)
            try:
                job.raise_if_cancelled()
                backuprestore.publish(parts, replace=False)
                self.define_xml(xml)
            except BaseException:
                for part, dest in parts:
                    for path in (part, dest):
                        try:
                            os.unlink(path)
                        except FileNotFoundError:
                            pass
                raise

        return self._job_result(self.run_job(job, claim.around(worker), bool(flags & JobFlags.ASYNC)))

    def backup_restore_onto(self, folder: str, domain: str, flags: int = 0) -> int | None:
        flags = check_flags(flags, int(JobFlags.ASYNC), "backup_restore_onto")
        self._check_open()
        dom = self.lookup_by_name(domain)
        definition = DomainXML.parse(dom.xml_desc(int(DomainXMLFlags.INACTIVE)))
        # the job makes the domain busy: from here on nothing starts it until the restore ends
        backup, job, claim = self._backup_job(folder, JobOperation.BACKUP_RESTORE, "restore", dom.uuid, dom.name)
        try:
            if dom.state()[0] is not DomainState.SHUTOFF:
                raise DriverError(ErrorCode.OPERATION_INVALID, f"'{domain}' is not shut off; shut it down before "
                                  "restoring a backup onto its disks")
            if dom.has_managed_save():
                raise DriverError(ErrorCode.OPERATION_INVALID, f"'{domain}' has a saved state that belongs to its "
                                  "current disks; discard it before restoring a backup onto them")
            if dom.snapshot_count():
                raise DriverError(ErrorCode.OPERATION_INVALID, f"'{domain}' has snapshots kept in its current "
                                  "disks; delete them before restoring a backup onto them")
            dests = backuprestore.onto_paths(backup, definition)
        except DriverError as exc:
            claim.release()
            self.host.jobs.end(job, exc)
            raise

        def worker(job: Job) -> None:
            dropping = backuprestore.drop_cached([path for path, _ in dests.values()])
            try:
                parts = backuprestore.copy_images(backup, dests, job.progress, lambda: job.cancel_requested)
            finally:
                dropping.join()
            try:
                job.raise_if_cancelled()
            except BaseException:
                for part, _ in parts:
                    os.unlink(part)
                raise
            backuprestore.publish(parts, replace=True)

        return self._job_result(self.run_job(job, claim.around(worker), bool(flags & JobFlags.ASYNC)))

    def backup_prune(self, folders: list[str], flags: int = 0) -> int | None:
        flags = check_flags(flags, int(JobFlags.ASYNC), "backup_prune")
        self._check_open()
        paths = check_path_list(folders)
        if not paths:
            raise invalid_arg("name at least one backup folder to remove")
        doomed = [backupcatalog.read(os.path.abspath(p)) for p in paths]
        homes = sorted({backupprune.siblings(b) for b in doomed})
        family = backupcatalog.find(homes, finished_only=False)  # a child left unfinished still depends
        names = sorted({b.domain_name for b in doomed})
        domains = {b.domain_uuid for b in doomed}
        # the removed backups, and those of their domains beside them: the children a merge rewrites
        changes = [b.folder for b in doomed] + [b.folder for b in family if b.domain_uuid in domains]
        claim = self.host.backup_claims.claim(changes, "the removal of the backup " + ", ".join(b.id for b in doomed),
                                              alone=True)
        try:
            job = self.host.jobs.begin(job_key(homes[0]), ", ".join(names), JobOperation.BACKUP_PRUNE,
                                       "remove backups")
        except BaseException:
            claim.release()
            raise

        def worker(job: Job) -> None:
            backupprune.prune(doomed, family, job.progress, lambda: job.cancel_requested)

        return self._job_result(self.run_job(job, claim.around(worker), bool(flags & JobFlags.ASYNC)))

    def _check_name_free(self, name: str, what: str) -> None:
        try:
            self.lookup_by_name(name)
        except DriverError as exc:
            if exc.code is not ErrorCode.NO_DOMAIN:
                raise
        else:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"a domain named '{name}' already exists; "
                              f"choose another name for {what}")

    def clone_domain(self, domain: str | Domain, new_name: str, flags: int = 0) -> int | None:
        """Copy a shut-off domain to a new one ``new_name`` as a CLONE job on the original (see drivers.clone;
        the qemu driver clones a running one too).

        ``CloneFlags.LINKED``: the clone's disks are overlays on the original's
        images, which become its read-only base. The original stays busy (it
        cannot start) while its images are copied. OPERATION_INVALID for a
        taken name or a domain that is not shut off.
        """
        flags = check_flags(flags, int(CloneFlags.LINKED | JobFlags.ASYNC), "clone_domain")
        self._check_open()
        dom = domain if isinstance(domain, Domain) else self.lookup_by_name(domain)
        self._check_name_free(new_name, "the clone")
        linked = bool(flags & CloneFlags.LINKED)
        job = self.host.jobs.begin(dom.uuid, dom.name, JobOperation.CLONE, "clone")
        try:  # the job makes the original busy: from here on nothing starts it until the clone is made
            if dom.state()[0] is not DomainState.SHUTOFF:
                raise DriverError(ErrorCode.OPERATION_INVALID, f"'{dom.name}' is not shut off; shut it down to "
                                  "clone it")
            if linked and dom.has_managed_save():
                raise DriverError(ErrorCode.OPERATION_INVALID, f"'{dom.name}' has a saved state that goes on "
                                  "writing its disks; start it and shut it down (or discard the saved state) "
                                  "before its disks become a linked clone's read-only base")
            original = DomainXML.parse(dom.xml_desc(int(DomainXMLFlags.INACTIVE)))
            copy = clone.plan(original, new_name, linked, self._disk_exists)
            self._clone_extras(dom.uuid, copy)
        except DriverError as exc:
            self.host.jobs.end(job, exc)
            raise

        def worker(job: Job) -> None:
            parts = self._write_clone_images(dataclasses.replace(copy, files=[]), job)
            self._complete_clone(copy, job, parts, [])
            if linked:
                self._redefine_busy(dom, clone.as_base(original, copy))

        return self._job_result(self.run_job(job, worker, bool(flags & JobFlags.ASYNC)))

    def _complete_clone(self, copy: clone.ClonePlan, job: Job, parts: list[tuple[str, str]],
                        published: list[str]) -> None:
        """Copy the extra files and folders, name every copy, define the clone; on failure remove all of it.

        ``parts`` are the disk copies still under their temporary names, ``published`` those already named.
        """
        made = [d for d in copy.dirs if not os.path.isdir(d)]
        try:
            for folder in made:
                os.makedirs(folder, mode=0o700)
            parts = parts + clone.write_images(dataclasses.replace(copy, disks=[]), lambda _d, _t: None,
                                               lambda: job.cancel_requested)
            job.raise_if_cancelled()
            clone.finish(parts, published)
            clone.copy_trees(copy)
            self.define_xml(copy.definition.to_string())
        except BaseException:
            clone.discard([part for part, _ in parts] + published)
            clone.remove_folders([dest for _, dest in copy.trees] + made[::-1])
            raise

    def _disk_exists(self, path: str) -> bool:
        """Whether a disk image is there to be cloned (a file; a simulated host knows more)."""
        return os.path.isfile(path)

    def _write_clone_images(self, copy: clone.ClonePlan, job: Job) -> list[tuple[str, str]]:
        """Write the clone's images as ``.part`` files (see clone.write_images)."""
        return clone.write_images(copy, job.progress, lambda: job.cancel_requested)

    def _clone_extras(self, uuid: str, copy: clone.ClonePlan) -> None:
        """Add what else the driver keeps of domain ``uuid`` to ``copy`` (files, folders); nothing by default."""

    def _redefine_busy(self, dom: Domain, definition: DomainXML) -> None:
        """Replace the persistent definition of ``dom`` while its own job runs (DEFINED/UPDATED)."""
        raise NotImplementedError

    @staticmethod
    def _job_result(outcome: object) -> int | None:
        return outcome if isinstance(outcome, int) else None

    def migration_job(self, dom: Domain, action: str) -> Job:
        self._check_open()
        with self.host.lock:
            hd = self.host.get(dom.uuid, dom.name)
            return self.host.jobs.begin(hd.uuid, hd.name, JobOperation.MIGRATION_OUT, action)


class StatefulDomain(Domain):
    """Job queries of a domain on a :class:`StatefulConnection`."""

    _conn: StatefulConnection

    @property
    def _host(self) -> StatefulHost[Any]:
        return self._conn.host

    def get_job_info(self, job_id: int = 0) -> JobInfo:
        self._conn._check_open()
        return self._host.jobs.find(self._uuid, self._name, job_id).info()

    def abort_job(self, job_id: int = 0) -> None:
        self._conn._check_open()
        self._host.jobs.abort(self._uuid, self._name, job_id)

    def backup_get_xml_desc(self, job_id: int = 0) -> str:
        self._conn._check_open()
        job = self._host.jobs.find(self._uuid, self._name, job_id)
        xml = self._host.backups.get(job.id)
        if xml is None:
            raise DriverError(ErrorCode.NO_JOB, f"job {job.id} of '{self._name}' is not a backup")
        return xml

    def _idle(self, action: str) -> Any:
        """The host-side domain, checked free of running jobs (each driver's busy rule)."""
        raise NotImplementedError

    def rename(self, new_name: str, flags: int = 0) -> None:
        """libvirt's refusals and events, alike on both drivers: the config gets the new
        name, the index and this handle follow; :meth:`_store_rename` makes it last."""
        check_flags(flags, 0, "rename")
        host = self._host
        with host.lock:
            dom = self._idle("rename")
            name = check_rename(dom, new_name, host.by_name)
            old_name, old_config = dom.name, dom.config
            config = old_config.copy()
            config.name = name
            dom.config = config
            host.rename(dom, name)
            self._store_rename(dom, old_name, old_config)
            dom.touch()
            self._name = name
            host.emit(dom, EventType.UNDEFINED, UndefinedDetail.RENAMED, name=old_name)
            host.emit(dom, EventType.DEFINED, DefinedDetail.RENAMED)

    def _store_rename(self, dom: Any, old_name: str, old_config: DomainXML) -> None:
        """Write a rename to disk; on failure put ``old_name`` back and raise. In memory: nothing."""
