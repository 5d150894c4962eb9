"""From "Edit…" to a new definition, the window side: show the form, then the diff; the flow does the rest.

The XML editor reuses :meth:`EditFlow.confirm` (diff, then apply), so both ways
of changing a definition end with the same dialog and the same flow call.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QWidget

from ..flows.edit import CONTEXT, Done, EditController
from ..i18n import N_, translate
from ..models.domains import Key
from ..models.editing import EditPlan
from ..models.session import Session
from .dialogs.xmldiff import XmlDiffDialog
from .editform import EditDialog


class EditFlow:
    """Owns the open form and diff dialog (``dialog``, ``diff``) of the details pane."""

    def __init__(self, session: Session, parent: QWidget, applied: Callable[[Key], None] = lambda _k: None) -> None:
        self._session = session
        self._parent = parent
        self.flow = EditController(session)
        self.flow.applied.connect(applied)  # told after every successful apply
        self.dialog: EditDialog | None = None
        self.diff: XmlDiffDialog | None = None

    def edit(self, key: Key) -> None:
        self._session.spawn(self._edit(key), translate(CONTEXT, N_("Opening the definition to edit")))

    async def _edit(self, key: Key) -> None:
        source = await self.flow.source(key)
        if source is None:
            return  # it went away meanwhile
        dialog = EditDialog(source.original, source.autostart, source.context, self._parent.window(),
                            can_autostart=source.can_autostart)
        self.dialog = dialog
        dialog.accepted.connect(lambda: self._confirm_form(key, dialog))
        _open(dialog)

    def _confirm_form(self, key: Key, dialog: EditDialog) -> None:
        steps = dialog.plan()
        if steps.empty:
            self.flow.nothing_changed()
            return
        if steps.xml is None:  # only a rename or autostart: nothing to diff
            self.apply(key, steps)
            return
        self.confirm(key, dialog.original.name, self.flow.diff(dialog.original, steps.xml), steps)

    def confirm(self, key: Key, name: str, lines: list[str], steps: EditPlan, done: Done | None = None) -> None:
        """Show the diff; Apply applies ``steps``, Cancel changes nothing."""
        diff = XmlDiffDialog(name, lines, self.flow.note(key, name), self._parent.window())
        self.diff = diff
        diff.accepted.connect(lambda: self.apply(key, steps, done))
        _open(diff)

    def apply(self, key: Key, steps: EditPlan, done: Done | None = None) -> None:
        self.flow.apply(key, steps, done)


def _open(dialog: QDialog) -> None:
    dialog.finished.connect(lambda _r: dialog.deleteLater())
    dialog.open()
