"""The non-modal message area above the table: newest messages, each dismissable."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from .. import icons
from ..actions import SPECS, ActionId
from ..models.messages import CONNECTION_ACTIONS, Message, MessageModel
from .names import name_widget

SHOWN = 3


class MessageArea(QFrame):
    """Shows the last :data:`SHOWN` messages; hidden when there are none."""

    #: action name, the Message: the button of a message that offers an action was pressed
    actionRequested = Signal(str, object)

    def __init__(self, model: MessageModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "messageArea")
        self._model = model
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(6, 4, 6, 4)
        self._layout.setSpacing(2)
        for signal in (model.rowsInserted, model.rowsRemoved, model.dataChanged, model.modelReset):
            signal.connect(self.rebuild)
        self.rebuild()

    def rebuild(self, *_args: object) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        messages = self._model.messages()
        for msg in messages[-SHOWN:]:
            self._layout.addWidget(self._row(msg))
        if len(messages) > SHOWN:
            more = QWidget(self)
            line = QHBoxLayout(more)
            line.setContentsMargins(0, 0, 0, 0)
            line.addWidget(QLabel(f"{len(messages) - SHOWN} older message(s)", more), 1)
            clear = QToolButton(more)
            clear.setText("Dismiss all")
            clear.clicked.connect(self._model.clear)
            line.addWidget(clear)
            self._layout.addWidget(more)
        self.setVisible(bool(messages))

    def _row(self, msg: Message) -> QWidget:
        row = QFrame(self)
        row.setObjectName(f"message_{msg.level}")
        row.setProperty("level", msg.level)
        line = QHBoxLayout(row)
        line.setContentsMargins(6, 3, 3, 3)
        icon = QLabel(row)
        icon.setPixmap(icons.icon(f"msg-{msg.level}").pixmap(18, 18))
        icon.setAccessibleName(msg.level.capitalize())  # "Error", "Warning", "Info"
        line.addWidget(icon)
        repeat = f" (×{msg.count})" if msg.count > 1 else ""
        text = QLabel(f"<b>{_esc(msg.title)}{repeat}</b> — {_esc(msg.text)}"
                      + (f"<br><i>{_esc(msg.hint)}</i>" if msg.hint else ""), row)
        text.setObjectName("messageText")
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        line.addWidget(text, 1)
        for action in msg.actions:
            offer = QToolButton(row)
            offer.setObjectName(f"messageAction_{action}")
            offer.setText(CONNECTION_ACTIONS.get(action) or SPECS[ActionId(action)].label)
            offer.clicked.connect(lambda _c=False, a=action, m=msg: self.actionRequested.emit(a, m))
            line.addWidget(offer)
        close = QToolButton(row)
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss this message")
        close.clicked.connect(lambda _c=False, i=msg.id: self._model.dismiss(i))
        line.addWidget(close)
        return row


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
