"""The public shape of a connection, a domain and a snapshot.

Drivers subclass these. Every method a driver does not override fails with
NO_SUPPORT naming the API, which is what ``supports_feature`` lets callers
avoid. The API is synchronous and thread-safe, like libvirt's C API.
"""
from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from .errors import DriverError, ErrorCode, no_support
from .flags import Feature, InterfaceSource, ListFlags, MigrateFlags
from .guestagent import GuestInfo, GuestInterface
from .hostfacts import HostFacts
from .jobs import Job
from .records import DomainInfo, DomainRecord, JobInfo

T = TypeVar("T")  # what a job's worker returns


class Console:
    """A byte stream to a domain's serial port (what a terminal view shows and types into).

    ``read`` returns what the guest wrote since the last read, or ``b""`` when
    nothing came within ``timeout``; once the guest side is gone it raises
    OPERATION_FAILED. ``history`` is what the port printed before the console
    was opened (scrollback), so a view opened late still shows the boot.
    """

    def read(self, timeout: float | None = None) -> bytes:
        raise no_support("serial console")

    def write(self, data: bytes) -> None:
        raise no_support("serial console input")

    def history(self) -> bytes:
        return b""

    def close(self) -> None:
        """Idempotent; the guest keeps running."""

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Screenshot:
    """One frame of a domain's display, encoded as ``mime`` (PPM or PNG)."""

    mime: str
    data: bytes
    width: int
    height: int


class OfDomain:
    """Something named that belongs to one domain (a snapshot, a checkpoint); compares by kind, domain, name."""

    #: what a person calls it ("Snapshot"): its repr, and no snapshot equals a checkpoint of the same name
    KIND: ClassVar[str] = "object"

    def __init__(self, domain: Domain, name: str) -> None:
        self._domain = domain
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def domain(self) -> Domain:
        return self._domain

    def __repr__(self) -> str:
        return f"<{self.KIND} {self._name!r} of {self._domain.name!r}>"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, OfDomain) and other.KIND == self.KIND
                and (other._domain, other._name) == (self._domain, self._name))

    def __hash__(self) -> int:
        return hash((self._domain, self._name))


class Snapshot(OfDomain):
    """A named snapshot of one domain."""

    KIND = "Snapshot"

    def xml_desc(self) -> str:
        raise no_support("snapshot XML")

    def revert(self, flags: int = 0) -> int | None:
        """Go back to the snapshot. With ``JobFlags.ASYNC`` it runs as a SNAPSHOT_REVERT job
        and its id is returned at once (the busy rule holds meanwhile; ``abort_job`` refuses
        it, since QEMU cannot stop a load half-way); without, the call waits and returns None."""
        raise no_support("snapshot revert")

    def delete(self, flags: int = 0) -> int | None:
        """Remove the snapshot (its children move up to its parent). With ``JobFlags.ASYNC``
        it runs as a SNAPSHOT_DELETE job whose id is returned, like :meth:`revert`."""
        raise no_support("snapshot delete")

    def is_current(self) -> bool:
        return False

    def parent_name(self) -> str | None:
        return None


class Checkpoint(OfDomain):
    """A named point in time of one domain's disks: an incremental backup copies what changed since."""

    KIND = "Checkpoint"

    def xml_desc(self, flags: int = 0) -> str:
        """libvirt's ``<domaincheckpoint>``: name, parent, creationTime, the disks it tracks."""
        raise no_support("checkpoint XML")

    def parent_name(self) -> str | None:
        """The checkpoint taken before this one, None for the first."""
        raise no_support("checkpoints")

    def delete(self, flags: int = 0) -> None:
        """Remove the checkpoint; its changes go to its parent, so backups since the parent stay whole."""
        raise no_support("checkpoint delete")


class Domain:
    """A handle on one domain of one connection; cheap, compares by connection and uuid."""

    def __init__(self, conn: Connection, name: str, uuid: str) -> None:
        self._conn = conn
        self._name = name
        self._uuid = uuid

    @property
    def connection(self) -> Connection:
        return self._conn

    @property
    def name(self) -> str:
        return self._name

    @property
    def uuid(self) -> str:
        return self._uuid

    @property
    def id(self) -> int | None:
        raise no_support("domain id")

    def __repr__(self) -> str:
        return f"<Domain {self._name!r} {self._uuid} on {self._conn.uri}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Domain) and other._conn is self._conn and other._uuid == self._uuid

    def __hash__(self) -> int:
        return hash((id(self._conn), self._uuid))

    # queries
    def state(self) -> tuple[Any, int]:
        raise no_support("domain state")

    def info(self) -> DomainInfo:
        rec = self.record()
        return DomainInfo(rec.state, rec.max_memory_kib, rec.memory_kib, rec.vcpus, rec.cpu_time_ns)

    def record(self) -> DomainRecord:
        raise no_support("domain stats")

    def is_active(self) -> bool:
        return self.id is not None

    def is_persistent(self) -> bool:
        return self.record().persistent

    def has_managed_save(self) -> bool:
        return self.record().managed_save

    def snapshot_count(self) -> int:
        return self.record().snapshot_count

    @property
    def autostart(self) -> bool:
        return self.record().autostart

    @autostart.setter
    def autostart(self, value: bool) -> None:
        self.set_autostart(value)

    def set_autostart(self, value: bool) -> None:
        raise no_support("autostart")

    def xml_desc(self, flags: int = 0) -> str:
        raise no_support("domain XML")

    # lifecycle
    def create(self, flags: int = 0) -> int | None:
        raise no_support("start")

    def shutdown(self) -> None:
        raise no_support("shutdown")

    def shutdown_flags(self, flags: int = 0) -> None:
        """Ask the guest to power off the way ``flags`` (ShutdownFlags) say; 0 is :meth:`shutdown`."""
        if flags:
            raise no_support("choosing how the guest is asked to shut down")
        self.shutdown()

    def destroy(self) -> None:
        raise no_support("destroy")

    def suspend(self) -> None:
        raise no_support("suspend")

    def resume(self) -> None:
        raise no_support("resume")

    def reboot(self, flags: int = 0) -> None:
        """Ask the guest to reboot (gracefully: it shuts down, then starts again); ``flags`` as
        :meth:`shutdown_flags` (0: the guest agent when it answers, else the ACPI power button)."""
        raise no_support("reboot")

    def reset(self) -> None:
        """Reset the guest at once, like the reset button (virDomainReset): unsaved guest state is lost."""
        raise no_support("reset")

    def undefine(self, flags: int = 0) -> None:
        raise no_support("undefine")

    def rename(self, new_name: str, flags: int = 0) -> None:
        """Give an inactive persistent domain a new name (Feature.RENAME), as virDomainRename.

        OPERATION_INVALID while it is active, transient, busy with a job, has
        snapshots, or when ``new_name`` is its own or another domain's name;
        INVALID_ARG for a name ``domxml.validate_name`` rejects. Emits UNDEFINED
        (RENAMED) under the old name, then DEFINED (RENAMED) under the new one;
        this handle's ``name`` follows.
        """
        raise no_support("renaming a domain")

    def update_device_flags(self, xml: str, flags: int = 0) -> None:
        """Change a device in place (Feature.CHANGE_MEDIA): a CD-ROM's medium, as virDomainUpdateDeviceFlags.

        ``xml`` is a ``<disk device='cdrom'>`` naming the drive by its target;
        its ``<source>`` is the new medium, none ejects it (the drive stays).
        ``DeviceModifyFlags`` LIVE / CONFIG (CURRENT: the running domain if it
        runs, else the persistent definition), FORCE opens a tray the guest
        locked. INVALID_ARG for a medium that does not exist or cannot be read.
        """
        raise no_support("changing removable media")

    # the guest agent (drivers.guestagent)
    def agent_connected(self) -> bool | None:
        """Whether the guest agent's port is open in the running guest; None when this driver cannot tell."""
        return None

    def interface_addresses(self, source: int = InterfaceSource.AGENT) -> list[GuestInterface]:
        """The guest's network interfaces and their addresses (libvirt's virDomainInterfaceAddresses).

        AGENT_UNRESPONSIVE when the guest agent is not connected or does not answer in time.
        """
        raise no_support("reading the guest's addresses")

    def guest_info(self, types: int = 0) -> GuestInfo:
        """Host name, operating system and file systems as the guest agent reports them
        (``types``: GuestInfoTypes bits, 0 for all); AGENT_UNRESPONSIVE without an agent that answers."""
        raise no_support("reading guest information")

    def fs_freeze(self, mountpoints: list[str] | None = None) -> int:
        """Freeze the guest's file systems (all, or those mounted at ``mountpoints``) through the
        guest agent: their data is on the disks and no write reaches them until :meth:`fs_thaw`.
        Returns how many were frozen."""
        raise no_support("freezing the guest's file systems")

    def fs_thaw(self, mountpoints: list[str] | None = None) -> int:
        """Let the guest write to its file systems again; returns how many were thawed."""
        raise no_support("thawing the guest's file systems")

    def fs_frozen(self) -> bool:
        """Whether the guest's file systems are frozen now, as its agent says."""
        raise no_support("asking whether the guest's file systems are frozen")

    # save and snapshots
    def managed_save(self, flags: int = 0) -> int | None:
        raise no_support("managed save")

    def managed_save_remove(self) -> None:
        raise no_support("managed save removal")

    def save(self, path: str, flags: int = 0) -> int | None:
        raise no_support("save")

    def snapshot_create(self, xml_or_name: str, flags: int = 0) -> Any:
        raise no_support("snapshots")

    def list_all_snapshots(self) -> list[Snapshot]:
        raise no_support("snapshots")

    def snapshot_lookup(self, name: str) -> Snapshot:
        for snap in self.list_all_snapshots():
            if snap.name == name:
                return snap
        raise DriverError(ErrorCode.NO_SNAPSHOT, f"domain '{self.name}' has no snapshot '{name}'")

    # console and display
    def open_console(self) -> Console:
        """A stream to the first serial port (Feature.SERIAL_CONSOLE)."""
        raise no_support("serial console")

    def screenshot(self) -> Screenshot:
        """The current picture of the first display (Feature.SCREENSHOT)."""
        raise no_support("screenshots")

    def open_graphics(self, index: int = 0) -> socket.socket:
        """A connected stream to display ``index`` of the running domain (libvirt's virDomainOpenGraphicsFD).

        For VNC it speaks RFB from the server's first message on. The caller owns the socket.
        OPERATION_INVALID when the domain is not running, NO_SUPPORT when it has no such display.
        """
        raise no_support("a display stream", "An external VNC viewer can still open the display")

    # jobs
    def backup_begin(self, backup_xml: str, flags: int = 0, checkpoint_xml: str | None = None) -> int:
        """Start a push backup; ``<incremental>NAME</incremental>`` copies only the changes since that
        checkpoint, and ``checkpoint_xml`` (``<domaincheckpoint>``) creates a checkpoint at the backup's
        point in time, together with its start. A checkpoint that cannot be trusted any more makes the
        backup a full one; the job's note says why."""
        raise no_support("backup")

    # checkpoints (Feature.INCREMENTAL_BACKUP)
    def checkpoint_create(self, xml: str, flags: int = 0) -> Checkpoint:
        raise no_support("checkpoints")

    def list_all_checkpoints(self, flags: int = 0) -> list[Checkpoint]:
        raise no_support("checkpoints")

    def checkpoint_lookup_by_name(self, name: str, flags: int = 0) -> Checkpoint:
        for cp in self.list_all_checkpoints():
            if cp.name == name:
                return cp
        raise DriverError(ErrorCode.NO_DOMAIN_CHECKPOINT, f"domain '{self.name}' has no checkpoint '{name}'")

    def backup_get_xml_desc(self, job_id: int = 0) -> str:
        raise no_support("backup")

    def get_job_info(self, job_id: int = 0) -> JobInfo:
        raise no_support("job info")

    def abort_job(self, job_id: int = 0) -> None:
        raise no_support("job abort")

    def job_set_speed(self, bytes_per_second: int, job_id: int = 0) -> None:
        """Throttle a running backup or outgoing migration (0 = unlimited)."""
        raise no_support("changing a job's speed")

    def live_migration_problem(self) -> str | None:
        """Why this running domain cannot keep running while its memory is copied, or None.

        A driver that knows its hypervisor loses guest writes during a live copy
        answers the reason here and migrates such a domain paused instead (unless
        ``MigrateFlags.UNSAFE``); the GUI shows the sentence before the user starts.
        """
        return None

    def migrate(self, dest_conn: Connection, flags: int = MigrateFlags.LIVE,
                params: dict[str, Any] | None = None) -> Domain | int:
        from .migration import migrate
        return migrate(self, dest_conn, flags, params)


class Connection:
    """An open connection to one hypervisor; a context manager."""

    #: Features this driver implements; ``supports_feature`` answers from it.
    FEATURES: frozenset[Feature] = frozenset()

    def __init__(self, uri: str) -> None:
        self._uri = uri
        self._closed = False

    @property
    def uri(self) -> str:
        return self._uri

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._uri}{' closed' if self._closed else ''}>"

    def close(self) -> None:
        """Idempotent; the hypervisor (and its VMs) carry on without us."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"connection {self._uri} is closed")

    def supports_feature(self, feature: Feature | int) -> bool:
        try:
            return Feature(feature) in self.FEATURES
        except ValueError:
            return False

    def hostname(self) -> str:
        import socket
        return socket.gethostname()

    def host_facts(self) -> HostFacts:
        """What this host offers a new domain: default image folder, KVM, firmware, name, locality.

        Cheap enough to ask each time the New VM wizard opens; a driver that
        cannot tell fails NO_SUPPORT and the caller falls back to its defaults.
        """
        raise no_support("describing the host", "Type the disk path and domain type yourself.")

    def same_host(self, other: Connection) -> bool:
        """True when both connections manage one state (migration must refuse)."""
        return other is self

    # domains
    def list_all_domains(self, flags: int = ListFlags(0)) -> list[Domain]:
        raise no_support("list_all_domains")

    def get_all_domain_stats(self, flags: int = ListFlags(0)) -> list[DomainRecord]:
        raise no_support("get_all_domain_stats")

    def lookup_by_name(self, name: str) -> Domain:
        raise no_support("lookup_by_name")

    def lookup_by_uuid(self, uuid: str) -> Domain:
        raise no_support("lookup_by_uuid")

    def define_xml(self, xml: str) -> Domain:
        raise no_support("define_xml")

    def create_xml(self, xml: str, flags: int = 0) -> Domain:
        raise no_support("create_xml")

    def restore(self, path: str, flags: int = 0) -> int | None:
        raise no_support("restore")

    def list_all_jobs(self) -> list[JobInfo]:
        raise no_support("list_all_jobs")

    def abort_job(self, job_id: int) -> None:
        """Cancel a running job by id, whatever it belongs to (a disk creation has no domain)."""
        raise no_support("cancelling jobs by id")

    # backups (drivers.backupcatalog)
    def backup_verify(self, folder: str, flags: int = 0) -> int | None:
        """Check the catalogued backup in ``folder`` (checksums, qemu-img check) as a BACKUP_VERIFY job.

        The outcome and its time are recorded in the backup's manifest; the job
        fails naming each damaged image. ``JobFlags.ASYNC`` returns the job id.
        """
        raise no_support("verifying backups")

    def backup_restore(self, folder: str, name: str, image_dir: str | None = None, flags: int = 0) -> int | None:
        """Restore the backup in ``folder`` as a new VM ``name`` (new uuid and MACs), a BACKUP_RESTORE job.

        The images are copied into ``image_dir`` (default: the host's image
        folder); the VM is defined once every copy is complete.
        """
        raise no_support("restoring backups")

    def backup_restore_onto(self, folder: str, domain: str, flags: int = 0) -> int | None:
        """Restore the backup in ``folder`` onto the disks of the shut-off VM ``domain``, a BACKUP_RESTORE job.

        The old disks stay until every copy is complete, then each is replaced
        atomically; a cancel or failure leaves them untouched and no partial file.
        """
        raise no_support("restoring backups")

    def backup_prune(self, folders: list[str], flags: int = 0) -> int | None:
        """Delete the catalogued backups in ``folders`` as one BACKUP_PRUNE job, newest first.

        A backup that an incremental staying behind depends on is first merged
        into it (the child is rebased past it and its manifest rewritten), so
        every backup left still restores; a cancel leaves them all restorable.
        """
        raise no_support("removing backups")

    # storage
    def clone_domain(self, domain: str | Domain, new_name: str, flags: int = 0) -> int | None:
        """Copy a domain to a new one (Feature.CLONE): new name, uuid and MACs, its own disks.

        A CLONE job on the original (``JobFlags.ASYNC``: returns its id); ``CloneFlags.LINKED``
        makes the clone's disks overlays on the original's images, which become read-only (a shut-off
        original only). Drivers that can copy a running guest's disks at one instant clone it too.
        """
        raise no_support("cloning domains")

    def create_disk(self, path: str, size_bytes: int, fmt: str = "qcow2", flags: int = 0) -> int | None:
        """Create an empty disk image at the absolute ``path`` as a DISK_CREATE job (Feature.DISK_CREATE).

        ``fmt`` is qcow2 or raw; ``flags``: ``DiskCreateFlags.PREALLOCATE``
        allocates every byte now (the job shows progress, cancel removes the
        file), ``JobFlags.ASYNC`` returns the job id at once (else None when
        done). INVALID_ARG for a relative path, a missing folder, a bad size or
        format; OPERATION_INVALID when the file exists.
        """
        raise no_support("creating disk images", "Create the disk file on the host, then pick it.")

    def storage_visible(self, paths: list[str]) -> dict[str, bool | None]:
        """Whether this host can see each disk file: True, False, or None (cannot tell).

        The migration dialog's compatibility check asks the destination this
        about the source's disks; drivers without a way to know answer None.
        """
        self._check_open()
        return {path: None for path in paths}

    def delete_disks(self, paths: list[str], flags: int = 0) -> list[str]:
        """Delete the disk image files ``paths`` (Feature.DELETE_DISKS); returns those removed.

        The only way vmgui deletes a disk. All or nothing is refused, before
        anything is removed: RESOURCE_BUSY, naming the holder, for a file a
        running VM on this machine holds a lease on (whatever root, connection
        or process) or another defined domain uses; INVALID_ARG for what is no
        image file (a symlink, a directory, a device, a system file). A missing
        file is not an error and is not in the result. Backing files are never
        touched: only the files named.
        """
        raise no_support("deleting disk files", "Delete the files on the host itself.")

    def check_delete_disks(self, paths: list[str], domain: Domain | None = None) -> dict[str, DriverError]:
        """Why :meth:`delete_disks` would refuse each path now; a path not in the result would be deleted.

        Ask before undefining: ``domain`` (of this connection) is the one about
        to be deleted, whose own definition and lease do not count against its
        disks. Changes nothing.
        """
        self._check_open()
        error = no_support("deleting disk files", "Delete the files on the host itself.")
        return {path: error for path in paths}

    def register_event_callback(self, fn: Any) -> int:
        raise no_support("events")

    def deregister_event_callback(self, handle: int) -> None:
        raise no_support("events")

    def run_job(self, job: Job, worker: Callable[[Job], T], asynchronous: bool) -> T | int:
        raise no_support("jobs")
