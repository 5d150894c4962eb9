"""Migrate's window side: open :class:`MigrateDialog`, show the flow's checks, hand Start to the flow.

Each change of destination asks the flow to check again; a dialog closed
meanwhile is told nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shiboken6 import isValid

from ..flows.migrate import MigrateController
from ..i18n import N_, translate
from ..models.domains import Key
from ..models.session import Session
from .dialogs.migrate import CONTEXT, MigrateDialog


class MigrateFlow:
    """Shows :class:`MigrateDialog` for a selection and runs what it allows."""

    def __init__(self, session: Session, show: Callable[[Any, Callable[[], None]], None], parent: Any) -> None:
        self._session = session
        self._show = show
        self._parent = parent
        self.flow = MigrateController(session)

    def destinations(self, targets: list[Key]) -> list[str]:
        return self.flow.destinations(targets)

    def ask(self, targets: list[Key]) -> MigrateDialog:
        flow = self.flow
        dialog = MigrateDialog(flow.names(targets), flow.destinations(targets), flow.any_running(targets),
                               self._parent)
        dialog.destinationChanged.connect(lambda dest: self._check(dialog, targets, dest))
        self._show(dialog, lambda: self.start(dialog))
        dialog.request_check()
        return dialog

    def _check(self, dialog: MigrateDialog, targets: list[Key], dest: str) -> None:
        self._session.spawn(self._fill(dialog, targets, dest),
                            translate(CONTEXT, N_("Checking whether {dest} can receive the domains", dest=dest)))

    async def _fill(self, dialog: MigrateDialog, targets: list[Key], dest: str) -> None:
        checks = await self.flow.checks(targets, dest)
        if isValid(dialog):  # closed meanwhile: nobody to tell
            dialog.set_checks(dest, checks)

    def start(self, dialog: MigrateDialog) -> None:
        """One job per domain that passed, with the flags the dialog chose for it."""
        self.flow.start(dialog.dest.currentText(), [(c, dialog.flags(c)) for c in dialog.runnable()],
                        dialog.skipped())
