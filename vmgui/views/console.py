"""The serial console window of one domain: a terminal, a status bar and Reconnect.

A modeless dialog (several can be open, the main window stays usable). The
terminal (:mod:`vmgui.views.terminal`) takes every key while it has focus, so
Escape, Tab and Ctrl+C reach the guest instead of closing the window or moving
focus. The bar under it says whether the console is connected, the VM paused
or stopped; the console opens again by itself when the VM runs again, and
Reconnect is there for when that cannot happen (opening failed). A VM that
stopped is not an error: that sentence is plain, only a failure is red.
All I/O goes through :class:`vmgui.models.console.ConsoleModel`.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..i18n import translate
from ..models.console import ConsoleModel
from .names import name_widget
from .terminal import BACKGROUND, TerminalView
from .theme import error_style

#: The translation context of the console's marked sentences (``self.tr`` here uses it too).
CONTEXT = "ConsoleDialog"


class ConsoleDialog(QDialog):
    """``consoleDialog``: ``consoleTerminal``, ``consoleStatus``, ``consoleReconnect``, copy and paste."""

    def __init__(self, model: ConsoleModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "consoleDialog")
        self.model = model
        model.setParent(self)
        self.setWindowTitle(self.tr("{name} — serial console").format(name=model.name))
        self.setModal(False)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(760, 480)

        self.terminal = TerminalView(model, self)
        self.status = QLabel("", self)
        name_widget(self.status, "consoleStatus", self.tr("Console status"))
        self.status.setWordWrap(True)
        self.reconnect = QPushButton(self.tr("Reconnect"), self)
        self.reconnect.setObjectName("consoleReconnect")
        self.reconnect.setToolTip(self.tr("Open the console again"))
        self.reconnect.setAutoDefault(False)
        self.reconnect.setVisible(False)
        self.reconnect.clicked.connect(self._reconnect)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.reconnect)
        for name, label, tip, slot in (
                ("consoleCopy", self.tr("Copy"), self.tr("Copy the selected text (Ctrl+Shift+C)"), self.terminal.copy),
                ("consolePaste", self.tr("Paste"), self.tr("Type the clipboard into the console (Ctrl+Shift+V)"),
                 self.terminal.paste_clipboard)):
            button = QPushButton(label, self)
            button.setObjectName(name)
            button.setToolTip(tip)
            button.setAutoDefault(False)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys stay with the terminal
            button.clicked.connect(slot)
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.terminal, 1)
        layout.addLayout(row)
        self.setStyleSheet(f"QDialog#consoleDialog {{ background: {BACKGROUND}; }}"
                           "QLabel#consoleStatus { color: #d8dee9; }")

        model.status.connect(self._status)
        model.ended.connect(self._ended)
        model.reopened.connect(self._reopened)
        model.paused.connect(self._paused)
        self.terminal.setFocus()

    def _status(self, sentence: str) -> None:
        self.status.setText(translate(CONTEXT, sentence))

    def _ended(self, _sentence: str, failed: bool) -> None:
        self.reconnect.setVisible(failed)
        self.status.setStyleSheet(f"{error_style()} font-weight: 600;" if failed else "")

    def _reopened(self) -> None:
        self.reconnect.setVisible(False)
        self.status.setStyleSheet("")
        self.model.terminal.feed(b"\r\n")

    def _paused(self, paused: bool) -> None:
        self.status.setStyleSheet("font-weight: 600;" if paused else "")

    def _reconnect(self) -> None:
        self.reconnect.setVisible(False)
        self.model.start()
        self.terminal.setFocus()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.model.close()
        super().closeEvent(event)

    def done(self, result: int) -> None:  # Escape or reject(): stop the reader too
        self.model.close()
        super().done(result)
