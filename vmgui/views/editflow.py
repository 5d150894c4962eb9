"""From "Edit…" to a new definition: read it, show the form, show the diff, apply through the session.

The XML editor reuses :meth:`EditFlow.confirm` (diff, then apply), so both ways
of changing a definition end with the same dialog and the same session call.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QWidget

from drivers import Feature
from drivers.domxml import DomainXML

from ..models import editing
from ..models.domains import Key
from ..models.editing import NEXT_START, EditContext, EditPlan
from ..models.session import Session
from .dialogs.xmldiff import XmlDiffDialog
from .editform import EditDialog

#: called with None after a successful apply, or with the exception that stopped it
Done = Callable[[BaseException | None], None]


class EditFlow:
    """Owns the open form and diff dialog (``dialog``, ``diff``) of the details pane."""

    def __init__(self, session: Session, parent: QWidget, applied: Callable[[Key], None] = lambda _k: None) -> None:
        self._session = session
        self._parent = parent
        self._applied = applied  # told after every successful apply
        self.dialog: EditDialog | None = None
        self.diff: XmlDiffDialog | None = None

    def edit(self, key: Key) -> None:
        self._session.spawn(self._edit(key), "Opening the definition to edit")

    async def _edit(self, key: Key) -> None:
        session = self._session
        text, autostart, names = await session.edit_source(key)
        row = session.domains.get(key)
        if row is None:
            return  # it went away meanwhile
        uri = key[0]
        ctx = EditContext(names, running=row.rec.id is not None, persistent=row.rec.persistent,
                          can_rename=session.supports(uri, Feature.RENAME))
        dialog = EditDialog(DomainXML.parse(text), autostart, ctx, self._parent.window(),
                            can_autostart=session.supports(uri, Feature.AUTOSTART))
        self.dialog = dialog
        dialog.accepted.connect(lambda: self._confirm_form(key, dialog))
        _open(dialog)

    def _confirm_form(self, key: Key, dialog: EditDialog) -> None:
        steps = dialog.plan()
        if steps.empty:
            self._session.status.emit("Nothing changed")
            return
        if steps.xml is None:  # only a rename or autostart: nothing to diff
            self.apply(key, steps)
            return
        lines = editing.unified_diff(editing.normalized(dialog.original),
                                     editing.normalized(DomainXML.parse(steps.xml)))
        self.confirm(key, dialog.original.name, lines, steps)

    def confirm(self, key: Key, name: str, lines: list[str], steps: EditPlan, done: Done | None = None) -> None:
        """Show the diff; Apply applies ``steps``, Cancel changes nothing."""
        row = self._session.domains.get(key)
        note = f"{name} is running: {NEXT_START}" if row is not None and row.rec.id is not None else ""
        diff = XmlDiffDialog(name, lines, note, self._parent.window())
        self.diff = diff
        diff.accepted.connect(lambda: self.apply(key, steps, done))
        _open(diff)

    def apply(self, key: Key, steps: EditPlan, done: Done | None = None) -> None:
        what = f"Applying the changes to {self._session.domains.name_of(key)}"
        self._session.spawn(self._apply(key, steps, done), what)

    async def _apply(self, key: Key, steps: EditPlan, done: Done | None) -> None:
        try:
            await self._session.apply_edit(key, steps)
        except Exception as exc:
            if done is None:
                raise
            done(exc)
            return
        if done is not None:
            done(None)
        self._applied(key)


def _open(dialog: QDialog) -> None:
    dialog.finished.connect(lambda _r: dialog.deleteLater())
    dialog.open()
