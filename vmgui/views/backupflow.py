"""Backup's window side: open :class:`BackupDialog` with the disks the flow read, hand Start to the flow."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..flows.backup import BackupController
from ..i18n import N_, translate
from ..models.domains import Key
from ..models.session import Session
from .dialogs.backup import BackupDialog
from .pathcheck import serve


class BackupFlow:
    """Shows :class:`BackupDialog` for a selection; remembers the folder last used."""

    def __init__(self, session: Session, show: Callable[[Any, Callable[[], None]], None], parent: Any) -> None:
        self._session = session
        self._show = show
        self._parent = parent
        self.folder = ""
        self.flow = BackupController(session)

    def ask(self, targets: list[Key]) -> None:
        self._session.spawn(self._ask(targets), translate("BackupDialog", N_("Reading the disks to back up")))

    async def _ask(self, targets: list[Key]) -> None:
        sources = await self.flow.sources(targets, self.folder)
        dialog = BackupDialog(sources.domains, self.folder, self._parent, sources.remote, sources.kinds)
        serve(self._session, dialog.checker)

        def start() -> None:
            self.folder = dialog.folder.text().strip()
            self.flow.start(sources, dialog.plans())
        self._show(dialog, start)
