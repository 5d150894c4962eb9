"""The action states the window shows: the rules of :mod:`vmgui.actions` with this machine's VNC viewers.

The window feeds in the selected domains' records, their running jobs and the
cached features of their connections, and gets back, per action, whether it is
enabled, which domains it applies to and a sentence saying why not.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from drivers import DomainState, Feature

from ..actions import ActionId, ActionState, Context, Selected
from ..actions import compute as compute_states
from ..actions.rules import can_migrate, migration_targets
from . import vnc

if TYPE_CHECKING:  # the session holds the models this reads; it imports the action table itself
    from .domains import Key
    from .session import Session

__all__ = ["ACTIVE", "ActionState", "Selected", "can_migrate", "compute", "context", "migration_targets", "selected"]

#: The states with a guest process (its screen can be shown).
ACTIVE = frozenset({DomainState.RUNNING, DomainState.BLOCKED, DomainState.PAUSED, DomainState.SHUTDOWN,
                    DomainState.CRASHED, DomainState.PMSUSPENDED})


def context(features: Mapping[str, frozenset[Feature]],
            viewers: Sequence[tuple[str, str]] | None = None) -> Context:
    """The rules' facts: ``viewers`` are the installed VNC viewers, (name, executable); None looks them up
    on PATH (cached)."""
    found = vnc.installed_viewers() if viewers is None else tuple(viewers)
    return Context(features, lambda uri, key: vnc.why_no_viewer(uri, found, key),
                   lambda uri: vnc.viewer_for(uri, found))


def selected(session: Session, keys: Sequence[Key]) -> list[Selected]:
    """The domains of ``keys`` the session has rows for, as the rules see them (record, running job, busy)."""
    result = []
    for key in keys:
        row = session.domains.get(key)
        if row is not None:
            job = session.jobs.running_job(key[0], key[1], row.rec.name)
            result.append(Selected(key[0], row.rec, job, bool(row.busy)))
    return result


def compute(selection: Sequence[Selected], features: Mapping[str, frozenset[Feature]],
            viewers: Sequence[tuple[str, str]] | None = None) -> dict[ActionId, ActionState]:
    """The state of every action for ``selection``."""
    return compute_states(selection, context(features, viewers))
