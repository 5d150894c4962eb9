"""Dialogs that check local paths as you type, without looking at the file system themselves.

A dialog owns a :class:`PathChecker`: each edit (re)starts a short debounce,
then the checker emits ``wanted`` with the paths the dialog now needs facts
about. The dialog's flow answers through :func:`serve` (a worker looks, with a
timeout) and the checker hands the facts back to the dialog, dropping late
answers for paths it no longer shows. The UI thread never calls ``stat()``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel
from shiboken6 import isValid

from ..i18n import N_, translate
from ..models.pathprobe import FactBook, Facts, PathFacts, is_checking
from .theme import error_style

if TYPE_CHECKING:
    from ..models.session import Session

#: quiet time after the last keystroke before the paths are looked at
DEBOUNCE_MS = 150


class PathChecker(QObject):
    """Debounced questions about ``paths()``; ``changed()`` runs when new facts arrive."""

    #: round, paths: facts wanted about these local paths (answer with :meth:`take`)
    wanted = Signal(int, list)

    def __init__(self, parent: QObject, paths: Callable[[], list[str]], changed: Callable[[], None]) -> None:
        super().__init__(parent)
        self._paths = paths
        self._changed = changed
        self._book = FactBook()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._ask)

    @property
    def facts(self) -> dict[str, PathFacts]:
        return self._book.facts

    def schedule(self) -> None:
        """Look at the shown paths again once the user pauses (every edit restarts the wait)."""
        self._timer.start()

    def busy(self) -> bool:
        """A look is due or under way (the facts shown may still change)."""
        return self._timer.isActive() or self._book.waiting()

    def _ask(self) -> None:
        round_, paths = self._book.ask(self._paths())
        if paths:
            self.wanted.emit(round_, paths)

    def take(self, round_: int, facts: Facts) -> None:
        """The answer to ``wanted(round_, …)``; the dialog re-checks when it changed anything shown."""
        if self._book.answer(round_, facts):
            self._changed()


def serve(session: Session, checker: PathChecker) -> None:
    """Answer ``checker``'s questions through the session (each path in a worker, with a timeout)."""
    async def answer(round_: int, paths: list[str]) -> None:
        facts = await session.local_facts(paths)
        if isValid(checker):  # the dialog may be gone meanwhile: nobody to tell
            checker.take(round_, facts)
    checker.wanted.connect(lambda round_, paths: session.spawn(answer(round_, paths),
                                                                            N_("Looking at local files")))


def show_sentences(label: QLabel, sentences: list[str], context: str | None = None) -> None:
    """Problems in red; "Checking …" waits alone in the normal colour (they are not the user's mistake).

    With a translation ``context`` each sentence is translated as it is shown (marked text, or words
    from elsewhere such as a driver's); without one they are shown as they are.
    """
    label.setText("\n".join(sentences if context is None else [translate(context, s) for s in sentences]))
    label.setStyleSheet("" if sentences and all(is_checking(s) for s in sentences) else error_style())
