"""The guest agent's report in the details pane: host name, OS, addresses per interface, file systems.

The report is read through the session (in a worker) when a running domain
is shown, when its agent connects or goes away (the AGENT event), and every
:data:`REFRESH_S` while it stays in view; never twice at the same time. A
late answer for a domain no longer shown is dropped. Without an agent that
answers the label says "No guest agent" and why.
"""
from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget

from ..i18n import N_, translate
from ..models.actions import ACTIVE
from ..models.domains import DomainRow, Key
from ..models.format import DASH
from ..models.guestinfo import guest_rows
from ..models.messages import explain
from ..models.session import Session
from .names import name_widget

REFRESH_S = 10.0
CONTEXT = "GuestAgentView"
#: The HTML the report is laid out in (markup, no words).
_TABLE = "<table cellspacing='2'>{rows}</table>"
_ROW = "<tr><td><b>{head}</b>&nbsp;</td><td>{text}</td></tr>"


class GuestAgentView(QLabel):
    """``guestAgent``: the rows of :func:`vmgui.models.guestinfo.guest_rows` as a small table."""

    def __init__(self, session: Session, parent: QWidget | None = None, refresh_s: float = REFRESH_S) -> None:
        super().__init__(parent)
        name_widget(self, "guestAgent")
        self.setAccessibleName(self.tr("Guest agent"))
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._session = session
        self._key: Key | None = None
        self._state: int | None = None
        self._busy = False
        self._again = False  # the agent changed while a read was under way: read once more after it
        #: the (heading, text) rows shown last (for tests and the curious)
        self.rows: list[tuple[str, str]] = []
        self._timer = QTimer(self)
        self._timer.setInterval(int(refresh_s * 1000))
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        session.agentChanged.connect(self._agent_changed)

    def show_row(self, row: DomainRow | None) -> None:
        key, state = (row.key, int(row.rec.state)) if row else (None, None)
        if (key, state) == (self._key, self._state):
            return
        moved = key != self._key
        self._key, self._state = key, state
        if row is None or state not in ACTIVE:
            self._show([], "" if row is None else self.tr("not running"))
            return
        if moved:
            self._show([], self.tr("asking the guest agent…"))
        self.refresh()

    def refresh(self) -> None:
        key = self._key
        if key is None or self._busy or not self.isVisible() or self._state not in ACTIVE:
            return
        self._busy = True
        self._session.spawn(self._load(key), N_("Asking the guest agent"))

    def _agent_changed(self, uri: str, uuid: str) -> None:
        if (uri, uuid) == self._key:
            self._again = self._busy
            self.refresh()

    async def _load(self, key: Key) -> None:
        try:
            rows, problem = guest_rows(await self._session.guest_report(key)), ""
        except Exception as exc:  # noqa: BLE001 - shown in place, not as a dialog
            title, text, _hint = explain(exc, N_("Asking the guest agent"))
            rows, problem = [], f"{translate(CONTEXT, title)} {translate(CONTEXT, text)}"
        finally:
            self._busy = False
        if key == self._key and self._state in ACTIVE:
            self._show(rows, problem)
        if self._again:
            self._again = False
            self.refresh()

    def _show(self, rows: list[tuple[str, str]], sentence: str) -> None:
        self.rows = rows
        if not rows:
            self.setText(escape(sentence) if sentence else DASH)  # translated by the caller
            return
        cells = ((escape(translate(CONTEXT, head)), escape(translate(CONTEXT, text))) for head, text in rows)
        self.setText(_TABLE.format(rows="".join(_ROW.format(head=head, text=text) for head, text in cells)))
