"""A thumbnail of the selected domain's screen, for the details pane.

Pictures come through the bridge (``Domain.screenshot``: PPM or PNG bytes,
which QImage reads) every :data:`REFRESH_S` while the domain is active and the
thumbnail is actually visible, at once when the selection or the run state
changes, and never twice at the same time. A domain without a screen, or a
connection without screenshots, gets a sentence instead of a picture.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QWidget

from drivers.base import Screenshot

from ..i18n import MARKED_CONTEXT, N_, translate
from ..models.actions import ACTIVE
from ..models.domains import DomainRow, Key
from ..models.messages import explain

REFRESH_S = 3.0
SIZE = (240, 150)


class ScreenThumbnail(QLabel):
    """``screenThumbnail``: the picture, or why there is none (``hasPicture`` tells which)."""

    def __init__(self, fetch: Callable[[Key], Awaitable[Screenshot]], supported: Callable[[str], bool],
                 spawn: Callable[[Coroutine[Any, Any, None], str], object], parent: QWidget | None = None,
                 refresh_s: float = REFRESH_S) -> None:
        super().__init__(parent)
        self.setObjectName("screenThumbnail")
        self.setAccessibleName(self.tr("Screen"))
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.setMinimumHeight(80)
        self.setWordWrap(True)
        self._fetch, self._supported, self._spawn = fetch, supported, spawn
        self._key: Key | None = None
        self._state: int | None = None
        self._busy = False
        self.has_picture = False
        self.frames = 0  # pictures shown so far (for tests and the curious)
        self._timer = QTimer(self)
        self._timer.setInterval(int(refresh_s * 1000))
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self._say("")

    def show_row(self, row: DomainRow | None) -> None:
        key, state = (row.key, int(row.rec.state)) if row else (None, None)
        if (key, state) == (self._key, self._state):
            return
        moved = key != self._key
        self._key, self._state = key, state
        if row is None:
            self._say("")
            self.setVisible(False)
            return
        self.setVisible(True)
        if not self._supported(row.uri):
            self._say(self.tr("{uri} does not provide screenshots").format(uri=row.uri))
        elif state not in ACTIVE:
            self._say(self.tr("No picture: the domain is not running"))
        else:
            if moved:
                self._say(self.tr("Loading the screen…"))
            self.refresh()

    def refresh(self) -> None:
        key = self._key
        if (key is None or self._busy or not self.isVisible() or self._state not in ACTIVE
                or not self._supported(key[0])):
            return
        self._busy = True
        self._spawn(self._load(key), self.tr("Taking a screenshot"))

    async def _load(self, key: Key) -> None:
        try:
            shot = await self._fetch(key)
            image = QImage.fromData(shot.data)
            problem = "" if not image.isNull() else self.tr("unreadable picture ({mime})").format(mime=shot.mime)
        except Exception as exc:  # noqa: BLE001 - shown in place of the picture
            _title, reason, _hint = explain(exc, N_("Taking a screenshot"))
            image, problem = QImage(), self.tr("No picture: {reason}").format(
                reason=translate(MARKED_CONTEXT, reason))
        finally:
            self._busy = False
        if key != self._key or self._state not in ACTIVE:
            return  # the selection moved on, or the domain stopped meanwhile
        if problem:
            self._say(problem)
            return
        self.setPixmap(QPixmap.fromImage(image.scaled(*SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation)))
        self.has_picture = True
        self.frames += 1
        self.setToolTip(self.tr("The screen, {width}×{height}, refreshed every {seconds} s while it is shown").format(
            width=shot.width, height=shot.height, seconds=f"{self._timer.interval() / 1000:g}"))

    def _say(self, text: str) -> None:
        self.has_picture = False
        self.clear()
        self.setText(text)
        self.setToolTip("")
