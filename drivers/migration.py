"""The migration coordinator: negotiate a protocol, then drive the phases.

Both connections are asked ``supports_feature`` first; the newest protocol both
speak is used (V3: begin/prepare/perform/finish/confirm, else V2:
prepare/perform/finish), and when they share none the call fails with
NO_SUPPORT before anything is touched. Whatever phase fails, the source keeps
running (or stays paused if it was) and the destination's half-built guest is
removed. Disk leases move inside the drivers' perform/finish/confirm phases.

The phases are no part of the public :class:`~drivers.base.Connection`: a
connection this module can drive implements :class:`MigrationPhases`, and
one that only answers which connections it can migrate with (the libvirt
bridge, whose domains migrate through libvirt itself) :class:`MigrationPeer`.
"""
from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

from .base import Connection, Domain
from .errors import DriverError, ErrorCode, check_flags, invalid_arg, no_support
from .flags import DomainXMLFlags, Feature, JobFlags, MigrateFlags

log = logging.getLogger(__name__)

_SUPPORTED_FLAGS = (MigrateFlags.LIVE | MigrateFlags.PERSIST_DEST | MigrateFlags.UNDEFINE_SOURCE
                    | MigrateFlags.PAUSED | MigrateFlags.PEER2PEER | MigrateFlags.TUNNELLED
                    | MigrateFlags.NON_SHARED_DISK | MigrateFlags.NON_SHARED_INC
                    | MigrateFlags.CHANGE_PROTECTION | MigrateFlags.UNSAFE | MigrateFlags.OFFLINE
                    | MigrateFlags.AUTO_CONVERGE)


@runtime_checkable
class MigrationPeer(Protocol):
    """A connection that can say which connections it migrates domains to and from."""

    def migration_peer_ok(self, other: Connection) -> bool:
        """Whether a guest can move between this connection's hypervisor and ``other``'s (one kind)."""
        ...


@runtime_checkable
class MigrationPhases(MigrationPeer, Protocol):
    """A connection whose migrations this module drives: the V3 phases (V2 uses prepare/perform/finish)."""

    def migration_job(self, dom: Domain, action: str) -> Any:
        """Register the source's MIGRATION_OUT job (the worker then runs the phases)."""
        ...

    def migrate_begin(self, dom: Domain, flags: int, params: dict[str, Any]) -> str: ...

    def migrate_prepare(self, xml: str, flags: int, params: dict[str, Any]) -> dict[str, Any]: ...

    def migrate_perform(self, dom: Domain, cookie: dict[str, Any], flags: int,
                        params: dict[str, Any], job: Any) -> None: ...

    def migrate_finish(self, cookie: dict[str, Any], flags: int, cancelled: bool) -> Domain | None: ...

    def migrate_confirm(self, dom: Domain, flags: int, cancelled: bool) -> None: ...


def peers_compatible(src: Connection, dest: Connection) -> bool:
    """Whether a domain can move between the two connections: both run one kind of hypervisor."""
    return isinstance(src, MigrationPeer) and isinstance(dest, MigrationPeer) and \
        src.migration_peer_ok(dest) and dest.migration_peer_ok(src)


def _phases(conn: Connection) -> MigrationPhases:
    """``conn`` as the phases' end; NO_SUPPORT for a connection whose driver has none."""
    if not isinstance(conn, MigrationPhases):
        raise no_support("migration")
    return conn


#: The first QEMU whose TCG accelerator records every guest store during a live migration.
#: Before it, clearing the migration dirty bitmap a 64-page word at a time left the vCPUs'
#: TLB entries writable without dirty tracking, so stores made after a pass went
#: unrecorded and the destination resumed on stale pages (QEMU commit 03bfc2188f,
#: "physmem: Fix migration dirty bitmap coherency with TCG memory access").
TCG_DIRTY_TRACKING_FIXED = (9, 0, 0)


def live_copy_problem(version: tuple[int, int, int], accelerator: str) -> str | None:
    """Why a live copy of a guest's memory would lose writes on this QEMU, or None when it is safe.

    ``accelerator`` is what runs the guest: ``"tcg"`` (emulation) or ``"kvm"``
    (dirty pages come from the kernel, which this bug does not touch).
    """
    if accelerator != "tcg" or tuple(version) >= TCG_DIRTY_TRACKING_FIXED:
        return None
    shown = ".".join(str(part) for part in version)
    return (f"QEMU {shown} under TCG emulation loses guest memory writes made while a live migration "
            "copies memory (fixed in QEMU 9.0), so the guest is paused during the copy")


def choose_protocol(src: Connection, dest: Connection) -> str:
    """'v3' or 'v2', the newest both ends support; NO_SUPPORT when none."""
    for feature, name in ((Feature.MIGRATION_V3, "v3"), (Feature.MIGRATION_V2, "v2")):
        if src.supports_feature(feature) and dest.supports_feature(feature):
            return name
    missing = [c.uri for c in (src, dest)
               if not (c.supports_feature(Feature.MIGRATION_V3) or c.supports_feature(Feature.MIGRATION_V2))]
    detail = (f"{' and '.join(missing)} cannot migrate domains" if missing
              else "the two connections share no migration protocol (V3 or V2)")
    raise DriverError(ErrorCode.NO_SUPPORT, f"migration is not possible: {detail}")


def _check_request(dom: Domain, dest: Connection, flags: int) -> None:
    src = dom.connection
    if not isinstance(dest, Connection):
        raise invalid_arg(f"migration destination must be a connection, not {type(dest).__name__}")
    if dest.closed:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"destination connection {dest.uri} is closed")
    for conn in (src, dest):
        if not isinstance(conn, MigrationPeer):
            raise DriverError(ErrorCode.NO_SUPPORT, f"migration is not possible: {conn.uri} cannot migrate domains")
    if not peers_compatible(src, dest):
        raise DriverError(ErrorCode.NO_SUPPORT,
                          f"cannot migrate from {src.uri} to {dest.uri}: they run different kinds of "
                          "hypervisor; move the domain's disks and define it on the destination instead")
    if src.same_host(dest):
        raise invalid_arg("Attempt to migrate guest to the same host: source and destination "
                          f"({src.uri} and {dest.uri}) manage the same domains")
    if flags & (MigrateFlags.PEER2PEER | MigrateFlags.TUNNELLED):
        raise DriverError(ErrorCode.NO_SUPPORT,
                          "peer-to-peer and tunnelled migration are not supported; "
                          "vmgui drives both hosts itself")
    if flags & MigrateFlags.NON_SHARED_DISK and flags & MigrateFlags.NON_SHARED_INC:
        raise invalid_arg("NON_SHARED_DISK and NON_SHARED_INC are mutually exclusive")
    if flags & MigrateFlags.OFFLINE:
        for conn in (src, dest):
            if not conn.supports_feature(Feature.MIGRATION_OFFLINE):
                raise DriverError(ErrorCode.NO_SUPPORT, f"offline migration is not supported by {conn.uri}")
        if not flags & MigrateFlags.PERSIST_DEST:
            raise invalid_arg("offline migration requires PERSIST_DEST")
    elif not dom.is_active():
        raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{dom.name}' is not running")


def migrate(dom: Domain, dest: Connection, flags: int = MigrateFlags.LIVE,
            params: dict[str, Any] | None = None) -> Domain | int:
    """Move ``dom`` to ``dest``. Returns the destination Domain, or a job id with ASYNC."""
    flags = check_flags(flags, int(_SUPPORTED_FLAGS | JobFlags.ASYNC), "migrate")
    asynchronous = bool(flags & JobFlags.ASYNC)
    flags &= ~int(JobFlags.ASYNC)
    params = dict(params or {})
    src = dom.connection
    _check_request(dom, dest, flags)
    protocol = choose_protocol(src, dest)  # NO_SUPPORT here: nothing touched yet
    src_end, _ = _phases(src), _phases(dest)
    job = src_end.migration_job(dom, "migrate")

    def worker(job: Any) -> Domain:
        return _run_phases(protocol, dom, dest, flags, params, job)

    return src.run_job(job, worker, asynchronous)


def _run_phases(protocol: str, dom: Domain, dest: Connection, flags: int,
                params: dict[str, Any], job: Any) -> Domain:
    src, dest_end = _phases(dom.connection), _phases(dest)
    # v2: the whole definition, a display's password too (libvirt's v2 asks for SECURE as well)
    xml = src.migrate_begin(dom, flags, params) if protocol == "v3" else dom.xml_desc(int(DomainXMLFlags.SECURE))
    job.raise_if_cancelled()
    cookie = dest_end.migrate_prepare(xml, flags, params)
    try:
        job.raise_if_cancelled()
        src.migrate_perform(dom, cookie, flags, params, job)
    except BaseException:
        _rollback(dom, dest, cookie, flags)
        raise
    try:
        new_dom = dest_end.migrate_finish(cookie, flags, cancelled=False)
    except BaseException:
        _rollback(dom, dest, cookie, flags)  # finish(cancelled=True) is idempotent
        raise
    if new_dom is None:
        _rollback(dom, dest, cookie, flags, finish_done=True)
        raise DriverError(ErrorCode.OPERATION_FAILED,
                          f"the destination {dest.uri} could not start '{dom.name}'; it keeps running here")
    src.migrate_confirm(dom, flags, cancelled=False)
    return new_dom


def _rollback(dom: Domain, dest: Connection, cookie: dict[str, Any], flags: int,
              finish_done: bool = False) -> None:
    """Undo a failed migration: drop the destination copy, resume the source."""
    src, dest_end = _phases(dom.connection), _phases(dest)
    if not finish_done:
        try:
            dest_end.migrate_finish(cookie, flags, cancelled=True)
        except Exception:
            log.exception("cleaning up the destination of '%s' failed", dom.name)
    try:
        src.migrate_confirm(dom, flags, cancelled=True)
    except Exception:
        log.exception("resuming '%s' on the source after a failed migration failed", dom.name)
