"""Live migration between two ``qemu:///embed`` roots (V3 phases of drivers.migration).

* prepare (destination): QEMU starts with ``-incoming defer`` under a
  supervisor that only *registers* the disk leases, then listens on TCP
  (``listen_address`` param, default loopback; port chosen by QEMU).
* perform (source): ``migrate`` with progress from ``query-migrate``; at
  switch-over QEMU pauses the source, which then releases its leases.
* finish (destination): waits for the stream, takes the leases over
  (``acquire_state``) and resumes the guest (unless PAUSED).
* confirm (source): stops the source QEMU, or on failure takes the leases
  back and resumes it.
"""
from __future__ import annotations

import os
import socket
from typing import Any, Protocol

from ..base import Domain
from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode
from ..flags import (
    DefinedDetail,
    DomainState,
    EventType,
    JobOperation,
    MigrateFlags,
    PausedReason,
    ResumedDetail,
    RunningReason,
    ShutoffReason,
    StartedDetail,
    StoppedDetail,
    SuspendedDetail,
    UndefinedDetail,
)
from ..jobs import Job
from ..lifecycle import not_running
from ..migration import live_copy_problem as engine_problem
from . import leases, streams
from .events import EventHost
from .state import LiveVM, QDom


class MigrationEnd(Protocol):
    """A connection at one end of a migration, as the phases need it (QemuConnection is one)."""

    @property
    def host(self) -> EventHost: ...

    @property
    def uri(self) -> str: ...

    def define_xml(self, xml: str) -> Domain: ...

    def domain_handle(self, name: str, uuid: str) -> Domain: ...


def live_copy_problem(vm: LiveVM) -> str | None:
    """Why a live copy of this QEMU process's memory would lose guest writes, or None (see drivers.migration)."""
    if vm.engine is None:
        version = vm.execute("query-version")["qemu"]
        accelerator = "kvm" if vm.execute("query-kvm").get("enabled") else "tcg"
        vm.engine = ((int(version["major"]), int(version["minor"]), int(version["micro"])), accelerator)
    return engine_problem(*vm.engine)


def begin(conn: MigrationEnd, dom: Domain, flags: int, params: dict[str, Any]) -> str:
    with conn.host.lock:
        qd = conn.host.get(dom.uuid, dom.name)
        if flags & MigrateFlags.OFFLINE:  # only the definition moves
            if qd.config is None:
                raise DriverError(ErrorCode.OPERATION_INVALID,
                                  f"transient domain '{qd.name}' has no definition to move")
            _check_offline_state(conn, qd)
            return params.get("destination_xml") or qd.config.to_string()
        if qd.live is None:
            raise not_running(qd.name)
        return params.get("destination_xml") or conn.host.portable_xml(qd.live.definition)


def _check_offline_state(conn: MigrationEnd, qd: QDom) -> None:
    """An offline move takes only the definition: refuse one that would leave UEFI variables or a TPM behind."""
    left = []
    nvram = qd.config.nvram if qd.config is not None else None
    if nvram and os.path.exists(nvram):
        left.append(f"its UEFI variable store {nvram}")
    if any(conn.host.layout.tpm_dir(qd.uuid).glob("tpm2-*")):
        left.append("its TPM state")
    if left:
        raise DriverError(ErrorCode.OPERATION_INVALID,
                          f"an offline migration of '{qd.name}' moves only its definition: {' and '.join(left)} "
                          "would stay behind. Migrate it while it runs (QEMU carries both in the stream)")


def local_nvram(conn: MigrationEnd, definition: DomainXML) -> None:
    """An incoming UEFI guest keeps its variables in this root's folder (QEMU copies them in the stream)."""
    if definition.uefi:
        definition.set_nvram(str(conn.host.layout.nvram(definition.uuid)), definition.nvram_template)


def prepare(conn: MigrationEnd, definition: DomainXML, flags: int, params: dict[str, Any]) -> dict[str, Any]:
    host = conn.host
    if flags & MigrateFlags.OFFLINE:
        with host.lock:
            other = host.by_name.get(definition.name)
            if other is not None and other.uuid != definition.uuid:
                raise DriverError(ErrorCode.OPERATION_FAILED,
                                  f"{conn.uri} already has another domain named '{definition.name}'")
        return {"uuid": definition.uuid, "name": definition.name, "offline": True, "xml": definition.to_string()}
    local_nvram(conn, definition)
    with host.lock:
        dom = host.by_uuid.get(definition.uuid)
        if dom is not None and dom.active:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{dom.name}' is already running on {conn.uri}")
        other = host.by_name.get(definition.name)
        if other is not None and other.uuid != definition.uuid:
            raise DriverError(ErrorCode.OPERATION_FAILED,
                              f"{conn.uri} already has another domain named '{definition.name}'")
        existed = dom is not None
        if dom is None:
            dom = QDom(None, False, definition.name, definition.uuid, shadow=definition)
            host.add(dom)
        job = host.jobs.begin(dom.uuid, dom.name, JobOperation.MIGRATION_IN, "migrate")
    try:
        vm = host.launch(dom, definition, incoming="defer", register_only=True)
        try:
            vm.incoming = True
            streams.prepare(vm)
            listen, want_port = _listen_of(params)
            vm.execute("migrate-incoming", {"uri": f"tcp:{_host_part(listen)}:{want_port}"})
            addr = vm.execute("query-migrate").get("socket-address") or []
            port = next((a.get("port") for a in addr if a.get("type") == "inet"), None)
            if port is None:
                raise DriverError(ErrorCode.OPERATION_FAILED, "QEMU did not report its migration port")
            advertised = params.get("migrate_host") or (
                listen if listen not in ("0.0.0.0", "::") else socket.getfqdn())
        except BaseException:
            host.kill(vm, 5)
            raise
        with host.lock:
            host.attach_live(dom, vm, DomainState.PAUSED, PausedReason.MIGRATION)
            host.emit(dom, EventType.STARTED, StartedDetail.MIGRATED)
    except BaseException as exc:
        with host.lock:
            if not existed and not dom.active:
                host.remove(dom)
        host.jobs.end(job, exc)
        raise
    return {"uuid": dom.uuid, "name": dom.name, "existed": existed, "job": job, "paused": False,
            "uri": f"tcp:{_host_part(str(advertised))}:{port}"}


def _listen_of(params: dict[str, Any]) -> tuple[str, int]:
    """Where the destination listens: ``migrate_uri`` (tcp:HOST:PORT) or ``listen_address``."""
    uri = params.get("migrate_uri")
    if uri:
        text = str(uri)
        host, sep, port = text[4:].rpartition(":") if text.startswith("tcp:") else ("", "", "")
        if not sep or not port.isdigit() or not host:
            raise DriverError(ErrorCode.INVALID_ARG, f"migrate_uri must look like tcp:HOST:PORT, not {text!r}")
        return host.strip("[]"), int(port)
    return str(params.get("listen_address") or "127.0.0.1"), 0


def _host_part(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def perform(conn: MigrationEnd, dom: Domain, cookie: dict[str, Any], flags: int, params: dict[str, Any],
            job: Job) -> None:
    if cookie.get("offline"):
        return
    host = conn.host
    with host.lock:
        qd = host.get(dom.uuid, dom.name)
        vm = qd.live
        if vm is None:
            raise not_running(qd.name)
        was_paused = qd.state == DomainState.PAUSED
        cookie["paused"] = was_paused
        vm.migration_was_paused = was_paused
        vm.job_note = {"kind": "migration", "was_running": not was_paused}
        host.write_state(qd)
    live = bool(flags & MigrateFlags.LIVE)
    if live and not was_paused and not flags & MigrateFlags.UNSAFE and live_copy_problem(vm):
        live = False  # a paused copy: nothing writes to the memory while it moves
        job.progress(0, None, paused_copy=1.0)
    if not live and not was_paused:
        vm.pause_hint = (int(PausedReason.MIGRATION), int(SuspendedDetail.MIGRATED))
        vm.execute("stop")
        host.sync_status(qd, vm)
    bandwidth = params.get("bandwidth")
    vm.pause_hint = (int(PausedReason.MIGRATION), int(SuspendedDetail.MIGRATED))
    streams.run_outgoing(vm, cookie["uri"], job, f"migration of '{qd.name}'",
                         int(float(bandwidth) * 1024 * 1024) if bandwidth else None)
    host.sync_status(qd, vm)
    cookie["leases"] = vm.sup.release()


def finish(conn: MigrationEnd, cookie: dict[str, Any], flags: int, cancelled: bool) -> Domain | None:
    host = conn.host
    if cookie.get("offline"):
        if cancelled:
            return None
        return conn.define_xml(cookie["xml"])
    job: Job = cookie["job"]
    with host.lock:
        dom = host.by_uuid.get(cookie["uuid"])
        vm = dom.live if dom is not None else None
    if cancelled:
        if dom is not None and vm is not None and vm.incoming:
            vm.ending = (int(ShutoffReason.FAILED), int(StoppedDetail.FAILED))
            host.kill(vm, 5)
            host.finish_stop(dom, vm, ShutoffReason.FAILED, StoppedDetail.FAILED)
        if not job.state.finished:
            host.jobs.end(job, DriverError(ErrorCode.OPERATION_ABORTED, "migration cancelled"))
        return None
    try:
        if dom is None or vm is None or not vm.incoming:
            raise DriverError(ErrorCode.OPERATION_FAILED, "the incoming guest vanished on the destination")
        streams.wait_incoming(vm, f"incoming migration of '{dom.name}'", timeout=60)
        vm.sup.acquire_state(cookie.get("leases") or "")
        resume = not (flags & MigrateFlags.PAUSED or cookie.get("paused"))
        with host.lock:  # the guest is ours from here on: a restart must keep it, not kill it
            vm.incoming = False
            vm.job_note = {"kind": "migration_in", "resume": resume}
            host.write_state(dom)
        if resume:
            vm.resume_hint = (int(RunningReason.MIGRATED), int(ResumedDetail.MIGRATED))
            vm.execute("cont")
            host.sync_status(dom, vm)
        with host.lock:
            if flags & MigrateFlags.PERSIST_DEST:
                dom.config = vm.definition.copy()
                dom.persistent = True
                host.save_config(dom)
                host.emit(dom, EventType.DEFINED, DefinedDetail.ADDED)
            dom.touch()
            vm.job_note = {}
            host.write_state(dom)
    except BaseException as exc:
        host.jobs.end(job, exc)
        raise
    host.jobs.end(job, None)
    return conn.domain_handle(dom.name, dom.uuid)


def confirm(conn: MigrationEnd, dom: Domain, flags: int, cancelled: bool) -> None:
    host = conn.host
    with host.lock:
        qd = host.by_uuid.get(dom.uuid)
        vm = qd.live if qd is not None else None
    if flags & MigrateFlags.OFFLINE:
        if not cancelled and qd is not None and flags & MigrateFlags.UNDEFINE_SOURCE and not qd.active:
            _undefine_source(conn, qd)
        return
    if qd is None or vm is None:
        return
    if cancelled:
        vm.pause_hint = None
        try:
            status: str | None = host.query_status(vm)
        except DriverError:
            status = None  # QEMU ended meanwhile: nothing to resume
        if status is not None and status != "running" and not vm.migration_was_paused:
            host.run_guest(qd, vm, (int(RunningReason.MIGRATION_CANCELED), int(ResumedDetail.MIGRATED)))
        elif status is not None:
            leases.hold(vm.sup, qd.name)  # given up at the switch-over
        with host.lock:
            vm.job_note = {}
            host.write_state(qd)
        host.sync_status(qd, vm)
        return
    vm.job_note = {}
    vm.ending = (int(ShutoffReason.MIGRATED), int(StoppedDetail.MIGRATED))
    host.kill(vm, wait=False)  # its leases already went to the destination
    host.finish_stop(qd, vm, ShutoffReason.MIGRATED, StoppedDetail.MIGRATED)
    if flags & MigrateFlags.UNDEFINE_SOURCE:
        _undefine_source(conn, qd)


def _undefine_source(conn: MigrationEnd, qd: QDom) -> None:
    """UNDEFINE_SOURCE: the source forgets the domain (snapshot metadata and managed save too)."""
    host = conn.host
    with host.lock:
        if qd.persistent and not qd.active:
            host.forget_files(qd)
            qd.snapshots.clear()
            qd.managed_save = False
            qd.persistent = False
            qd.config = None
            host.remove(qd)
            host.emit(qd, EventType.UNDEFINED, UndefinedDetail.REMOVED)
