"""The non-modal message area above the table: newest messages, each dismissable.

Each message is one line (a long text ends in "…", the whole of it in the tooltip and
the accessible name) and at most :data:`SHOWN` are listed, the rest folded into
"N more": however many and however long the messages, the table below moves by
at most four lines.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from .. import icons
from ..actions import SPECS, ActionId
from ..i18n import Text, translate
from ..models.messages import CONNECTION_ACTIONS, Message, MessageModel
from .actions import CONTEXT
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
            line.addWidget(QLabel(self.tr("{count} more").format(count=len(messages) - SHOWN), more), 1)
            clear = QToolButton(more)
            clear.setText(self.tr("Dismiss all"))
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
        levels = {"error": self.tr("Error"), "warning": self.tr("Warning"), "info": self.tr("Info")}
        icon.setAccessibleName(levels.get(msg.level, msg.level))
        line.addWidget(icon)
        title = _shown(msg.title)
        if msg.count > 1:
            title = self.tr("{title} (×{count})").format(title=title, count=msg.count)
        sentence = self.tr("{title} — {text} {hint}") if msg.hint else self.tr("{title} — {text}")
        text = OneLineLabel(sentence.format(title=title, text=_shown(msg.text), hint=_shown(msg.hint)), row)
        text.setObjectName("messageText")
        line.addWidget(text, 1)
        for action in msg.actions:
            offer = QToolButton(row)
            offer.setObjectName(f"messageAction_{action}")
            offer.setText(translate(CONTEXT, CONNECTION_ACTIONS.get(action) or SPECS[ActionId(action)].label))
            offer.clicked.connect(lambda _c=False, a=action, m=msg: self.actionRequested.emit(a, m))
            line.addWidget(offer)
        close = QToolButton(row)
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip(self.tr("Dismiss this message"))
        close.setAccessibleName(self.tr("Dismiss this message"))  # not "✕"
        close.clicked.connect(lambda _c=False, i=msg.id: self._model.dismiss(i))
        line.addWidget(close)
        return row


def _shown(text: str) -> str:
    """A message's own words translated; what it quotes from elsewhere (a driver's sentence, a path) as it is."""
    return translate(CONTEXT, text) if isinstance(text, Text) else text


class OneLineLabel(QLabel):
    """Plain text on one line whatever its length: ``text()`` is all of it, the painted line
    ends in "…" when it does not fit, the tooltip and the accessible name say all of it."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setToolTip(text)
        self.setAccessibleName(text)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)
        self.setAccessibleName(text)

    def minimumSizeHint(self) -> QSize:
        return QSize(0, self.fontMetrics().height())

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(self.text()), self.fontMetrics().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter = QPainter(self)
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), shown)
