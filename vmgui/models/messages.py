"""Errors and notices for the non-modal message area: what happened and what to do.

Driver errors become a heading, the driver's own sentence and a hint chosen by
error code. Unexpected exceptions are logged with their traceback (for a bug
report) and shown as one sentence: never a traceback in the window.
"""
from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from drivers import DriverError, ErrorCode

from ..bridge import CallAbandoned
from ..textmark import N_

log = logging.getLogger(__name__)
DISPLAY = Qt.ItemDataRole.DisplayRole.value
MAX_MESSAGES = 50
#: What a failed connection's message offers: open it again, or stop opening it at each start.
CONNECTION_ACTIONS = {"retry_connection": N_("Retry"), "forget_connection": N_("Forget")}

_HINTS = {
    ErrorCode.NO_SUPPORT: N_("This connection cannot do that; another connection or driver may."),
    ErrorCode.INVALID_ARG: N_("Check the values you entered and try again."),
    ErrorCode.INVALID_XML: N_("Fix the XML at the element named above and try again."),
    ErrorCode.OPERATION_INVALID: N_("Wait until the domain is in a state that allows it, then try again."),
    ErrorCode.NO_DOMAIN: N_("It was removed meanwhile; the table shows the current list."),
    ErrorCode.NO_SNAPSHOT: N_("It was removed meanwhile; refresh and pick another."),
    ErrorCode.NO_JOB: N_("The job has already ended."),
    ErrorCode.OPERATION_FAILED: N_("Nothing else was changed; fix the cause named above and retry."),
    ErrorCode.OPERATION_ABORTED: N_("It was cancelled; the domain was left as it was."),
    ErrorCode.OPERATION_TIMEOUT: N_("The host may be unreachable: check it, or give up on the connection."),
    ErrorCode.AGENT_UNRESPONSIVE: N_("Start the guest agent in the guest (package qemu-guest-agent), or wait until "
                                     "the guest has booted."),
    ErrorCode.RESOURCE_BUSY: N_("Something else holds the resource: stop it or choose another one."),
    ErrorCode.INTERNAL_ERROR: N_("This is a bug; please report it with the log."),
}


#: The invisible root: a flat model's rows all hang off it.
_ROOT = QModelIndex()


@dataclass
class Message:
    id: int
    level: str  # "error", "warning" or "info"
    title: str
    text: str
    hint: str = ""
    count: int = 1
    when: float = 0.0
    #: the actions the message offers as buttons (a domain action such as "force_off", or a
    #: connection action of CONNECTION_ACTIONS), and the domain key or URI they are for
    actions: tuple[str, ...] = ()
    target: Any = None

    def full_text(self) -> str:
        repeat = f" (×{self.count})" if self.count > 1 else ""
        hint = f" {self.hint}" if self.hint else ""
        return f"{self.title}{repeat}: {self.text}{hint}"


def explain(exc: BaseException, doing: str) -> tuple[str, str, str]:
    """(title, text, hint) for a failure while ``doing`` something (e.g. "Start web01")."""
    if isinstance(exc, DriverError):
        return (N_("{doing} failed", doing=doing),
                N_("{summary}: {message}.", summary=exc.summary, message=exc.message.removesuffix(".")),
                _HINTS.get(exc.code, ""))
    if isinstance(exc, CallAbandoned):
        reason = exc.args[0] if exc.args else str(exc)  # a Text: CallQueue says whom it gave up on
        return (N_("{doing}: stopped waiting", doing=doing), N_("{sentence}.", sentence=reason),
                N_("The request may still complete on the host; the table will show it if it does."))
    log.error("%s failed unexpectedly", doing, exc_info=exc)
    return (N_("{doing} failed", doing=doing), N_("unexpected {kind}: {why}.", kind=type(exc).__name__, why=exc),
            N_("This is a bug in vmgui or its driver; details are in the log."))


class MessageModel(QAbstractListModel):
    """Newest message last; a repeated message counts up instead of piling up."""

    _ids = itertools.count(1)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[Message] = []

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = DISPLAY) -> Any:
        if not index.isValid() or role != DISPLAY:
            return None
        return self._items[index.row()].full_text()

    def messages(self) -> list[Message]:
        return list(self._items)

    def add(self, level: str, title: str, text: str, hint: str = "", actions: tuple[str, ...] = (),
            target: Any = None) -> Message:
        for i, item in enumerate(self._items):
            if (item.level, item.title, item.text, item.target) == (level, title, text, target):
                item.count += 1
                item.when = time.time()
                self.dataChanged.emit(self.index(i), self.index(i))
                return item
        if len(self._items) >= MAX_MESSAGES:
            self.dismiss(self._items[0].id)
        msg = Message(next(self._ids), level, title, text, hint, when=time.time(), actions=actions,
                      target=target)
        self.beginInsertRows(QModelIndex(), len(self._items), len(self._items))
        self._items.append(msg)
        self.endInsertRows()
        return msg

    def error(self, exc: BaseException, doing: str, actions: tuple[str, ...] = (), target: Any = None) -> Message:
        return self.add("error", *explain(exc, doing), actions=actions, target=target)

    def dismiss(self, msg_id: int) -> None:
        for i, item in enumerate(self._items):
            if item.id == msg_id:
                self.beginRemoveRows(QModelIndex(), i, i)
                del self._items[i]
                self.endRemoveRows()
                return

    def clear(self) -> None:
        if self._items:
            self.beginResetModel()
            self._items.clear()
            self.endResetModel()
