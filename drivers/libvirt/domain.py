"""Domain and snapshot handles of the libvirt bridge."""
from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from .. import media
from ..base import Checkpoint, Domain, Snapshot
from ..diskimage import check_new_file
from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode, check_flags, no_support
from ..flags import (
    DomainState,
    DomainXMLFlags,
    EventType,
    Feature,
    GuestInfoTypes,
    InterfaceSource,
    JobFlags,
    JobOperation,
    MigrateFlags,
    SaveFlags,
    ShutdownFlags,
    SnapshotEventDetail,
    UndefineFlags,
)
from ..guestagent import GuestInfo, GuestInterface
from ..jobs import Job
from ..migration import choose_protocol, live_copy_problem
from ..records import DomainEvent, DomainInfo, DomainRecord, JobInfo
from ..sshtunnel import SshTarget, open_tunnel, vnc_endpoint
from ..xmlutil import parse as parse_xml
from . import guest
from .jobs import JOB_BOUNDED, JOB_UNBOUNDED, operation_of

if TYPE_CHECKING:
    from .connection import LibvirtConnection

log = logging.getLogger(__name__)

_SAVE_FLAGS = int(SaveFlags.BYPASS_CACHE | SaveFlags.RUNNING | SaveFlags.PAUSED)
# virDomainSnapshotCreateFlags that make sense through vmgui (REDEFINE..VALIDATE)
_SNAPSHOT_CREATE_FLAGS = 0x3FF
_MIGRATE_FLAGS = (1 << 21) - 1  # every virDomainMigrateFlags bit up to ZEROCOPY
_OPEN_GRAPHICS_SKIPAUTH = 1  # VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH
_SHUTDOWN_FLAGS = int(ShutdownFlags.ACPI_POWER_BTN | ShutdownFlags.GUEST_AGENT)
_GUEST_INFO = int(GuestInfoTypes.OS | GuestInfoTypes.HOSTNAME | GuestInfoTypes.FILESYSTEM)


def _state(value: int) -> DomainState:
    try:
        return DomainState(value)
    except ValueError:
        return DomainState.NOSTATE


class LibvirtDomain(Domain):
    """A domain of a libvirt connection, found again by uuid after a reconnect."""

    _conn: LibvirtConnection

    def __init__(self, conn: LibvirtConnection, name: str, uuid: str, vdom: Any = None) -> None:
        super().__init__(conn, name, uuid.lower())
        self._vdom = vdom
        self._vgen = conn.generation() if vdom is not None else -1

    # -- plumbing -------------------------------------------------------------
    def vdom(self) -> Any:
        """The ``libvirt.virDomain`` (looked up again on a new libvirt connection)."""
        conn = self._conn
        vconn = conn.vconn()
        if self._vdom is None or self._vgen != conn.generation():
            self._vdom = conn.call(f"domain '{self._name}'", vconn.lookupByUUIDString, self._uuid)
            self._vgen = conn.generation()
        return self._vdom

    def _live_vdom(self, strict: bool = False) -> Any:
        """For job polling: the virDomain on the current libvirt connection, or None
        (never reconnects: polling must not revive a lost connection). ``strict``
        lets NO_DOMAIN through, so the poller can end a job whose domain vanished."""
        conn = self._conn
        if not conn.connected:
            return None
        try:
            return self.vdom()
        except DriverError as exc:
            if strict and exc.code is ErrorCode.NO_DOMAIN:
                raise
            return None

    def _poll_vdom(self) -> Any:
        return self._live_vdom(strict=True)

    def _call(self, what: str, method: str, *args: Any) -> Any:
        vdom = self.vdom()
        return self._conn.call(f"{what} '{self._name}'", getattr(vdom, method), *args)

    def _idle(self, action: str) -> None:
        """vmgui's busy rule: refuse state changes while a job runs on the domain.

        Jobs started by other clients count too: they are adopted (given an id) first,
        so the caller gets OPERATION_INVALID naming the job at once instead of libvirt
        blocking for up to 30 s and then timing out."""
        conn = self._conn
        conn._check_open()
        if conn.jobs.current(self._uuid) is None and conn.tracker.stats_supported:
            self._adopt_running_job()
        conn.jobs.check_idle(self._uuid, self._name, action)

    def _job(self, operation: JobOperation, action: str, call: Any, asynchronous: bool,
             result: Any = None) -> Any:
        """Run the blocking libvirt ``call()`` as a vmgui job (progress polled from jobStats)."""
        conn = self._conn
        job = conn.jobs.begin(self._uuid, self._name, operation, action)
        tracked = conn.tracker.track(job, self._poll_vdom)

        def worker(job: Job) -> Any:
            value = call()
            final = conn.tracker.final_for(tracked, self._live_vdom())
            if final:
                conn.tracker.apply(job, final)
            return result(value) if result is not None else None

        return conn.jobs.run(job, worker, asynchronous, lambda _e: conn.tracker.untrack(job))

    # -- queries --------------------------------------------------------------
    @property
    def id(self) -> int | None:
        conn = self._conn
        vconn = conn.vconn()
        # virDomainGetID answers from the handle: look up again for a current id.
        fresh = conn.call(f"domain '{self._name}'", vconn.lookupByUUIDString, self._uuid)
        self._vdom, self._vgen = fresh, conn.generation()
        dom_id = fresh.ID()
        return None if dom_id < 0 else dom_id

    def state(self) -> tuple[DomainState, int]:
        state, reason = self._call("state of", "state", 0)
        return _state(state), int(reason)

    def info(self) -> DomainInfo:
        state, max_mem, mem, vcpus, cpu = self._call("info of", "info")
        return DomainInfo(_state(state), int(max_mem), int(mem), int(vcpus), int(cpu))

    def record(self) -> DomainRecord:
        """One domain's row: a fresh lookup (for the id), its stats in one call, and the four
        flags libvirt's stats lack: six round trips (the table itself uses the bulk path)."""
        conn = self._conn
        vconn = conn.vconn()
        fresh = conn.call(f"domain '{self._name}'", vconn.lookupByUUIDString, self._uuid)
        self._vdom, self._vgen = fresh, conn.generation()
        what = f"stats of '{self._name}'"
        try:
            (_vd, stats), = conn.call(what, vconn.domainListGetStats, [fresh], 0xF, 0)
        except (DriverError, ValueError):
            stats = {}
        if "balloon.maximum" in stats:
            state, reason = stats.get("state.state", 0), stats.get("state.reason", 0)
            max_mem, mem = stats["balloon.maximum"], stats.get("balloon.current", stats["balloon.maximum"])
            vcpus, cpu = stats.get("vcpu.current", 0), stats.get("cpu.time", 0)
        else:  # state-only stats (libvirt's test driver)
            state, max_mem, mem, vcpus, cpu = conn.call(what, fresh.info)
            reason = conn.call(what, fresh.state, 0)[1]
        dom_id = fresh.ID()
        return DomainRecord(
            name=self._name, uuid=self._uuid, id=dom_id if dom_id >= 0 else None, state=_state(state),
            reason=int(reason), persistent=bool(conn.call(what, fresh.isPersistent)),
            autostart=bool(conn.call(what, fresh.autostart)),
            managed_save=bool(conn.call(what, fresh.hasManagedSaveImage, 0)),
            snapshot_count=int(conn.call(what, fresh.snapshotNum, 0)),
            memory_kib=int(mem), max_memory_kib=int(max_mem), vcpus=int(vcpus), cpu_time_ns=int(cpu),
            memory_used_kib=stats.get("balloon.rss"))

    def is_active(self) -> bool:
        return bool(self._call("state of", "isActive"))

    def is_persistent(self) -> bool:
        return bool(self._call("state of", "isPersistent"))

    def has_managed_save(self) -> bool:
        return bool(self._call("managed save of", "hasManagedSaveImage", 0))

    def snapshot_count(self) -> int:
        return int(self._call("snapshots of", "snapshotNum", 0))

    @property
    def autostart(self) -> bool:
        return bool(self._call("autostart of", "autostart"))

    @autostart.setter
    def autostart(self, value: bool) -> None:
        self.set_autostart(value)

    def set_autostart(self, value: bool) -> None:
        self._call("autostart of", "setAutostart", 1 if value else 0)

    def xml_desc(self, flags: int = 0) -> str:
        flags = check_flags(flags, 0xF, "xml_desc")
        return self._call("XML of", "XMLDesc", flags)

    # -- lifecycle --------------------------------------------------------------
    def create(self, flags: int = 0) -> int | None:
        flags = check_flags(flags, 0x3F | int(JobFlags.ASYNC), "create")
        self._idle("start")
        if flags & JobFlags.ASYNC:
            vdom = self.vdom()
            plain = flags & ~int(JobFlags.ASYNC)
            return self._job(JobOperation.START, "start",
                             lambda: self._conn.call(f"start of '{self._name}'", vdom.createWithFlags, plain),
                             True)
        self._call("start of", "createWithFlags", flags)
        return None

    def shutdown(self) -> None:
        self._idle("shut down")
        self._call("shutdown of", "shutdown")

    def destroy(self) -> None:
        # Always allowed: libvirt aborts a running job first, as vmgui's contract says.
        self._call("destroy of", "destroy")

    def suspend(self) -> None:
        self._idle("pause")
        self._call("pause of", "suspend")

    def resume(self) -> None:
        self._idle("resume")
        self._call("resume of", "resume")

    def shutdown_flags(self, flags: int = 0) -> None:
        """virDomainShutdownFlags: ShutdownFlags have libvirt's values (0: agent if it answers, else ACPI)."""
        flags = check_flags(flags, _SHUTDOWN_FLAGS, "shutdown_flags")
        self._idle("shut down")
        self._call("shutdown of", "shutdownFlags", flags)

    def reboot(self, flags: int = 0) -> None:
        """virDomainReboot with libvirt's default method: for QEMU the guest agent if configured, else
        the ACPI power button, then a reset and continue once the guest shut down (a graceful reboot)."""
        flags = check_flags(flags, _SHUTDOWN_FLAGS, "reboot")
        self._idle("reboot")
        self._call("reboot of", "reboot", flags)

    # -- the guest agent, through libvirt -----------------------------------------
    def _agent_call(self, what: str, method: str, *args: Any) -> Any:
        """A libvirt API that talks to the guest agent; NO_SUPPORT where libvirt-python lacks it."""
        vdom = self.vdom()
        api = getattr(vdom, method, None)
        if api is None:
            raise no_support(what, "The libvirt Python binding on this machine is too old for it.")
        return self._conn.call(f"{what} of '{self._name}'", api, *args)

    def agent_connected(self) -> bool | None:
        """From the live XML: libvirt reports the agent channel's ``target/@state`` (None: no channel)."""
        channel = DomainXML.parse(self.xml_desc()).guest_agent_channel()
        return None if channel is None or channel.state is None else channel.state == "connected"

    def interface_addresses(self, source: int = InterfaceSource.AGENT) -> list[GuestInterface]:
        """virDomainInterfaceAddresses (sources: LEASE, AGENT, ARP as libvirt)."""
        source = InterfaceSource(source)
        return guest.interfaces(self._agent_call("reading the addresses", "interfaceAddresses", int(source), 0))

    def guest_info(self, types: int = 0) -> GuestInfo:
        """virDomainGetGuestInfo for the host name, OS and file systems (libvirt 5.7 and later)."""
        types = check_flags(types, _GUEST_INFO, "guest_info") or _GUEST_INFO
        params = self._agent_call("reading guest information", "guestInfo", types, 0)
        return guest.info(params or {}, bool(types & GuestInfoTypes.OS), bool(types & GuestInfoTypes.HOSTNAME),
                          bool(types & GuestInfoTypes.FILESYSTEM))

    def fs_freeze(self, mountpoints: list[str] | None = None) -> int:
        return int(self._agent_call("freezing the file systems", "fsFreeze", mountpoints or None, 0))

    def fs_thaw(self, mountpoints: list[str] | None = None) -> int:
        return int(self._agent_call("thawing the file systems", "fsThaw", mountpoints or None, 0))

    def reset(self) -> None:
        """virDomainReset: a hard reset, the guest's unsaved state is lost."""
        self._idle("reset")
        self._call("reset of", "reset", 0)

    def undefine(self, flags: int = 0) -> None:
        """virDomainUndefineFlags; the NVRAM flags go only with a domain that has a variable store
        (libvirt's test driver, for one, refuses them otherwise)."""
        flags = check_flags(flags, 0x7F, "undefine")
        self._idle("undefine")
        nvram_flags = int(UndefineFlags.NVRAM | UndefineFlags.KEEP_NVRAM)
        if flags & nvram_flags and DomainXML.read(self.xml_desc(DomainXMLFlags.INACTIVE)).nvram is None:
            flags &= ~nvram_flags
        self._call("undefine of", "undefineFlags", flags)

    def rename(self, new_name: str, flags: int = 0) -> None:
        """virDomainRename: libvirt's own refusals (its test driver, unlike qemu, allows snapshots)."""
        from ..domxml import validate_name
        check_flags(flags, 0, "rename")
        name = validate_name(new_name)
        self._idle("rename")
        self._call("rename of", "rename", name, 0)
        self._name = name
        self._vdom = None  # libvirt-python's handle may keep the old name; find it again by uuid

    # -- save -------------------------------------------------------------------
    def update_device_flags(self, xml: str, flags: int = 0) -> None:
        """virDomainUpdateDeviceFlags: libvirt checks the medium where the domain runs (it may be remote)."""
        flags = check_flags(flags, media.ALL_FLAGS, "update_device_flags")
        self._idle("change the CD")
        self._call("changing the CD of", "updateDeviceFlags", xml, flags)

    def managed_save(self, flags: int = 0) -> int | None:
        flags = check_flags(flags, _SAVE_FLAGS | int(JobFlags.ASYNC), "managed_save")
        self._idle("save")
        vdom = self.vdom()
        plain = flags & ~int(JobFlags.ASYNC)
        return self._job(JobOperation.SAVE, "save",
                         lambda: self._conn.call(f"managed save of '{self._name}'", vdom.managedSave, plain),
                         bool(flags & JobFlags.ASYNC))

    def managed_save_remove(self) -> None:
        self._idle("remove the managed save of")
        self._call("managed save removal of", "managedSaveRemove", 0)

    def save(self, path: str, flags: int = 0) -> int | None:
        flags = check_flags(flags, _SAVE_FLAGS | int(JobFlags.ASYNC), "save")
        if not isinstance(path, str) or not path.startswith("/") or "\x00" in path:
            raise DriverError(ErrorCode.INVALID_ARG, f"save needs an absolute file path, not {path!r}")
        if self._conn.local:  # libvirt would truncate whatever is there; on this machine we can look first
            check_new_file(path, "save image path")
        self._idle("save")
        vdom = self.vdom()
        plain = flags & ~int(JobFlags.ASYNC)
        return self._job(JobOperation.SAVE, "save",
                         lambda: self._conn.call(f"save of '{self._name}' to {path}", vdom.saveFlags,
                                                 path, None, plain),
                         bool(flags & JobFlags.ASYNC))

    # -- snapshots ----------------------------------------------------------------
    def snapshot_create(self, xml_or_name: str, flags: int = 0) -> LibvirtSnapshot | int:
        flags = check_flags(flags, _SNAPSHOT_CREATE_FLAGS | int(JobFlags.ASYNC), "snapshot_create")
        if not isinstance(xml_or_name, str) or not xml_or_name.strip():
            raise DriverError(ErrorCode.INVALID_ARG, "a snapshot needs a name or <domainsnapshot> XML")
        text = xml_or_name.strip()
        if text.startswith("<"):
            from .connection import check_xml
            check_xml(text, "domainsnapshot")
            xml = text
        else:
            xml = f"<domainsnapshot><name>{escape(text)}</name></domainsnapshot>"
        self._idle("snapshot")
        vdom = self.vdom()
        plain = flags & ~int(JobFlags.ASYNC)

        def make(vsnap: Any) -> LibvirtSnapshot:
            snap = LibvirtSnapshot(self, vsnap.getName())
            self._snapshot_event(SnapshotEventDetail.CREATED, snap.name)
            return snap

        return self._job(JobOperation.SNAPSHOT, "snapshot",
                         lambda: self._conn.call(f"snapshot of '{self._name}'", vdom.snapshotCreateXML,
                                                 xml, plain),
                         bool(flags & JobFlags.ASYNC), make)

    def _snapshot_event(self, detail: SnapshotEventDetail, name: str) -> None:
        dom_name, uuid = self._name, self._uuid
        self._conn.bus.emit(lambda conn: conn.domain_handle(dom_name, uuid),
                            DomainEvent.now(EventType.SNAPSHOT, detail, name=dom_name, uuid=uuid, message=name))

    def list_all_snapshots(self) -> list[Snapshot]:
        return [LibvirtSnapshot(self, s.getName()) for s in self._call("snapshots of", "listAllSnapshots", 0)]

    def snapshot_lookup(self, name: str) -> Snapshot:
        vsnap = self._call(f"snapshot '{name}' of", "snapshotLookupByName", name, 0)
        return LibvirtSnapshot(self, vsnap.getName())

    # -- checkpoints (libvirt's own, on the host's dirty bitmaps) ---------------------
    def checkpoint_create(self, xml: str, flags: int = 0) -> Checkpoint:
        check_flags(flags, 0, "checkpoint_create")
        parse_xml(xml, "domaincheckpoint")
        vcp = self._call("checkpoint of", "checkpointCreateXML", xml, 0)
        return LibvirtCheckpoint(self, vcp.getName())

    def list_all_checkpoints(self, flags: int = 0) -> list[Checkpoint]:
        check_flags(flags, 0, "list_all_checkpoints")
        return [LibvirtCheckpoint(self, c.getName()) for c in self._call("checkpoints of", "listAllCheckpoints", 0)]

    def checkpoint_lookup_by_name(self, name: str, flags: int = 0) -> Checkpoint:
        vcp = self._call(f"checkpoint '{name}' of", "checkpointLookupByName", name, 0)
        return LibvirtCheckpoint(self, vcp.getName())

    # -- display --------------------------------------------------------------
    def open_graphics(self, index: int = 0) -> socket.socket:
        """virDomainOpenGraphicsFD without the display's password, as virt-viewer's --attach asks.

        libvirt passes the descriptor only over a local unix connection to its daemon. Over
        ``+ssh`` the VNC endpoint of the live XML is reached through ssh instead (the server then
        asks for the display's password, if it has one); other remote transports get libvirt's
        error that says so.
        """
        if index < 0:
            raise DriverError(ErrorCode.INVALID_ARG, f"display index {index} is negative")
        target = SshTarget.from_uri(self._conn.libvirt_uri)
        if target is not None:
            return self._open_graphics_over_ssh(target, index)
        fd = self._call("opening the display of", "openGraphicsFD", index, _OPEN_GRAPHICS_SKIPAUTH)
        sock = socket.socket(fileno=fd)
        sock.setblocking(True)
        return sock

    def _open_graphics_over_ssh(self, target: SshTarget, index: int) -> socket.socket:
        if not self.is_active():
            raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{self._name}' is not running")
        graphics = DomainXML.read(self.xml_desc()).graphics()
        if index >= len(graphics):
            raise DriverError(ErrorCode.NO_SUPPORT, f"domain '{self._name}' has no display {index}"
                              + ("" if graphics else "; add <graphics type='vnc'/> to its XML"))
        return open_tunnel(target, vnc_endpoint(graphics[index], self._name), self._name)

    # -- backup and jobs --------------------------------------------------------
    def backup_begin(self, backup_xml: str, flags: int = 0, checkpoint_xml: str | None = None) -> int:
        check_flags(flags, int(JobFlags.ASYNC), "backup_begin")  # always asynchronous
        from .connection import check_xml
        check_xml(backup_xml, "domainbackup")
        if checkpoint_xml is not None:
            parse_xml(checkpoint_xml, "domaincheckpoint")  # the hardened parser, as check_xml
        conn = self._conn
        self._idle("back up")
        vdom = self.vdom()
        with conn.tracker.lock:  # a fast backup's JOB_COMPLETED waits until it is tracked
            conn.call(f"backup of '{self._name}'", vdom.backupBegin, backup_xml, checkpoint_xml, 0)
            job = conn.jobs.begin(self._uuid, self._name, JobOperation.BACKUP, "back up")
            try:
                conn.backups[job.id] = vdom.backupGetXMLDesc(0)
            except conn._lv.libvirtError:
                conn.backups[job.id] = backup_xml
            conn.tracker.track(job, self._poll_vdom, watch=True)
        return job.id

    def backup_get_xml_desc(self, job_id: int = 0) -> str:
        self._conn._check_open()
        job = self._conn.jobs.find(self._uuid, self._name, job_id)
        xml = self._conn.backups.get(job.id)
        if xml is None:
            raise DriverError(ErrorCode.NO_JOB, f"job {job.id} of '{self._name}' is not a backup")
        if not job.info().finished:
            try:
                return self.vdom().backupGetXMLDesc(0)
            except self._conn._lv.libvirtError:
                pass
        return xml

    def _adopt_running_job(self) -> Job | None:
        """A job libvirt runs on this domain that vmgui did not start gets an id now."""
        conn = self._conn
        job = conn.jobs.current(self._uuid)
        if job is not None or not conn.tracker.stats_supported:
            return job
        try:
            vdom = self.vdom()
            stats = dict(conn.call(f"job of '{self._name}'", vdom.jobStats, 0))
        except DriverError as exc:
            if exc.code is ErrorCode.NO_SUPPORT:
                conn.tracker.stats_supported = False  # e.g. libvirt's test driver: no job APIs
            return None
        if stats.get("type") not in (JOB_BOUNDED, JOB_UNBOUNDED):
            return None
        with conn.tracker.lock:
            job = conn.jobs.current(self._uuid)
            if job is None:
                job = conn.jobs.begin(self._uuid, self._name, operation_of(stats), "run a job on")
                conn.tracker.apply(job, stats)
                conn.tracker.track(job, self._poll_vdom, watch=True)
        return job

    def get_job_info(self, job_id: int = 0) -> JobInfo:
        self._conn._check_open()
        if job_id == 0:
            self._adopt_running_job()
        return self._conn.jobs.find(self._uuid, self._name, job_id).info()

    def abort_job(self, job_id: int = 0) -> None:
        conn = self._conn
        conn._check_open()
        if job_id == 0:
            self._adopt_running_job()  # a job another client started gets its id first
        # The job table's refusals (no job, ended, an operation that cannot be stopped) come
        # first, exactly as on the other drivers; then libvirt is asked.
        job = conn.jobs.abort(self._uuid, self._name, job_id)
        deadline = time.monotonic() + 2.0
        while True:
            try:
                self._call("abort of the job of", "abortJob")
                break
            except DriverError as exc:
                if exc.code is not ErrorCode.OPERATION_INVALID:
                    raise
                if job.info().finished:
                    return  # it ended on its own meanwhile
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # vmgui's job exists, libvirt's has not started yet
        conn.tracker.wake()

    # -- migration ----------------------------------------------------------------
    def live_migration_problem(self) -> str | None:
        """Why a live migration would lose this guest's writes under this libvirt's QEMU, or None.

        libvirt's hypervisor version is its QEMU's (major * 1,000,000 + minor * 1,000 + micro);
        a ``<domain type='qemu'>`` guest runs under TCG.
        """
        conn = self._conn
        vconn = conn.vconn()
        if conn.call("hypervisor type", vconn.getType).upper() != "QEMU":
            return None
        number = int(conn.call("hypervisor version", vconn.getVersion))
        domain_type = DomainXML.parse(self.xml_desc()).domain_type
        return live_copy_problem((number // 1_000_000, number // 1000 % 1000, number % 1000),
                                 "kvm" if domain_type == "kvm" else "tcg")

    def migrate(self, dest_conn: Any, flags: int = MigrateFlags.LIVE,
                params: dict[str, Any] | None = None) -> Domain | int:
        """libvirt runs the migration phases itself: virDomainMigrate3 (or MigrateToURI3
        with PEER2PEER) with the contract's flags, which carry libvirt's values."""
        from .connection import LibvirtConnection
        flags = check_flags(flags, _MIGRATE_FLAGS | int(JobFlags.ASYNC), "migrate")
        if not isinstance(dest_conn, LibvirtConnection):
            raise DriverError(ErrorCode.NO_SUPPORT,
                              f"cannot migrate between the libvirt connection {self._conn.uri} and "
                              f"{getattr(dest_conn, 'uri', dest_conn)!r}: libvirt can only migrate to "
                              "another libvirt host")
        src = self._conn
        src._check_open()
        if dest_conn.closed:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"destination connection {dest_conn.uri} is closed")
        src.vconn()  # both ends connected (reconnect on demand) before asking their features
        dest_conn.vconn()
        if src.same_host(dest_conn):
            raise DriverError(ErrorCode.INVALID_ARG, "Attempt to migrate guest to the same host: "
                              f"{src.uri} and {dest_conn.uri} manage the same domains")
        asynchronous = bool(flags & JobFlags.ASYNC)
        flags &= ~int(JobFlags.ASYNC)
        peer2peer = bool(flags & MigrateFlags.PEER2PEER)
        if peer2peer:
            if not src.supports_feature(Feature.MIGRATION_P2P):
                raise DriverError(ErrorCode.NO_SUPPORT, f"{src.uri} cannot do peer-to-peer migration")
        else:
            choose_protocol(src, dest_conn)  # NO_SUPPORT before anything is touched
        if not flags & MigrateFlags.OFFLINE and not self.is_active():
            raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{self._name}' is not running")
        typed = dict(params or {})
        # vmgui's own key, not a libvirt parameter: how the *source host* reaches the
        # destination in peer-to-peer mode (defaults to this client's URI for it).
        dest_uri = typed.pop("dest_uri", None) or dest_conn.libvirt_uri
        self._idle("migrate")
        paused_copy = bool(flags & MigrateFlags.LIVE and not flags & (MigrateFlags.UNSAFE | MigrateFlags.OFFLINE)
                           and self.live_migration_problem())
        if paused_copy:
            flags &= ~int(MigrateFlags.LIVE)  # libvirt pauses the guest while its memory moves
        vdom = self.vdom()
        dest_vconn = dest_conn.vconn()
        conn = src
        job = conn.jobs.begin(self._uuid, self._name, JobOperation.MIGRATION_OUT, "migrate")
        if paused_copy:
            job.progress(0, None, paused_copy=1.0)
        try:
            incoming = dest_conn.jobs.begin(self._uuid, self._name, JobOperation.MIGRATION_IN, "migrate")
        except DriverError as exc:  # the destination has a job for this uuid: refuse, cleanly
            conn.jobs.end(job, exc)
            raise

        def call() -> Any:
            if peer2peer:
                src.call(f"migration of '{self._name}' to {dest_uri}", vdom.migrateToURI3,
                         dest_uri, typed, flags)
                return dest_conn.call("migration", dest_vconn.lookupByUUIDString, self._uuid)
            return src.call(f"migration of '{self._name}' to {dest_conn.uri}", vdom.migrate3,
                            dest_vconn, typed, flags)

        def finish_incoming(error: BaseException | None) -> None:
            dest_conn.jobs.end(incoming, error)

        def result(new_vdom: Any) -> Domain:
            return dest_conn.domain_handle(new_vdom.name(), new_vdom.UUIDString(), new_vdom)

        tracked = conn.tracker.track(job, self._poll_vdom)

        def worker(job: Job) -> Domain:
            value = call()
            final = conn.tracker.final_for(tracked, self._live_vdom())
            if final:
                conn.tracker.apply(job, final)
                dest_conn.tracker.apply(incoming, final)
            return result(value)

        def done(error: BaseException | None) -> None:
            conn.tracker.untrack(job)
            finish_incoming(error)

        try:
            return conn.jobs.run(job, worker, asynchronous, done)
        except BaseException:
            if not incoming.info().finished:
                dest_conn.jobs.end(incoming, DriverError(ErrorCode.OPERATION_FAILED, "migration failed"))
            raise


class LibvirtSnapshot(Snapshot):
    _domain: LibvirtDomain

    def _vsnap(self) -> Any:
        return self._domain._call(f"snapshot '{self._name}' of", "snapshotLookupByName", self._name, 0)

    def xml_desc(self) -> str:
        vsnap = self._vsnap()
        return self._domain._conn.call(f"snapshot '{self._name}'", vsnap.getXMLDesc, 0)

    def is_current(self) -> bool:
        vsnap = self._vsnap()
        return bool(self._domain._conn.call(f"snapshot '{self._name}'", vsnap.isCurrent, 0))

    def parent_name(self) -> str | None:
        vsnap = self._vsnap()
        try:
            return self._domain._conn.call(f"parent of snapshot '{self._name}'", vsnap.getParent, 0).getName()
        except DriverError as exc:
            if exc.code is ErrorCode.NO_SNAPSHOT:
                return None
            raise

    def revert(self, flags: int = 0) -> int | None:
        """virDomainRevertToSnapshot; with ``JobFlags.ASYNC`` on a job thread as a SNAPSHOT_REVERT job."""
        flags = check_flags(flags, 0x7 | int(JobFlags.ASYNC), "snapshot revert")  # RUNNING, PAUSED, FORCE
        domain = self._domain
        return self._run(flags, JobOperation.SNAPSHOT_REVERT, "revert", SnapshotEventDetail.REVERTED,
                         lambda vsnap, plain: domain._conn.call(f"revert to snapshot '{self._name}'",
                                                                domain.vdom().revertToSnapshot, vsnap, plain))

    def delete(self, flags: int = 0) -> int | None:
        """virDomainSnapshotDelete; with ``JobFlags.ASYNC`` on a job thread as a SNAPSHOT_DELETE job."""
        # CHILDREN, METADATA_ONLY, CHILDREN_ONLY
        flags = check_flags(flags, 0x7 | int(JobFlags.ASYNC), "snapshot delete")
        conn = self._domain._conn
        return self._run(flags, JobOperation.SNAPSHOT_DELETE, "delete a snapshot of", SnapshotEventDetail.DELETED,
                         lambda vsnap, plain: conn.call(f"deletion of snapshot '{self._name}'", vsnap.delete, plain))

    def _run(self, flags: int, operation: JobOperation, action: str, detail: SnapshotEventDetail,
             invoke: Callable[[Any, int], Any]) -> int | None:
        """libvirt's call is synchronous: without ASYNC it runs here, as before (no vmgui job);
        with ASYNC it runs on a job thread of the bridge's job mapping, which returns the id."""
        domain = self._domain
        domain._idle(action)
        vsnap = self._vsnap()
        plain = flags & ~int(JobFlags.ASYNC)

        def call() -> None:
            invoke(vsnap, plain)
            domain._snapshot_event(detail, self._name)

        if not flags & JobFlags.ASYNC:
            call()
            return None
        return domain._job(operation, action, call, True)


class LibvirtCheckpoint(Checkpoint):
    """virDomainCheckpoint: libvirt keeps the bitmaps and the metadata."""

    _domain: LibvirtDomain

    def _vcp(self) -> Any:
        return self._domain._call(f"checkpoint '{self._name}' of", "checkpointLookupByName", self._name, 0)

    def xml_desc(self, flags: int = 0) -> str:
        return str(self._domain._conn.call(f"checkpoint '{self._name}'", self._vcp().getXMLDesc, 0))

    def parent_name(self) -> str | None:
        try:
            return str(self._domain._conn.call(f"parent of checkpoint '{self._name}'", self._vcp().getParent, 0)
                       .getName())
        except DriverError as exc:
            if exc.code is ErrorCode.NO_DOMAIN_CHECKPOINT:
                return None
            raise

    def delete(self, flags: int = 0) -> None:
        check_flags(flags, 0, "checkpoint delete")
        self._domain._idle("delete a checkpoint of")
        self._domain._conn.call(f"deletion of checkpoint '{self._name}'", self._vcp().delete, 0)
