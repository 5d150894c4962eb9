"""Migrate from a selection to jobs: which destinations to offer, check each, start what passed.

The checks run through the session (never on the UI thread) each time the
destination changes; Start runs one migration job per domain that passed,
with its own flags (a shut-off one moves offline), and lists the skipped ones
in the message area. Progress, convergence figures and cancel are the job panel's.
"""
from __future__ import annotations

from ..actions.requests import Migrate
from ..models import actions as rules
from ..models.domains import Key
from ..models.migration import Check, check_all
from ..models.session import Session
from ..textmark import NP_


class MigrateController:
    """Destinations and checks for a selection, and the jobs Start runs."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def destinations(self, targets: list[Key]) -> list[str]:
        """Connected connections other than the (single) source; those sharing a protocol first."""
        features = self._session.connections.features()
        sources = {k[0] for k in targets}
        ready = [uri for uri, feats in features.items() if feats and not (sources == {uri})]
        preferred = rules.migration_targets(next(iter(sources)), features) if len(sources) == 1 else []
        return [u for u in preferred if u in ready] + [u for u in ready if u not in preferred]

    def names(self, targets: list[Key]) -> list[str]:
        return [self._session.domains.name_of(k) for k in targets]

    def any_running(self, targets: list[Key]) -> bool:
        rows = [self._session.domains.get(k) for k in targets]
        return any(row is not None and row.rec.id is not None for row in rows)

    async def checks(self, targets: list[Key], dest: str) -> list[Check]:
        """Whether ``dest`` can receive each domain, and why not."""
        return await check_all(self._session, targets, dest)

    def start(self, dest: str, runs: list[tuple[Check, int]], skipped: list[Check]) -> None:
        """One job per ``(check, flags)`` that passed; the skipped ones are listed with their reasons."""
        for check, flags in runs:
            self._session.run(Migrate(dest, flags), [check.key])
        if skipped:
            self._session.messages.add("warning", NP_("Not migrated to {dest}: %n domain",
                                                      "Not migrated to {dest}: %n domains", len(skipped), dest=dest),
                                       "\n".join(skip_line(c) for c in skipped))


def skip_line(check: Check) -> str:
    return f"{check.name}: {'; '.join(check.reasons())}"
