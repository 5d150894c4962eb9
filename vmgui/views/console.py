"""The serial console window of one domain: scrollback, a status line and an input line.

A modeless dialog (several can be open, the main window stays usable). Typing
happens in a line field: Return sends the line and a carriage return, as a
terminal would (an empty line sends a bare Return); a button sends Ctrl+C, and
Reconnect appears once the guest side hung up.
All I/O goes through :class:`vmgui.models.console.ConsoleModel`.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QTextCursor
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..models.console import MAX_LINES, ConsoleModel
from .names import fixed_font, name_widget
from .theme import error_style


class ConsoleDialog(QDialog):
    """``consoleDialog``: ``consoleOutput``, ``consoleInput``, ``consoleStatus``."""

    def __init__(self, model: ConsoleModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "consoleDialog")
        self.model = model
        model.setParent(self)
        self.setWindowTitle(f"{model.name} — serial console")
        self.setModal(False)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(760, 480)

        self.output = QPlainTextEdit(self)
        name_widget(self.output, "consoleOutput", "Console output")
        self.output.setReadOnly(True)
        self.output.setMaximumBlockCount(MAX_LINES)
        self.output.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.output.setFont(fixed_font())
        self.output.setStyleSheet("QPlainTextEdit { background: #1e2127; color: #d8dee9; }")
        self.status = QLabel("", self)
        self.status.setObjectName("consoleStatus")
        self.status.setWordWrap(True)
        self.input = QLineEdit(self)
        name_widget(self.input, "consoleInput", "Type into the console")
        self.input.setPlaceholderText("Type a command and press Return")
        self.input.setFont(self.output.font())
        self.input.returnPressed.connect(self._send_line)
        ctrl_c = QPushButton("Ctrl+C", self)
        ctrl_c.setObjectName("consoleCtrlC")
        ctrl_c.setToolTip("Send an interrupt (Ctrl+C) to the guest")
        ctrl_c.setAutoDefault(False)
        ctrl_c.clicked.connect(lambda: model.send(b"\x03"))
        self.reconnect = QPushButton("Reconnect", self)
        self.reconnect.setObjectName("consoleReconnect")
        self.reconnect.setToolTip("Open the console again (after the domain was started again)")
        self.reconnect.setAutoDefault(False)
        self.reconnect.setVisible(False)
        self.reconnect.clicked.connect(self._reconnect)
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addWidget(ctrl_c)
        row.addWidget(self.reconnect)
        layout = QVBoxLayout(self)
        layout.addWidget(self.output, 1)
        layout.addLayout(row)
        layout.addWidget(self.status)

        model.appended.connect(self._append)
        model.status.connect(self.status.setText)
        model.ended.connect(self._ended)
        self.input.setFocus()

    def _append(self, text: str) -> None:
        bar = self.output.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 2  # keep following unless the user scrolled up
        cursor = QTextCursor(self.output.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        for i, part in enumerate(text.split("\b")):
            if i and cursor.positionInBlock() > 0:
                cursor.deletePreviousChar()
            cursor.insertText(part)
        if follow:
            bar.setValue(bar.maximum())

    def _send_line(self) -> None:
        self.model.send(self.input.text().encode() + b"\r")
        self.input.clear()

    def _ended(self, _sentence: str) -> None:
        self.input.setEnabled(False)
        self.reconnect.setVisible(True)
        self.status.setStyleSheet(f"{error_style()} font-weight: 600;")

    def _reconnect(self) -> None:
        self.reconnect.setVisible(False)
        self.input.setEnabled(True)
        self.status.setStyleSheet("")
        self._append("\n")
        self.model.start()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.model.close()
        super().closeEvent(event)

    def done(self, result: int) -> None:  # Escape or reject(): stop the reader too
        self.model.close()
        super().done(result)
