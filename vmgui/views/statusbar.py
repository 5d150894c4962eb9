"""Status bar: one chip per connection (state, domain count, busy) with Give up / Close."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QHBoxLayout, QLabel, QStatusBar, QToolButton, QWidget

from .. import icons
from ..i18n import N_, Text, translate
from ..models.connections import CONTEXT, ConnectionModel, ConnRow, ConnState
from .names import name_widget

_ICON = {ConnState.CONNECTED: "conn-ok", ConnState.CONNECTING: "conn-busy", ConnState.FAILED: "conn-failed",
         ConnState.DISCONNECTED: "conn-failed"}


class ConnectionChip(QWidget):
    def __init__(self, row: ConnRow, give_up: Callable[[str], None], close: Callable[[str], None],
                 retry: Callable[[str], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.uri = row.uri
        name_widget(self, f"connectionStatus_{row.ordinal}")
        line = QHBoxLayout(self)
        line.setContentsMargins(4, 0, 4, 0)
        line.setSpacing(3)
        self.icon = QLabel(self)
        self.text = QLabel(self)
        self.give_up = QToolButton(self)
        self.give_up.setText(self.tr("Give up"))
        self.give_up.setToolTip(self.tr("Stop waiting for this host; the window and other connections are not "
                                        "affected"))
        self.give_up.clicked.connect(lambda: give_up(self.uri))
        self.retry = QToolButton(self)
        self.retry.setText(self.tr("Retry"))
        self.retry.setToolTip(self.tr("Try to connect again"))
        self.retry.clicked.connect(lambda: retry(self.uri))
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip(self.tr("Close the connection to {uri}").format(uri=row.uri))
        self.close_button.setAccessibleName(self.tr("Close the connection to {label}").format(label=row.label))
        self.close_button.clicked.connect(lambda: close(self.uri))
        for w in (self.icon, self.text, self.give_up, self.retry, self.close_button):
            line.addWidget(w)
        self.show_row(row)

    def show_row(self, row: ConnRow) -> None:
        busy = bool(row.busy) or row.state is ConnState.CONNECTING
        self.icon.setPixmap(icons.icon("conn-busy" if row.busy else _ICON[row.state]).pixmap(14, 14))
        failed = row.state is ConnState.FAILED and not row.busy
        status = translate(CONTEXT, N_("failed (see message)") if failed else row.status_text())
        self.icon.setAccessibleName(status)
        self.text.setText(translate(CONTEXT, N_("{label}: {status}", label=row.label, status=status)))
        message = translate(CONTEXT, row.message) if isinstance(row.message, Text) else row.message  # or a driver's
        self.setToolTip(f"{row.uri}\n{message}" if row.message else row.uri)
        self.give_up.setVisible(busy)
        self.retry.setVisible(not busy and row.state in (ConnState.FAILED, ConnState.DISCONNECTED))


class ConnectionStatus:
    """Keeps one chip per connection in ``bar``."""

    def __init__(self, bar: QStatusBar, model: ConnectionModel, give_up: Callable[[str], None],
                 close: Callable[[str], None], retry: Callable[[str], None]) -> None:
        self._bar = bar
        self._model = model
        self._give_up = give_up
        self._close = close
        self._retry = retry
        self.chips: dict[str, ConnectionChip] = {}
        model.connectionChanged.connect(self.refresh)

    def refresh(self, uri: str) -> None:
        row = self._model.get(uri)
        chip = self.chips.get(uri)
        if row is None:
            if chip is not None:
                self._bar.removeWidget(chip)
                chip.deleteLater()
                del self.chips[uri]
            return
        if chip is None:
            chip = ConnectionChip(row, self._give_up, self._close, self._retry, self._bar)
            self.chips[uri] = chip
            self._bar.addPermanentWidget(chip)
        chip.show_row(row)
