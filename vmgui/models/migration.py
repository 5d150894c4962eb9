"""Can this domain move to that connection? The migration dialog's compatibility check.

Split in two so the rules are testable without a driver: :func:`evaluate`
turns plain :class:`Facts` into a :class:`Check` (findings a person can read,
each naming the thing that blocks), and :func:`gather` collects those facts off
the UI thread through the session's bridge. The driver would refuse most of
these cases too, but only after the user pressed Start; here the reason shows
before, next to the destination.
"""
from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import drivers
from drivers import DomainState, DriverError, ErrorCode, Feature, JobInfo
from drivers.domxml import DomainXML
from drivers.migration import peers_compatible

from ..bridge import CallAbandoned
from ..textmark import N_, NP_
from .actions import can_migrate
from .domains import Key
from .statewords import operation_words
from .validation import migrate_flags

if TYPE_CHECKING:
    from .session import Session

PROTOCOLS = ((Feature.MIGRATION_V3, "V3"), (Feature.MIGRATION_V2, "V2"))


class Level(enum.IntEnum):
    """How a finding weighs; a check is as bad as its worst finding."""

    OK = 0
    WARNING = 1
    BLOCKED = 2


class Mode(enum.Enum):
    LIVE = "live"  # the running guest moves
    OFFLINE = "offline"  # a shut-off persistent domain: only its definition moves
    NONE = "none"  # blocked before a mode could be chosen


@dataclass(frozen=True)
class Finding:
    level: Level
    text: str  # marked for translation (a vmgui.textmark.Text where vmgui says it)


@dataclass(frozen=True)
class Facts:
    """Everything the rules need about one (domain, destination) pair."""

    key: Key
    name: str
    dest: str
    state: DomainState
    persistent: bool
    src_features: frozenset[Feature] = frozenset()
    dest_features: frozenset[Feature] = frozenset()
    job: JobInfo | None = None
    peer_ok: bool = True  # both drivers accept each other (one kind of hypervisor)
    same_host: bool = False
    dest_uuid: str | None = None  # a domain of this name on the destination, if any
    dest_active: bool = False
    disks: Mapping[str, bool | None] = field(default_factory=dict)  # path -> the destination sees it
    live_problem: str | None = None  # the source driver's reason a live copy would lose guest writes
    error: str | None = None  # the facts could not be gathered


@dataclass(frozen=True)
class Check:
    key: Key
    name: str
    dest: str
    mode: Mode
    findings: tuple[Finding, ...]
    #: why this guest moves paused even when Live is ticked (the source driver's answer), or None
    live_problem: str | None = None

    @property
    def level(self) -> Level:
        return max((f.level for f in self.findings), default=Level.OK)

    @property
    def blocked(self) -> bool:
        return self.level is Level.BLOCKED

    def reasons(self) -> list[str]:
        """The blocking sentences."""
        return [f.text for f in self.findings if f.level is Level.BLOCKED]


def _protocol(src: frozenset[Feature], dest: frozenset[Feature]) -> str | None:
    return next((name for feature, name in PROTOCOLS if feature in src and feature in dest), None)


def _protocol_findings(f: Facts) -> list[Finding]:
    src_uri = f.key[0]
    if not can_migrate(f.src_features):
        return [Finding(Level.BLOCKED, N_("{uri} cannot migrate domains", uri=src_uri))]
    if not can_migrate(f.dest_features):
        return [Finding(Level.BLOCKED, N_("the destination {dest} cannot receive migrations", dest=f.dest))]
    protocol = _protocol(f.src_features, f.dest_features)
    if protocol is None:
        return [Finding(Level.BLOCKED, N_("{uri} and {dest} share no migration protocol (V3 or V2)", uri=src_uri,
                                          dest=f.dest))]
    if not f.peer_ok:
        return [Finding(Level.BLOCKED, N_("{uri} and {dest} run different kinds of hypervisor", uri=src_uri,
                                          dest=f.dest))]
    if f.same_host:
        return [Finding(Level.BLOCKED, N_("{uri} and {dest} are the same host (they manage the same domains)",
                                          uri=src_uri, dest=f.dest))]
    return [Finding(Level.OK, N_("migration protocol {protocol}, supported by both", protocol=protocol))]


def _mode(f: Facts) -> tuple[Mode, Finding]:
    if f.state not in (DomainState.SHUTOFF, DomainState.NOSTATE):
        if f.live_problem is not None:
            return Mode.LIVE, Finding(Level.WARNING, N_("{name} moves paused, not live: {why}", name=f.name,
                                                        why=f.live_problem))
        said = N_("{name} is paused: its memory moves with it") if f.state is DomainState.PAUSED \
            else N_("{name} is running: its memory moves with it")
        return Mode.LIVE, Finding(Level.OK, N_(said, name=f.name))
    if not f.persistent:
        return Mode.NONE, Finding(Level.BLOCKED, N_("{name} is not running and has no definition to move",
                                                    name=f.name))
    missing = [uri for uri, feats in ((f.key[0], f.src_features), (f.dest, f.dest_features))
               if Feature.MIGRATION_OFFLINE not in feats]
    if missing:
        return Mode.NONE, Finding(Level.BLOCKED, N_(
            "{name} is shut off and {hosts} cannot migrate a definition offline (start it first)", name=f.name,
            hosts=" and ".join(missing)))
    return Mode.OFFLINE, Finding(Level.OK, N_("{name} is shut off: only its definition moves (offline migration)",
                                              name=f.name))


def _name_findings(f: Facts) -> list[Finding]:
    if f.dest_uuid is None:
        return [Finding(Level.OK, N_("the name {name} is free on {dest}", name=f.name, dest=f.dest))]
    if f.dest_uuid != f.key[1]:
        return [Finding(Level.BLOCKED, N_("a domain named {name} already exists on {dest}", name=f.name, dest=f.dest))]
    if f.dest_active:
        return [Finding(Level.BLOCKED, N_("{name} is already running on {dest}", name=f.name, dest=f.dest))]
    return [Finding(Level.WARNING, N_("{dest} already holds a definition of {name} (same UUID); the migration "
                                      "replaces it", name=f.name, dest=f.dest))]


def _disk_findings(f: Facts) -> list[Finding]:
    if not f.disks:
        return [Finding(Level.OK, N_("{name} has no disk files to check", name=f.name))]
    found = []
    for path, seen in f.disks.items():
        if seen is False:
            found.append(Finding(Level.BLOCKED, N_("the destination {dest} cannot see {path}", dest=f.dest,
                                                   path=path)))
        elif seen is None:
            found.append(Finding(Level.WARNING, N_("cannot tell whether the destination {dest} sees {path}",
                                                   dest=f.dest, path=path)))
    if not found:
        found.append(Finding(Level.OK, NP_("{dest} sees its disk", "{dest} sees all %n disks", len(f.disks),
                                           dest=f.dest)))
    return found


def evaluate(f: Facts) -> Check:
    """The findings for one pair; every blocking one names what blocks."""
    if f.error is not None:
        return Check(f.key, f.name, f.dest, Mode.NONE, (Finding(Level.BLOCKED, f.error),))
    if f.key[0] == f.dest:
        return Check(f.key, f.name, f.dest, Mode.NONE,
                     (Finding(Level.BLOCKED, N_("{name} already lives on {dest}", name=f.name, dest=f.dest)),))
    findings: list[Finding] = []
    if f.job is not None:
        findings.append(Finding(Level.BLOCKED, N_("{name} is busy: its {operation} job {job} is running",
                                                  name=f.name, operation=operation_words(f.job.operation),
                                                  job=f.job.id)))
    findings += _protocol_findings(f)
    mode, said = _mode(f)
    findings.append(said)
    findings += _name_findings(f)
    findings += _disk_findings(f)
    return Check(f.key, f.name, f.dest, mode, tuple(findings), f.live_problem if mode is Mode.LIVE else None)


def flags_for(check: Check, live: bool, persist: bool, undefine_source: bool) -> int:
    """The driver flags of one migration from the dialog's options and the check's mode.

    A guest whose live copy would lose writes is asked for paused, as the driver would do anyway.
    """
    return migrate_flags(persist, undefine_source, live and check.live_problem is None,
                         offline=check.mode is Mode.OFFLINE)


def disk_paths(xml: str) -> list[str]:
    """Files the destination must see: file/block disk sources (an empty cdrom has none)."""
    return [d.source for d in DomainXML.parse(xml).disks() if d.source and d.type in ("file", "block")]


def _dest_facts(conn: drivers.Connection, name: str, paths: list[str]) -> tuple[str | None, bool,
                                                                                 dict[str, bool | None]]:
    """Worker side, on the destination: who holds ``name`` there, and which ``paths`` it sees."""
    try:
        other = conn.lookup_by_name(name)
        uuid, active = other.uuid, other.is_active()
    except DriverError as exc:
        if exc.code is not ErrorCode.NO_DOMAIN:
            raise
        uuid, active = None, False
    seen: dict[str, bool | None] = dict.fromkeys(paths)
    if paths:
        seen.update(conn.storage_visible(paths))  # None where that driver cannot tell
    return uuid, active, seen


def _source_facts(src: drivers.Connection, dest: drivers.Connection, uuid: str,
                  running: bool) -> tuple[bool, bool, str | None]:
    """Worker side: (one kind of hypervisor, the same host, why a live copy would lose writes)."""
    problem = src.lookup_by_uuid(uuid).live_migration_problem() if running else None
    return peers_compatible(src, dest), src.same_host(dest), problem


#: A host that has not answered a check by then is reported as not answering (Start stays off),
#: rather than leaving the dialog at "Checking…" until the user gives up on the connection.
CHECK_TIMEOUT_S = 20.0


async def gather(session: Session, key: Key, dest: str) -> Facts:
    """The facts for ``key`` -> ``dest``, read in the bridge's workers; failures become ``error``."""
    row = session.domains.get(key)
    name = session.domains.name_of(key)
    if row is None:
        return Facts(key, name, dest, DomainState.NOSTATE, False,
                     error=N_("{name} is gone from {uri}", name=name, uri=key[0]))
    features = session.connections.features()
    base = Facts(key, name, dest, row.rec.state, row.rec.persistent, features.get(key[0], frozenset()),
                 features.get(dest, frozenset()), session.jobs.running_job(key[0], key[1], name))
    if key[0] == dest:
        return base
    bridge = session.bridge
    dest_conn = bridge.connection(dest)
    if dest_conn is None or not base.dest_features:
        return replace(base, error=N_("the destination {dest} is not connected", dest=dest))
    try:
        paths = disk_paths(await session.domain_xml(key))
        running = base.state in (DomainState.RUNNING, DomainState.BLOCKED)
        peer, dest_side = await asyncio.gather(
            bridge.call(key[0], lambda c: _source_facts(c, dest_conn, key[1], running),
                        N_("checking {dest} as a destination", dest=dest), CHECK_TIMEOUT_S),
            bridge.call(dest, lambda c: _dest_facts(c, name, paths),
                        N_("checking {dest} for {name}", dest=dest, name=name),
                        CHECK_TIMEOUT_S))
    except (DriverError, CallAbandoned) as exc:
        return replace(base, error=N_("cannot check {name}: {why}", name=name,
                                      why=getattr(exc, "message", None) or str(exc)))
    return replace(base, peer_ok=peer[0], same_host=peer[1], live_problem=peer[2], dest_uuid=dest_side[0],
                   dest_active=dest_side[1], disks=dest_side[2])


async def check_all(session: Session, keys: list[Key], dest: str) -> list[Check]:
    """One :class:`Check` per domain, gathered in parallel."""
    facts = await asyncio.gather(*(gather(session, key, dest) for key in keys))
    return [evaluate(f) for f in facts]
