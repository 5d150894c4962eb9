"""A vmgui connection backed by one libvirt connection (any libvirt URI)."""
from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .. import diskdelete
from ..base import Connection, Domain
from ..diskimage import check_path, check_path_list
from ..errors import DriverError, ErrorCode, check_flags
from ..events import EventBus
from ..flags import DomainState, EventType, Feature, JobFlags, JobOperation, ListFlags, SaveFlags
from ..hostfacts import HostFacts
from ..jobs import Job, JobTable
from ..listfilter import active_groups, compile_filter, validate
from ..records import DomainEvent, DomainRecord, JobInfo
from ..xmlutil import parse as parse_xml
from . import hostfacts, runtime
from .errors import is_connection_error, translate
from .jobs import JobTracker

log = logging.getLogger(__name__)
T = TypeVar("T")  # what a job's worker returns

#: Seconds an open (or a reconnect) may take before it fails with OPERATION_TIMEOUT.
OPEN_TIMEOUT = 15.0
#: libvirt keepalive: a probe every INTERVAL s; COUNT unanswered probes close the connection.
KEEPALIVE_INTERVAL = 5
KEEPALIVE_COUNT = 3

# virDomainStatsTypes
_STATS = 0x1 | 0x2 | 0x4 | 0x8  # STATE | CPU_TOTAL | BALLOON | VCPU
_DOMAIN_STATES = {int(s): s for s in DomainState}
# getAllDomainStats understands the ACTIVE, PERSISTENT and STATE groups (same bit values).
_SERVER_FILTER = 0xFF
# virConnectCloseReason
_CLOSE_REASONS = {0: "an I/O error", 1: "end of file (the daemon went away)",
                  2: "keepalive timeout (the host stopped answering)", 3: "the client"}
# virDomainEventID
_EV_LIFECYCLE, _EV_REBOOT, _EV_JOB_COMPLETED = 0, 1, 21

# vmgui features per libvirt driver type (libvirt features 1-13 are asked from libvirt);
# RENAME: the drivers that implement virDomainRename.
_QEMU_FEATURES = frozenset({Feature.JOBS, Feature.BACKUP, Feature.SNAPSHOTS, Feature.MANAGED_SAVE,
                            Feature.SAVE_RESTORE, Feature.AUTOSTART, Feature.DEFINE, Feature.RENAME,
                            Feature.DELETE_DISKS, Feature.GUESTS_OUTLIVE_CLIENT, Feature.CHANGE_MEDIA})
_TYPE_FEATURES = {
    "QEMU": _QEMU_FEATURES,
    "TEST": frozenset({Feature.SNAPSHOTS, Feature.MANAGED_SAVE, Feature.SAVE_RESTORE,
                       Feature.AUTOSTART, Feature.DEFINE, Feature.RENAME, Feature.DELETE_DISKS}),
    "LXC": frozenset({Feature.AUTOSTART, Feature.DEFINE, Feature.GUESTS_OUTLIVE_CLIENT}),
}
_DEFAULT_TYPE_FEATURES = frozenset({Feature.AUTOSTART, Feature.DEFINE})
#: libvirt's QEMU driver offers checkpoints and incremental backup by default from 7.6.0 on
_INCREMENTAL_BACKUP_VERSION = 7_006_000
# virErrorNumber VIR_ERR_NO_STORAGE_VOL: the path is in no storage pool of the host
_NO_STORAGE_VOL = 50


#: snapshot counts requested at once (calls in flight on one connection)
_SNAPSHOT_BATCH = 16


def concurrently(calls: list[Any], parallel: bool = True) -> list[Any]:
    """Run ``calls`` at the same time (the first in this thread); results in order.

    ``parallel=False`` runs them one after the other: for in-process drivers
    (test:///, embed) there is no round trip to overlap.

    Helper threads are daemons: a call stuck on a dead host never holds up the
    interpreter's exit. The first exception is re-raised after all calls ended.
    """
    if len(calls) == 1 or not parallel:
        return [call() for call in calls]
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors[i] = exc

    threads = [threading.Thread(target=run, args=(i,), name="libvirt-bulk", daemon=True)
               for i in range(1, len(calls))]
    for thread in threads:
        thread.start()
    run(0)
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results


def _close_quietly(lv: Any, vconn: Any) -> None:
    try:
        vconn.close()
    except lv.libvirtError:
        pass


def _raise(exc: BaseException) -> None:
    """Re-raise ``exc`` inside :meth:`LibvirtConnection.call`, which maps it (and notices a lost link)."""
    raise exc


def check_xml(xml: str, root: str) -> None:
    """Refuse what vmgui's hardened parser refuses (DOCTYPE/entities, huge or broken XML)."""
    parse_xml(xml, root)


class LibvirtConnection(Connection):
    """vmgui's driver contract mapped onto a libvirt connection.

    Thread-safe: libvirt connections are, and our own state is guarded. A lost
    connection (keepalive timeout, daemon gone, I/O error) emits one
    DISCONNECTED event; the next call reconnects ("on demand") within
    :data:`OPEN_TIMEOUT`.
    """

    def __init__(self, uri: str, libvirt_uri: str, *, timeout: float = OPEN_TIMEOUT,
                 keepalive: tuple[int, int] = (KEEPALIVE_INTERVAL, KEEPALIVE_COUNT),
                 readonly: bool = False) -> None:
        super().__init__(uri)
        self.libvirt_uri = libvirt_uri
        scheme, _, rest = libvirt_uri.partition("://")
        #: calls cross a socket (worth overlapping), unlike in-process drivers
        self._rpc = not (scheme == "test" or rest.startswith("/embed"))
        #: the hypervisor runs on this machine (no host in the URI): its files are this machine's files
        self.local = rest.startswith("/")
        self.timeout = float(timeout)
        self.keepalive = keepalive
        self.readonly = readonly
        self._lv = runtime.lv()
        self._lock = threading.RLock()
        self._reconnecting = threading.Lock()
        self._vconn: Any = None
        self._gen = 0
        self._callback_ids: dict[int, list[int]] = {}
        self._dead: list[Any] = []  # lost libvirt connections, released on close()
        # libvirt frees a virConnect on close even while another thread is inside a call on it
        # (a crash): close() leaves those to the last call in flight to close
        self._in_flight = 0
        self._closing: list[Any] = []
        # connections whose virConnectClose runs now: libvirt-python clears its pointer only after
        # that returns, so a call started meanwhile would still reach the connection being freed.
        # call() starts nothing on these nor on those in _closing (new calls would keep them open)
        self._shutting: list[Any] = []
        self._disconnect_reason: str | None = None
        self._features: dict[int, bool] = {}
        self._type = ""
        self.bus = EventBus(f"libvirt-events {libvirt_uri}")
        self.jobs = JobTable(self._job_event)
        self.tracker = JobTracker(self.jobs, libvirt_uri)
        self.backups: dict[int, str] = {}
        try:
            self._attach(runtime.open_with_timeout(libvirt_uri, self.timeout, readonly))
        except BaseException:
            self.tracker.close()
            raise

    # -- the libvirt connection -------------------------------------------------
    def _attach(self, vconn: Any) -> None:
        """Adopt a freshly opened libvirt connection (first open)."""
        self._install(vconn, *self._prepare(vconn))

    def _prepare(self, vconn: Any) -> tuple[list[int], str]:
        """Keepalive, close callback, event callbacks: no lock held (these are RPCs)."""
        lv = self._lv
        try:
            vconn.setKeepAlive(*self.keepalive)
        except lv.libvirtError:
            pass  # local drivers (test:///, embed) have no keepalive: nothing to lose
        try:
            vconn.registerCloseCallback(self._on_close, None)
        except lv.libvirtError:
            pass
        ids = []
        for event_id, callback in ((_EV_LIFECYCLE, self._on_lifecycle), (_EV_REBOOT, self._on_reboot),
                                   (_EV_JOB_COMPLETED, self._on_job_completed)):
            try:
                ids.append(vconn.domainEventRegisterAny(None, event_id, callback, None))
            except lv.libvirtError:
                log.info("%s cannot deliver event %d", self.libvirt_uri, event_id)
        try:
            kind = vconn.getType().upper()
        except lv.libvirtError:
            kind = ""
        return ids, kind

    def _install(self, vconn: Any, ids: list[int], kind: str) -> None:
        with self._lock:
            self._vconn = vconn
            self._gen += 1
            self._callback_ids[id(vconn)] = ids
            self._disconnect_reason = None
            self._features = {}
            self._type = kind
        self.tracker.paused = False
        self.tracker.wake()

    def _detach(self, vconn: Any) -> None:
        lv = self._lv
        with self._lock:
            ids = self._callback_ids.pop(id(vconn), [])
        for cid in ids:
            try:
                vconn.domainEventDeregisterAny(cid)
            except lv.libvirtError:
                pass
        try:
            vconn.unregisterCloseCallback()
        except lv.libvirtError:
            pass
        with self._lock:
            if self._in_flight:  # the last call to return closes it (a hung one: never, which is safe)
                self._closing.append(vconn)
                return
            self._shutting.append(vconn)
        self._shut([vconn])

    def _shut(self, vconns: list[Any]) -> None:
        """Close ``vconns`` (already in :attr:`_shutting`, so no call on them starts meanwhile)."""
        for vconn in vconns:
            _close_quietly(self._lv, vconn)
        with self._lock:
            self._shutting = [v for v in self._shutting if all(v is not done for done in vconns)]

    @property
    def connected(self) -> bool:
        with self._lock:
            return self._vconn is not None and not self._closed

    @property
    def driver_type(self) -> str:
        """libvirt's hypervisor type of this connection ('QEMU', 'TEST', ...)."""
        return self._type

    def vconn(self) -> Any:
        """The live ``libvirt.virConnect``, reconnecting when the old one was lost.

        One thread reconnects at a time; the others wait for its outcome (at most
        :attr:`timeout`), so a dead host costs one open attempt, not one per caller.
        """
        self._check_open()
        with self._lock:
            if self._vconn is not None:
                return self._vconn
        if not self._reconnecting.acquire(timeout=self.timeout + 1):
            raise DriverError(ErrorCode.OPERATION_TIMEOUT,
                              f"still reconnecting to {self.libvirt_uri}; try again in a moment")
        try:
            with self._lock:
                if self._vconn is not None:  # another thread reconnected meanwhile
                    return self._vconn
                reason = self._disconnect_reason
            try:
                fresh = runtime.open_with_timeout(self.libvirt_uri, self.timeout, self.readonly)
            except DriverError as exc:
                raise DriverError(exc.code, f"not connected to {self.libvirt_uri} "
                                            f"(lost: {reason or 'unknown reason'}); reconnecting failed: "
                                            f"{exc.message}") from None
            prepared = self._prepare(fresh)
            with self._lock:
                if not self._closed:
                    self._install(fresh, *prepared)
                    self.bus.emit(None, DomainEvent.now(
                        EventType.RECONNECTED, 0, message=f"reconnected to {self.libvirt_uri}"))
                    return fresh
            self._callback_ids[id(fresh)] = prepared[0]
            self._detach(fresh)  # closed meanwhile
            self._check_open()
            return fresh
        finally:
            self._reconnecting.release()

    def reconnect(self) -> None:
        """Open the libvirt connection again now (if it was lost)."""
        self.vconn()

    def generation(self) -> int:
        return self._gen

    @contextlib.contextmanager
    def using(self, vconn: Any, what: str) -> Iterator[Any]:
        """Count what runs inside as a call on ``vconn``: close() leaves freeing it to the last one.

        Every use of a ``virConnect`` goes through here (or :meth:`call`): libvirt frees
        it on close even while another thread is inside a call on it. OPERATION_FAILED
        when ``vconn`` is already set aside to be closed.
        """
        with self._lock:
            if vconn is not None and any(vconn is v for v in [*self._closing, *self._shutting]):
                raise DriverError(ErrorCode.OPERATION_FAILED,
                                  f"{what}: the connection to {self.libvirt_uri} was closed")
            self._in_flight += 1
        try:
            yield vconn
        finally:
            with self._lock:
                self._in_flight -= 1
                last = self._in_flight == 0
                closing, self._closing = (self._closing, []) if last else ([], self._closing)
                self._shutting.extend(closing)
            if closing:
                self._shut(closing)

    def call(self, what: str, fn: Any, *args: Any) -> Any:
        """Run a libvirt call; libvirt errors become DriverError, a broken link a disconnect."""
        lv = self._lv
        with self.using(getattr(fn, "__self__", None), what):
            try:
                return fn(*args)
            except lv.libvirtError as exc:
                error = translate(exc, what)
                if is_connection_error(exc) or not self._alive():
                    self._lost(error.message)
                    error = DriverError(ErrorCode.OPERATION_FAILED,
                                        f"lost the connection to {self.libvirt_uri}: {error.message}; "
                                        "it is reopened on the next call")
                raise error from None

    def _alive(self) -> bool:
        with self._lock:
            vconn = self._vconn
        if vconn is None:
            return False
        try:
            return bool(vconn.isAlive())
        except Exception:  # noqa: BLE001
            return False

    def _lost(self, reason: str) -> None:
        with self._lock:
            vconn = self._vconn
            if vconn is None or self._closed:
                return
            self._vconn = None
            self._disconnect_reason = reason
        self.tracker.paused = True
        # Not closed now: another thread may still be unwinding a call on it (freeing the
        # connection under it would crash), and this may run inside libvirt's own close
        # callback. Dead connections are released when this connection is closed.
        with self._lock:
            self._dead.append(vconn)
        self.bus.emit(None, DomainEvent.now(EventType.DISCONNECTED, 0,
                                            message=f"lost the connection to {self.libvirt_uri}: {reason}"))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            vconn, self._vconn = self._vconn, None
            dead, self._dead = self._dead, []
            self._closed = True
        self.tracker.close()
        for old in [vconn, *dead] if vconn is not None else dead:
            self._detach(old)
        self.bus.close()

    # -- libvirt callbacks (libvirt event-loop thread: translate and queue only) --
    def _on_close(self, _vconn: Any, reason: int, _opaque: Any) -> None:
        if reason == 3:  # we closed it ourselves
            return
        self._lost(_CLOSE_REASONS.get(reason, f"reason {reason}"))

    def _emit_domain(self, vdom: Any, type_: EventType, detail: int) -> None:
        name, uuid = vdom.name(), vdom.UUIDString()
        self.bus.emit(lambda conn: conn.domain_handle(name, uuid),
                      DomainEvent.now(type_, detail, name=name, uuid=uuid))

    def _on_lifecycle(self, _vconn: Any, vdom: Any, event: int, detail: int, _opaque: Any) -> None:
        try:
            type_ = EventType(event)
        except ValueError:
            return
        if type_ >= EventType.JOB:
            return
        self._emit_domain(vdom, type_, detail)

    def _on_reboot(self, _vconn: Any, vdom: Any, _opaque: Any) -> None:
        self._emit_domain(vdom, EventType.REBOOT, 0)

    def _on_job_completed(self, _vconn: Any, vdom: Any, params: dict[str, Any], _opaque: Any) -> None:
        name, uuid = vdom.name(), vdom.UUIDString()
        self.tracker.job_completed(uuid, name, params, lambda: vdom)

    def _job_event(self, job: Job, detail: int) -> None:
        name, uuid = job.domain_name, job.domain_uuid
        self.bus.emit(lambda conn: conn.domain_handle(name, uuid),
                      DomainEvent.now(EventType.JOB, detail, job=job.info(), name=name, uuid=uuid))

    def register_event_callback(self, fn: Any) -> int:
        self._check_open()
        return self.bus.register(self, fn)

    def deregister_event_callback(self, handle: int) -> None:
        if not self.bus.deregister(handle):
            raise DriverError(ErrorCode.INVALID_ARG, f"no event callback is registered with handle {handle!r}")

    # -- features -------------------------------------------------------------
    def supports_feature(self, feature: Feature | int) -> bool:
        try:
            feature = Feature(feature)
        except ValueError:
            return False
        if self._closed:
            return False
        if feature <= Feature.MIGRATION_PARAMS:
            with self._lock:
                if feature in self._features:
                    return self._features[feature]
            with self._lock:
                vconn = self._vconn
            if vconn is None:  # not connected: no answer, and no reconnect from a query
                return False
            try:
                with self.using(vconn, "asking for a feature"):
                    answer = runtime.driver_supports_feature(vconn, int(feature))
                    if answer is None:
                        answer = self._feature_from_capabilities(vconn, feature)
            except DriverError:  # closed meanwhile
                return False
            with self._lock:
                if self._vconn is vconn:  # a connection replaced meanwhile may have answered for its failure
                    self._features[feature] = answer
            return answer
        if feature is Feature.INCREMENTAL_BACKUP:
            return self._type == "QEMU" and self._lib_version() >= _INCREMENTAL_BACKUP_VERSION
        return feature in _TYPE_FEATURES.get(self._type, _DEFAULT_TYPE_FEATURES)

    def _lib_version(self) -> int:
        """The daemon's libvirt version (major * 1000000 + minor * 1000 + micro); 0 when not known."""
        with self._lock:
            vconn = self._vconn
        if vconn is None:
            return 0
        try:
            with self.using(vconn, "asking for libvirt's version"):
                return int(vconn.getLibVersion())
        except Exception:  # noqa: BLE001 - any failure (closed meanwhile too): not known
            return 0

    def _feature_from_capabilities(self, vconn: Any, feature: Feature) -> bool:
        """Fallback when virConnectSupportsFeature cannot be called: the host capabilities."""
        if feature in (Feature.TYPED_PARAM_STRING, Feature.FD_PASSING):
            return True
        if feature is Feature.REMOTE:
            return "://" in self.libvirt_uri and "+" in self.libvirt_uri.split("://")[0]
        try:
            caps = vconn.getCapabilities()
        except self._lv.libvirtError:
            return False
        if "<migration_features>" not in caps:
            return False
        return self._type == "QEMU" and feature in (
            Feature.MIGRATION_V2, Feature.MIGRATION_V3, Feature.MIGRATION_P2P, Feature.MIGRATION_PARAMS,
            Feature.MIGRATION_OFFLINE, Feature.MIGRATE_CHANGE_PROTECTION, Feature.XML_MIGRATABLE,
            Feature.PROGRAM_KEEPALIVE)

    def hostname(self) -> str:
        vconn = self.vconn()
        return self.call("hostname", vconn.getHostname)

    def migration_peer_ok(self, other: Connection) -> bool:
        """Guests move between libvirt hosts only (libvirt migrates them itself: see LibvirtDomain.migrate)."""
        return isinstance(other, LibvirtConnection)

    def host_facts(self) -> HostFacts:
        """libvirt's storage pool 'default', its domain capabilities (KVM, firmware) and host name."""
        return hostfacts.host_facts(self)

    def same_host(self, other: Connection) -> bool:
        if other is self:
            return True
        return isinstance(other, LibvirtConnection) and other.libvirt_uri == self.libvirt_uri \
            and "://" in self.libvirt_uri and self.libvirt_uri.split("://", 1)[1].startswith("/") \
            and "socket=" not in self.libvirt_uri and not self.libvirt_uri.startswith("test:")

    # -- domains --------------------------------------------------------------
    def domain_handle(self, name: str, uuid: str, vdom: Any = None) -> Domain:
        from .domain import LibvirtDomain
        return LibvirtDomain(self, name, uuid, vdom)

    def _wrap(self, vdom: Any) -> Domain:
        return self.domain_handle(vdom.name(), vdom.UUIDString(), vdom)

    def list_all_domains(self, flags: int = ListFlags(0)) -> list[Domain]:
        flags = validate(flags)
        vconn = self.vconn()
        return [self._wrap(d) for d in self.call("list_all_domains", vconn.listAllDomains, flags)]

    def get_all_domain_stats(self, flags: int = ListFlags(0)) -> list[DomainRecord]:
        """The whole table in one round trip of latency.

        One getAllDomainStats (state, memory, vCPUs, CPU time of every domain) and,
        sent at the same moment on the same connection (libvirt's RPC client keeps
        several calls in flight), four listAllDomains for the flags libvirt's stats
        lack: transient, autostart, managed save, has snapshot (each returns only the
        usually few domains that have the property). Five calls whatever the number
        of domains; exact snapshot counts add one call per domain that has snapshots,
        also sent concurrently. Membership comes from the stats call alone, so no
        domain is listed twice or half.
        """
        flags = validate(flags)
        local = [g for g in active_groups(flags) if g & ~_SERVER_FILTER]  # groups libvirt can't filter
        accepts = compile_filter(flags) if local else None
        vconn = self.vconn()

        def uuids(bit: ListFlags) -> Any:
            return lambda: {d.UUIDString() for d in self.call("get_all_domain_stats", vconn.listAllDomains,
                                                              int(bit))}

        results, transient, autostart, managed, with_snapshots = concurrently([
            lambda: self.call("get_all_domain_stats", vconn.getAllDomainStats, _STATS, flags & _SERVER_FILTER),
            uuids(ListFlags.TRANSIENT), uuids(ListFlags.AUTOSTART), uuids(ListFlags.MANAGEDSAVE),
            uuids(ListFlags.HAS_SNAPSHOT)], self._rpc)
        if not results:
            return []
        counts = self._snapshot_counts([vdom for vdom, _ in results if vdom.UUIDString() in with_snapshots])
        records = []
        lv = self._lv
        states = _DOMAIN_STATES
        for vdom, stats in results:
            uuid = vdom.UUIDString()
            dom_id = vdom.ID()
            snapshots = counts.get(uuid, 0)
            if "balloon.maximum" in stats:
                max_mem = stats["balloon.maximum"]
                mem = stats.get("balloon.current", max_mem)
                vcpus = stats.get("vcpu.current", 0)
                cpu = stats.get("cpu.time", 0)
            else:  # drivers whose stats are state-only (libvirt's test driver)
                try:
                    _st, max_mem, mem, vcpus, cpu = vdom.info()
                except lv.libvirtError:
                    max_mem = mem = vcpus = cpu = 0
            rec = DomainRecord(
                vdom.name(), uuid, dom_id if dom_id >= 0 else None,
                states.get(stats.get("state.state", 0), DomainState.NOSTATE), stats.get("state.reason", 0),
                uuid not in transient, uuid in autostart, uuid in managed, snapshots,
                mem, max_mem, vcpus, cpu, "", None, stats.get("balloon.rss"))
            if accepts is None or accepts(rec.bits):
                records.append(rec)
        return records

    def storage_visible(self, paths: list[str]) -> dict[str, bool | None]:
        """True for a volume of one of the host's storage pools; None for any other path.

        libvirt can only tell about pool volumes: a file outside every pool may
        still exist there, so "not in a pool" is "cannot tell", never False.
        """
        paths = check_path_list(paths)
        vconn = self.vconn()
        lv = self._lv

        def ask(path: str) -> Any:
            def lookup() -> bool | None:
                try:
                    with self.using(vconn, f"looking up {path}"):
                        vconn.storageVolLookupByPath(path)
                    return True
                except lv.libvirtError as exc:
                    if exc.get_error_code() == _NO_STORAGE_VOL:
                        return None
                    return self.call(f"looking up {path}", _raise, exc)
            return lookup

        return dict(zip(paths, concurrently([ask(p) for p in paths], self._rpc), strict=False)) if paths else {}

    # -- deleting disk files (libvirt's storage API) --------------------------------
    def check_delete_disks(self, paths: list[str], domain: Domain | None = None) -> dict[str, DriverError]:
        """Why :meth:`delete_disks` would refuse each path: NO_SUPPORT outside every storage pool of the
        host (libvirt deletes only pool volumes), RESOURCE_BUSY for a volume a domain of the host uses
        (libvirt itself would delete it under a running guest) and, on this machine, one a VM holds a
        lease on or a domain of another open connection uses."""
        paths = [check_path(p, "disk path") for p in check_path_list(paths)]
        vconn = self.vconn()
        found: dict[str, DriverError] = {}
        for path in paths:
            if self._volume(vconn, path) is None:
                found[path] = DriverError(ErrorCode.NO_SUPPORT, f"{path} is in no storage pool of "
                                          f"{self.libvirt_uri}; libvirt deletes only pool volumes: delete "
                                          "the file on that host itself")
        rest = [p for p in paths if p not in found]
        busy = self._domains_using(vconn, rest, domain.uuid if domain is not None else None)
        if self.local:
            for users in (diskdelete.lease_users(rest), diskdelete.defined_users(rest)):
                for path, who in users.items():
                    busy.setdefault(path, []).extend(who.values() if isinstance(who, dict) else who)
        for path, who in busy.items():
            found[path] = DriverError(ErrorCode.RESOURCE_BUSY, f"disk {path} is in use by {'; '.join(who)}")
        return found

    def delete_disks(self, paths: list[str], flags: int = 0) -> list[str]:
        """Delete pool volumes through libvirt (storageVolLookupByPath, then delete); all or none refused."""
        check_flags(flags, 0, "delete_disks")
        paths = list(dict.fromkeys(check_path(p, "disk path") for p in check_path_list(paths)))
        found = self.check_delete_disks(paths)
        if found:
            code = ErrorCode.RESOURCE_BUSY if any(e.code is ErrorCode.RESOURCE_BUSY for e in found.values()) \
                else next(iter(found.values())).code
            raise DriverError(code, "nothing was deleted: " + "; ".join(e.message for e in found.values()))
        vconn = self.vconn()
        removed = []
        for path in paths:
            vol = self._volume(vconn, path)
            if vol is not None:
                self.call(f"deleting {path}", vol.delete, 0)
                removed.append(path)
        return removed

    def _volume(self, vconn: Any, path: str) -> Any:
        """The storage volume at ``path``, or None when no pool of the host has it."""
        try:
            with self.using(vconn, f"looking up {path}"):
                return vconn.storageVolLookupByPath(path)
        except self._lv.libvirtError as exc:
            if exc.get_error_code() == _NO_STORAGE_VOL:
                return None
            return self.call(f"looking up {path}", _raise, exc)

    def _domains_using(self, vconn: Any, paths: list[str], skip_uuid: str | None) -> dict[str, list[str]]:
        """path -> the domains of this libvirt host whose definition (or running XML) names it."""
        if not paths:
            return {}
        found: dict[str, list[str]] = {}
        for vdom in self.call("listing domains", vconn.listAllDomains, 0):
            uuid = vdom.UUIDString()
            if uuid == skip_uuid:
                continue
            sources: set[str] = set()
            try:
                persistent, running = bool(vdom.isPersistent()), bool(vdom.isActive())
            except self._lv.libvirtError:
                continue  # undefined while we listed: it uses nothing any more
            for flags in (0, 2) if persistent else (0,):  # live, then the inactive definition
                try:
                    root = parse_xml(vdom.XMLDesc(flags), "domain")
                except (self._lv.libvirtError, DriverError):
                    continue
                sources.update(src.get("file") or src.get("dev") or ""
                               for src in root.iterfind("devices/disk/source"))
            for path in paths:
                if path in sources:
                    state = "running" if running else "defined"
                    found.setdefault(path, []).append(
                        f"{'VM' if running else 'domain'} '{vdom.name()}' (uuid {uuid}, {state} on {self.libvirt_uri})")
        return found

    def _snapshot_counts(self, vdoms: list[Any]) -> dict[str, int]:
        lv = self._lv

        def count(vdom: Any) -> int:
            try:
                return vdom.snapshotNum(0)
            except lv.libvirtError:
                return 1  # it has some: that much is known

        out: dict[str, int] = {}
        for start in range(0, len(vdoms), _SNAPSHOT_BATCH):
            batch = vdoms[start:start + _SNAPSHOT_BATCH]
            for vdom, n in zip(batch, concurrently([(lambda v=v: count(v)) for v in batch], self._rpc), strict=False):
                out[vdom.UUIDString()] = n
        return out

    def lookup_by_name(self, name: str) -> Domain:
        vconn = self.vconn()
        return self._wrap(self.call(f"lookup of '{name}'", vconn.lookupByName, name))

    def lookup_by_uuid(self, uuid: str) -> Domain:
        vconn = self.vconn()
        return self._wrap(self.call(f"lookup of {uuid}", vconn.lookupByUUIDString, str(uuid)))

    def define_xml(self, xml: str) -> Domain:
        check_xml(xml, "domain")
        vconn = self.vconn()
        return self._wrap(self.call("define", vconn.defineXML, xml))

    def create_xml(self, xml: str, flags: int = 0) -> Domain:
        flags = check_flags(flags, 0x3F, "create_xml")
        check_xml(xml, "domain")
        vconn = self.vconn()
        return self._wrap(self.call("create", vconn.createXML, xml, flags))

    def restore(self, path: str, flags: int = 0) -> int | None:
        flags = check_flags(flags, int(SaveFlags.BYPASS_CACHE | SaveFlags.RUNNING | SaveFlags.PAUSED
                                       | JobFlags.ASYNC), "restore")
        asynchronous = bool(flags & JobFlags.ASYNC)
        flags &= ~int(JobFlags.ASYNC)
        vconn = self.vconn()
        name, uuid = self._save_image_identity(vconn, path)
        job = self.jobs.begin(uuid, name, JobOperation.RESTORE, "restore")

        def get_vdom() -> Any:
            with self._lock:
                live = self._vconn
            if live is None or len(uuid) != 36:
                return None
            try:
                with self.using(live, "looking up the restored domain"):
                    return live.lookupByUUIDString(uuid)
            except (self._lv.libvirtError, DriverError):
                return None

        self.tracker.track(job, get_vdom)

        def worker(job: Job) -> None:
            self.call(f"restore from {path}", vconn.restoreFlags, path, None, flags)
            self.tracker.apply(job, self.tracker.final_stats(get_vdom()))

        return self.jobs.run(job, worker, asynchronous, lambda _e: self.tracker.untrack(job))

    def _save_image_identity(self, vconn: Any, path: str) -> tuple[str, str]:
        """(name, uuid) of the domain in a save image; the path when libvirt cannot tell."""
        try:
            with self.using(vconn, f"reading {path}"):
                text = vconn.saveImageGetXMLDesc(path, 0)
            root = parse_xml(text, "domain")
            name, uuid = root.findtext("name"), root.findtext("uuid")
            if name and uuid:
                return name, uuid.lower()
        except (self._lv.libvirtError, DriverError):
            pass
        return path, f"restore:{path}"

    # -- jobs -------------------------------------------------------------------
    def list_all_jobs(self) -> list[JobInfo]:
        self._check_open()
        return self.jobs.list_all()

    def run_job(self, job: Job, worker: Callable[[Job], T], asynchronous: bool) -> T | int:
        return self.jobs.run(job, worker, asynchronous)

    def wait_events(self, timeout: float = 5.0) -> bool:
        """Deliver everything queued so far (tests, scripts)."""
        return self.bus.flush(timeout)

