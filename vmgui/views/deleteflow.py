"""Delete's window side: open :class:`DeleteDialog` with what the flow read, hand its choices to the flow."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..flows.delete import DeleteController
from ..i18n import N_, translate
from ..models.domains import Key
from ..models.session import Session
from .dialogs.delete import DeleteDialog


class DeleteFlow:
    """Builds :class:`DeleteDialog` from the flow's entries and runs the deletes it allows."""

    def __init__(self, session: Session, show: Callable[[Any, Callable[[], None]], None], parent: Any) -> None:
        self._session = session
        self._show = show
        self._parent = parent
        self.flow = DeleteController(session)

    def ask(self, targets: list[Key]) -> None:
        self._session.spawn(self._ask(targets),
                            translate("DeleteDialog", N_("Reading the disks of the domains to delete")))

    async def _ask(self, targets: list[Key]) -> None:
        entries = await self.flow.entries(targets)
        dialog = DeleteDialog([e for _k, e in entries], self._parent)

        def delete() -> None:
            self.flow.delete(entries, dialog.flags(), dialog.force.isChecked(), dialog.files)
        self._show(dialog, delete)
