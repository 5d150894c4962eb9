"""The New VM wizard's window side: open :class:`NewVMDialog` with what the flow read, hand Finish to it.

What the hosts offer, the ISO's system, the disk job, the definition and the
start are :class:`vmgui.flows.newvm.NewVMController`'s; this module only shows
the dialog, carries its questions to the flow and the answers back (the
dialog may be closed meanwhile), closes it once the VM is created (a failure
leaves it open and says why) and selects the new row.
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from shiboken6 import isValid

from drivers.isoinfo import IsoInfo

from ..flows.newvm import NewVMController
from ..i18n import N_, translate
from ..models.domains import Key
from ..models.newvm import NewVMPlan, host_memory_mib
from ..models.session import Session
from .dialogs.newvm import NewVMDialog
from .pathcheck import serve

#: The translation context of what this flow says (the wizard's own).
CONTEXT = "NewVMDialog"


class NewVMFlow:
    """Shows :class:`NewVMDialog` for the connections that can define domains, and creates what it returns."""

    def __init__(self, session: Session, show: Callable[[Any, Callable[[], None]], None], parent: Any) -> None:
        self._session = session
        self._show = show
        self._parent = parent
        self.flow = NewVMController(session)
        self.flow.created.connect(self._select)

    def ask(self) -> None:
        self._session.spawn(self.flow.index_osinfo(), translate(CONTEXT, N_("Reading osinfo-db")))
        self._session.spawn(self._ask(), translate(CONTEXT, N_("Opening the New VM wizard")))

    async def _ask(self) -> None:
        targets = await self.flow.targets()
        dialog = NewVMDialog(targets, self.flow.taken, self._parent, host_memory_mib(), os.cpu_count())
        serve(self._session, dialog.checker)
        dialog.medium_seen.connect(lambda medium: self._session.spawn(
            self._identify(dialog, medium), translate(CONTEXT, N_("Looking up the system on the ISO image"))))
        dialog.finish_requested.connect(lambda plan: self.create(plan, dialog))
        self._show(dialog, lambda: None)  # the dialog closes itself once the VM is created

    def create(self, plan: NewVMPlan, dialog: NewVMDialog | None = None) -> asyncio.Task[Any] | None:
        return self._session.spawn(self._finish(plan, dialog),
                                   translate(CONTEXT, N_("Creating {name}", name=plan.name)))

    async def _identify(self, dialog: NewVMDialog, medium: IsoInfo) -> None:
        profile = await self.flow.identify(medium)
        if isValid(dialog):
            dialog.detect(medium, profile)

    async def _finish(self, plan: NewVMPlan, dialog: NewVMDialog | None) -> None:
        """Create ``plan``; the dialog closes when it was created, else it shows every reason."""
        reasons: list[str] = []
        key = None
        try:
            key = await self.flow.run(plan, reasons.append)
        finally:
            if dialog is not None and isValid(dialog):
                if key is not None:
                    dialog.created()
                else:
                    dialog.failed("\n".join(translate(CONTEXT, r) for r in reasons)
                                  or translate(CONTEXT, N_("see the message area.")))

    def _select(self, key: Key) -> None:
        self._parent.table.select_key(key)  # the main window's table (Commands builds this flow for it)
