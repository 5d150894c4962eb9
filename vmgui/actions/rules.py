"""The facts an action's rules read, and the rules several actions share. Plain data, no Qt.

A rule returns None when the action may run, else the reason a person reads,
phrased to follow the domain's name ("'web01' is not running") and marked for translation (N_).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from drivers import DomainRecord, DomainState, Feature, JobInfo

from ..textmark import N_

Key = tuple[str, str]  # (connection uri, domain uuid)


@dataclass(frozen=True)
class Selected:
    """One selected domain, as the action rules see it."""

    uri: str
    record: DomainRecord
    job: JobInfo | None = None  # its running job, if any
    busy: bool = False  # a GUI call on it is still in flight


@dataclass(frozen=True)
class Context:
    """What the rules read besides the selection: the open connections' features and the display viewers."""

    #: connection uri -> every Feature it supports (empty: not connected)
    features: Mapping[str, frozenset[Feature]]
    #: (uri, domain key) -> why no installed viewer can show that domain's display, or None
    why_no_viewer: Callable[[str, Key], str | None]
    #: uri -> the name of the viewer a domain of it would open in
    viewer_name: Callable[[str], str]

    def features_of(self, uri: str) -> frozenset[Feature]:
        return self.features.get(uri, frozenset())


RecordRule = Callable[[DomainRecord], str | None]
DomainRule = Callable[[Selected, Context], str | None]
HostRule = Callable[[Context], str | None]
DomainText = Callable[[Selected, Context], str]

_RUNNING = (DomainState.RUNNING, DomainState.BLOCKED)


def always(_rec: DomainRecord) -> str | None:
    return None


def running(rec: DomainRecord) -> str | None:
    return None if rec.state in _RUNNING else N_("is not running")


def running_or_paused(rec: DomainRecord) -> str | None:
    return None if rec.state in (*_RUNNING, DomainState.PAUSED) else N_("is not running")


def active(rec: DomainRecord) -> str | None:
    """Any state with a process (crashed and paused ones too)."""
    return None if rec.id is not None else N_("is not running")


def inactive(rec: DomainRecord) -> str | None:
    return None if rec.id is None else N_("is already running")


def paused(rec: DomainRecord) -> str | None:
    return None if rec.state == DomainState.PAUSED else N_("is not paused")


def savable(rec: DomainRecord) -> str | None:
    if rec.state not in (DomainState.RUNNING, DomainState.PAUSED):
        return N_("is not running")
    return None if rec.persistent else N_("is transient (only persistent domains keep a saved state)")


def backed_up_live(rec: DomainRecord) -> str | None:
    return None if rec.id is not None else N_("is not running (a push backup needs a running guest)")


def clonable(sel: Selected, ctx: Context) -> str | None:
    """A shut-off domain, or a running one where the driver copies its disks as of one instant."""
    if sel.record.id is None or Feature.CLONE_RUNNING in ctx.features_of(sel.uri):
        return None
    return N_("is running: shut it down to clone it")


def persistent(rec: DomainRecord) -> str | None:
    return None if rec.persistent else N_("is transient: it disappears when it stops")


def can_migrate(features: frozenset[Feature]) -> bool:
    """The driver speaks a migration protocol (V3 or V2), so its domains may move at all."""
    return Feature.MIGRATION_V3 in features or Feature.MIGRATION_V2 in features


def migration_targets(uri: str, features: Mapping[str, frozenset[Feature]]) -> list[str]:
    """Open connections a domain of ``uri`` could migrate to (a shared protocol, another host)."""
    mine = features.get(uri, frozenset())
    return [other for other, feats in features.items()
            if other != uri and ({Feature.MIGRATION_V3, Feature.MIGRATION_V2} & mine & feats)]


def migratable(sel: Selected, ctx: Context) -> str | None:
    """Running domains move live; a shut-off persistent one moves offline where both ends can."""
    feats = ctx.features_of(sel.uri)
    if not can_migrate(feats):
        return N_("{uri} cannot migrate domains", uri=sel.uri)
    dests = migration_targets(sel.uri, ctx.features)
    if not dests:
        return N_("no other open connection can receive it (connect to a destination first)")
    if sel.record.id is not None:
        return None
    if not sel.record.persistent:
        return N_("is not running")
    if Feature.MIGRATION_OFFLINE not in feats:
        return N_("is shut off, and {uri} cannot migrate a definition offline (start it first)", uri=sel.uri)
    if not any(Feature.MIGRATION_OFFLINE in ctx.features[d] for d in dests):
        return N_("is shut off, and no open destination accepts an offline migration (start it first)")
    return None


def viewable(sel: Selected, ctx: Context) -> str | None:
    """An installed VNC viewer can reach displays of its connection (and it is not known to have none)."""
    return ctx.why_no_viewer(sel.uri, (sel.uri, sel.record.uuid))


def viewer_text(sel: Selected, ctx: Context) -> str:
    return N_("Open the graphical console in {viewer}", viewer=ctx.viewer_name(sel.uri))


def can_define_somewhere(ctx: Context) -> str | None:
    if any(Feature.DEFINE in feats for feats in ctx.features.values()):
        return None
    return N_("No open connection can define domains: connect to one first")
