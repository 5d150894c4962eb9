"""Offline migration on ``test:///`` (``MigrateFlags.OFFLINE``): only the persistent definition moves.

libvirt's semantics (``VIR_MIGRATE_OFFLINE``, qemu driver): no memory is
copied, so there is no MIGRATION_IN job and the coordinator's MIGRATION_OUT
job completes as soon as the phases return; the destination *defines* the
domain (persistent, shut off, same uuid; DEFINED event) and never starts it;
the source is neither stopped nor touched, and only an inactive source is
undefined by UNDEFINE_SOURCE (UNDEFINED event). A transient domain has no
definition to move. Clashes on the destination are found in prepare, before
anything changed on either side.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..base import Domain
from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode
from ..flags import MigrateFlags
from .world import SimDomain, TestHost

if TYPE_CHECKING:
    from .connection import TestConnection


def definition_to_move(host: TestHost, dom: Domain) -> SimDomain:
    """The source domain, refused when it has no persistent definition (a transient guest)."""
    sim = host.get(dom.uuid, dom.name)
    if not sim.persistent:
        raise DriverError(ErrorCode.OPERATION_INVALID,
                          f"transient domain '{sim.name}' has no definition to move; "
                          "migrate it live or define it first")
    return sim


def check_arrival(host: TestHost, definition: DomainXML, uri: str) -> None:
    """Refuse a destination clash as libvirt's domain list does (call under the host lock)."""
    same_uuid = host.by_uuid.get(definition.uuid)
    if same_uuid is not None and same_uuid.name != definition.name:
        raise DriverError(ErrorCode.OPERATION_FAILED,
                          f"domain '{same_uuid.name}' is already defined with uuid {definition.uuid} on {uri}")
    if same_uuid is not None and same_uuid.active:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{same_uuid.name}' is already running on {uri}")
    other = host.by_name.get(definition.name)
    if other is not None and other.uuid != definition.uuid:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"{uri} already has another domain named '{definition.name}'")


def begin(conn: TestConnection, dom: Domain, params: dict[str, Any]) -> str:
    """V3 begin: the persistent definition (not the live one), or the caller's destination XML."""
    with conn.host.lock:
        sim = definition_to_move(conn.host, dom)
        return params.get("destination_xml") or sim.config.to_string()


def prepare(conn: TestConnection, definition: DomainXML) -> dict[str, Any]:
    """Destination: check only; nothing is created until finish."""
    with conn.host.lock:
        check_arrival(conn.host, definition, conn.uri)
    return {"uuid": definition.uuid, "name": definition.name, "offline": True, "xml": definition.to_string()}


def perform(conn: TestConnection, dom: Domain) -> None:
    """Source: nothing to copy; V2 has no begin phase, so the source is checked here too."""
    with conn.host.lock:
        definition_to_move(conn.host, dom)


def finish(conn: TestConnection, cookie: dict[str, Any], cancelled: bool) -> Domain | None:
    """Destination: define the domain (shut off, persistent); a cancel has nothing to undo."""
    if cancelled:
        return None
    with conn.host.lock:  # re-entrant: the check and the definition are one step
        check_arrival(conn.host, DomainXML.parse(cookie["xml"]), conn.uri)
        return conn.define_xml(cookie["xml"])


def confirm(conn: TestConnection, dom: Domain, flags: int, cancelled: bool) -> None:
    """Source: the domain stays as it was, unless UNDEFINE_SOURCE and it is shut off."""
    if cancelled or not flags & MigrateFlags.UNDEFINE_SOURCE:
        return
    with conn.host.lock:
        sim = conn.host.by_uuid.get(dom.uuid)
        if sim is not None and sim.persistent and not sim.active:
            conn.undefine_source(sim)
