"""Changing a definition: read what the form edits, diff the result, apply it through the session.

The form and the XML editor both end here (diff, then apply), so both ways of
changing a definition make the same session call.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from drivers import Feature
from drivers.domxml import DomainXML

from ..i18n import N_, translate
from ..models import editing
from ..models.domains import Key
from ..models.editing import NEXT_START, EditContext, EditPlan
from ..models.session import Session

#: called with None after a successful apply, or with the exception that stopped it
Done = Callable[[BaseException | None], None]
#: The translation context of the edit dialogs' text.
CONTEXT = "EditDialog"


@dataclass(frozen=True)
class EditSource:
    """What the edit form starts from: the definition the next start uses and the rules' facts."""

    original: DomainXML
    autostart: bool
    context: EditContext
    can_autostart: bool


class EditController(QObject):
    """Reads definitions to edit and applies changes; ``applied`` after each successful apply."""

    #: Key of the domain whose definition was just changed
    applied = Signal(object)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session

    async def source(self, key: Key) -> EditSource | None:
        """The definition to edit and its context; None when the domain went away meanwhile."""
        session = self._session
        text, autostart, names = await session.edit_source(key)
        row = session.domains.get(key)
        if row is None:
            return None
        uri = key[0]
        ctx = EditContext(names, running=row.rec.id is not None, persistent=row.rec.persistent,
                          can_rename=session.supports(uri, Feature.RENAME))
        return EditSource(DomainXML.parse(text), autostart, ctx, session.supports(uri, Feature.AUTOSTART))

    def nothing_changed(self) -> None:
        self._session.status.emit(translate(CONTEXT, N_("Nothing changed")))

    @staticmethod
    def diff(original: DomainXML, xml: str) -> list[str]:
        """The unified diff from ``original`` to the definition ``xml``, both normalized."""
        return editing.unified_diff(editing.normalized(original), editing.normalized(DomainXML.parse(xml)))

    def note(self, key: Key, name: str) -> str:
        """What the diff dialog says besides the diff: a running domain takes the change at its next start."""
        row = self._session.domains.get(key)
        return translate(CONTEXT, N_("{name} is running: {then}", name=name, then=NEXT_START)) \
            if row is not None and row.rec.id is not None else ""

    def apply(self, key: Key, steps: EditPlan, done: Done | None = None) -> None:
        name = self._session.domains.name_of(key)
        self._session.spawn(self._apply(key, steps, done), translate(CONTEXT, N_("Applying the changes to {name}",
                                                                                 name=name)))

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
        self.applied.emit(key)
