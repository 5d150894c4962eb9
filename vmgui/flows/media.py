"""Changing a CD: the Hardware tab's Change… and Eject end here, one session call each.

The controller says whether a domain's CDs can change (and why not), where the
file chooser starts, and tells the tab to read the definition again once a
change went through; a refusal becomes a message through the session.
"""
from __future__ import annotations

import os

from PySide6.QtCore import QObject, Signal

from drivers import Feature

from ..models.domains import Key
from ..models.media import CDDrive
from ..models.session import Session
from ..textmark import N_


class MediaController(QObject):
    """Inserts, changes and ejects CDs; ``changed`` (Key) after each change that went through."""

    changed = Signal(object)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session

    def refusal(self, key: Key) -> str | None:
        """Why the CDs of ``key`` cannot change from here, or None."""
        if not self._session.supports(key[0], Feature.CHANGE_MEDIA):
            return N_("{uri} cannot change CDs", uri=key[0])
        row = self._session.domains.get(key)
        if row is not None and row.rec.broken:
            return N_("Its definition cannot be read: correct it in the XML tab first")
        return None

    @staticmethod
    def start_folder(drive: CDDrive) -> str:
        """The folder of the image in the drive, else the home folder."""
        return os.path.dirname(drive.source) if drive.source else os.path.expanduser("~")

    def change(self, key: Key, drive: CDDrive, source: str | None) -> None:
        """Put ``source`` into ``drive``; None ejects its CD."""
        name = self._session.domains.name_of(key)
        self._session.spawn(self._change(key, drive, source), N_("Changing the CD of {name}", name=name))

    async def _change(self, key: Key, drive: CDDrive, source: str | None) -> None:
        await self._session.change_media(key, drive, source)
        self.changed.emit(key)
