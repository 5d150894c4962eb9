"""The New VM wizard's window side: open :class:`NewVMDialog` with what the flow read, hand Finish to it.

What the hosts offer, the disk job, the definition and the start are
:class:`vmgui.flows.newvm.NewVMController`'s; this module only shows the
dialog and selects the new row.
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from ..flows.newvm import NewVMController
from ..models.domains import Key
from ..models.newvm import NewVMPlan, host_memory_mib
from ..models.session import Session
from .dialogs.newvm import NewVMDialog
from .pathcheck import serve


class NewVMFlow:
    """Shows :class:`NewVMDialog` for the connections that can define domains, and creates what it returns."""

    def __init__(self, session: Session, show: Callable[[Any, Callable[[], None]], None], parent: Any) -> None:
        self._session = session
        self._show = show
        self._parent = parent
        self.flow = NewVMController(session)
        self.flow.created.connect(self._select)

    def ask(self) -> None:
        self._session.spawn(self._ask(), "Opening the New VM wizard")

    async def _ask(self) -> None:
        targets = await self.flow.targets()
        dialog = NewVMDialog(targets, self.flow.taken, self._parent, host_memory_mib(), os.cpu_count())
        serve(self._session, dialog.checker)

        def accepted() -> None:
            self.create(dialog.plan())
        self._show(dialog, accepted)

    def create(self, plan: NewVMPlan) -> asyncio.Task[Any] | None:
        return self.flow.create(plan)

    def _select(self, key: Key) -> None:
        self._parent.table.select_key(key)  # the main window's table (Commands builds this flow for it)
