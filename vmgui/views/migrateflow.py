"""Migrate from the dialog to the job panel: ask, check each destination, start the jobs.

The checks run through the session's bridge (never on the UI thread) each time
the destination changes; Start runs one migration job per domain that passed,
with its own flags (a shut-off one moves offline), and lists the skipped ones in
the message area. Progress, convergence figures and cancel are the job panel's.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shiboken6 import isValid

from ..actions.requests import Migrate
from ..models import actions as rules
from ..models.domains import Key
from ..models.migration import Check, check_all
from ..models.session import Session
from .dialogs.migrate import MigrateDialog


class MigrateFlow:
    """Shows :class:`MigrateDialog` for a selection and runs what it allows."""

    def __init__(self, session: Session, show: Callable[[Any, Callable[[], None]], None], parent: Any) -> None:
        self._session = session
        self._show = show
        self._parent = parent

    def destinations(self, targets: list[Key]) -> list[str]:
        """Connected connections other than the (single) source; those sharing a protocol first."""
        features = self._session.connections.features()
        sources = {k[0] for k in targets}
        ready = [uri for uri, feats in features.items() if feats and not (sources == {uri})]
        preferred = rules.migration_targets(next(iter(sources)), features) if len(sources) == 1 else []
        return [u for u in preferred if u in ready] + [u for u in ready if u not in preferred]

    def ask(self, targets: list[Key]) -> MigrateDialog:
        rows = [self._session.domains.get(k) for k in targets]
        names = [self._session.domains.name_of(k) for k in targets]
        running = any(row is not None and row.rec.id is not None for row in rows)
        dialog = MigrateDialog(names, self.destinations(targets), running, self._parent)
        dialog.destinationChanged.connect(lambda dest: self._check(dialog, targets, dest))
        self._show(dialog, lambda: self.start(dialog))
        dialog.request_check()
        return dialog

    def _check(self, dialog: MigrateDialog, targets: list[Key], dest: str) -> None:
        self._session.spawn(self._fill(dialog, targets, dest), f"Checking whether {dest} can receive the domains")

    async def _fill(self, dialog: MigrateDialog, targets: list[Key], dest: str) -> None:
        checks = await check_all(self._session, targets, dest)
        if isValid(dialog):  # closed meanwhile: nobody to tell
            dialog.set_checks(dest, checks)

    def start(self, dialog: MigrateDialog) -> None:
        """One job per domain that passed; the skipped ones are listed with their reasons."""
        dest = dialog.dest.currentText()
        for check in dialog.runnable():
            self._session.run(Migrate(dest, dialog.flags(check)), [check.key])
        skipped = dialog.skipped()
        if skipped:
            self._session.messages.add("warning", f"Not migrated to {dest}: {len(skipped)} domain(s)",
                                       "\n".join(_skip_line(c) for c in skipped))


def _skip_line(check: Check) -> str:
    return f"{check.name}: {'; '.join(check.reasons())}"
