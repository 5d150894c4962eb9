"""``consoleTerminal``: a terminal widget drawing a console's screen and typing into it.

It paints the :class:`~vmgui.models.terminal.TerminalScreen` of a
:class:`~vmgui.models.console.ConsoleModel` in the monospace font (colours,
bold, reverse video, the cursor) and sends key presses as the bytes an xterm
sends. While it has focus every key goes to the guest: the window's shortcuts
never take one (Ctrl+C interrupts in the guest), except the terminal's own
copy (Ctrl+Shift+C) and paste (Ctrl+Shift+V). Repaints are batched: however
much the guest prints, the widget updates at most once per frame.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QRect, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from ..models.console import ConsoleModel
from ..models.terminal import APP_CURSOR_KEYS, BRACKETED_PASTE, Char
from .names import fixed_font, name_widget
from .terminalkeys import key_bytes

FRAME_MS = 16  # repaints at most once per frame
WHEEL_LINES = 3
BACKGROUND, FOREGROUND = "#1e2127", "#d8dee9"
#: pyte's colour names -> what they look like here (xterm's palette, a little softened)
PALETTE = {
    "black": "#2e3440", "red": "#cc3b3b", "green": "#4fae4f", "brown": "#c8a03c", "blue": "#4c7fd6",
    "magenta": "#b45ab4", "cyan": "#3ca8b4", "white": "#d8dee9",
    "brightblack": "#6b7384", "brightred": "#ff6b6b", "brightgreen": "#7ee07e", "brightbrown": "#ffd866",
    "brightblue": "#7aa8ff", "brightmagenta": "#e08ae0", "brightcyan": "#6ee0ec", "brightwhite": "#ffffff",
}
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def colour(name: str, default: str) -> QColor:
    """A pyte colour (a name, or six hex digits for 256/true colours) as a QColor."""
    if name == "default":
        return QColor(default)
    if name in PALETTE:
        return QColor(PALETTE[name])
    return QColor(f"#{name}") if len(name) == 6 else QColor(default)


class TerminalView(QWidget):
    """Draws ``model.terminal``; keys, paste and replies to the program go to ``model.send``."""

    def __init__(self, model: ConsoleModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "consoleTerminal", self.tr("Console"))
        self.model = model
        self.term = model.terminal
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled)
        self.setCursor(Qt.CursorShape.IBeamCursor)
        self.set_terminal_font(fixed_font())
        self.scrolled = 0  # lines scrolled up into the scrollback (0: following the output)
        self._selection: tuple[tuple[int, int], tuple[int, int]] | None = None
        self._selecting = False
        self.repaints = 0  # paint events so far (the benchmark counts them)
        self._frame = QTimer(self)
        self._frame.setSingleShot(True)
        self._frame.setInterval(FRAME_MS)
        self._frame.timeout.connect(self.update)
        model.changed.connect(self._on_changed)

    # -- geometry ------------------------------------------------------------
    def set_terminal_font(self, font: QFont) -> None:
        """Draw in ``font`` (monospace): the cell size follows it."""
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        metrics = QFontMetrics(font)
        self.cell_w = max(1, metrics.horizontalAdvance("M"))
        self.cell_h = max(1, metrics.height())
        self._ascent = metrics.ascent()

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.term.resize(self.width() // self.cell_w, self.height() // self.cell_h)
        super().resizeEvent(event)

    def cell_at(self, pos: QPoint) -> tuple[int, int]:
        """(line counted from the oldest scrollback line, column) under a widget point."""
        row = min(max(pos.y() // self.cell_h, 0), self.term.rows - 1)
        col = min(max(pos.x() // self.cell_w, 0), self.term.columns - 1)
        return self.term.history_lines - self.scrolled + row, col

    # -- output --------------------------------------------------------------
    def _on_changed(self) -> None:
        if self.scrolled:  # keep the lines the user is reading where they are
            self.scrolled = min(self.scrolled, self.term.history_lines)
        if not self._frame.isActive():
            self._frame.start()

    def scroll_to(self, lines: int) -> None:
        """Show ``lines`` up into the scrollback (clamped; 0 follows the output)."""
        self.scrolled = max(0, min(lines, self.term.history_lines))
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        self.repaints += 1
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(BACKGROUND))
        base = self.font()
        bold = QFont(base)
        bold.setBold(True)
        first = self.term.history_lines - self.scrolled
        columns = self.term.columns
        for y, row in enumerate(self.term.visible(self.scrolled)):
            # cells never written are blank: stop after the last one that was
            width = min(columns, max(row.keys(), default=-1) + 1)
            if self._selection is not None:
                width = columns
            x = 0
            while x < width:
                char = row[x]
                start, look = x, (char.fg, char.bg, char.bold, char.reverse, char.underscore)
                marked = self._selected(first + y, x)
                text = []
                while x < width:
                    c = row[x]
                    if (c.fg, c.bg, c.bold, c.reverse, c.underscore) != look or (
                            self._selection is not None and self._selected(first + y, x) != marked):
                        break
                    text.append(c.data or " ")
                    x += 1
                self._draw_run(painter, start, y, "".join(text), char, marked, base, bold)
        cx, cy, shown = self.term.cursor
        if shown and self.scrolled < self.term.rows - cy:
            rect = QRect(cx * self.cell_w, (cy + self.scrolled) * self.cell_h, self.cell_w, self.cell_h)
            painter.setPen(QColor(FOREGROUND))
            if self.hasFocus():
                painter.setCompositionMode(QPainter.CompositionMode.RasterOp_SourceXorDestination)
                painter.fillRect(rect, QColor("#ffffff"))
            else:
                painter.drawRect(rect.adjusted(0, 0, -1, -1))
        painter.end()

    def _draw_run(self, painter: QPainter, column: int, y: int, run: str, char: Char, marked: bool,
                  base: QFont, bold: QFont) -> None:
        """One run of cells that look alike: background, then the text."""
        fg, bg = colour(char.fg, FOREGROUND), colour(char.bg, BACKGROUND)
        if char.reverse != marked:
            fg, bg = bg, fg
        rect = QRect(column * self.cell_w, y * self.cell_h, len(run) * self.cell_w, self.cell_h)
        if bg != QColor(BACKGROUND):
            painter.fillRect(rect, bg)
        if run.strip():
            font = QFont(bold if char.bold else base)
            font.setUnderline(char.underscore)
            painter.setFont(font)
            painter.setPen(fg)
            painter.drawText(column * self.cell_w, y * self.cell_h + self._ascent, run)

    # -- selection, copy and paste ----------------------------------------------
    def _selected(self, line: int, col: int) -> bool:
        if self._selection is None:
            return False
        start, end = sorted(self._selection)
        return start <= (line, col) <= end

    def selected_text(self) -> str:
        return self.term.selection_text(*self._selection) if self._selection else ""

    def copy(self) -> None:
        text = self.selected_text()
        if text:
            QGuiApplication.clipboard().setText(text)

    def paste(self, text: str) -> None:
        """Type ``text`` into the guest (bracketed when the program asked for it)."""
        if not text:
            return
        data = text.replace("\r\n", "\r").replace("\n", "\r").encode()
        if self.term.mode(BRACKETED_PASTE):
            data = b"\x1b[200~" + data + b"\x1b[201~"
        self.scroll_to(0)
        self.model.send(data)

    def paste_clipboard(self) -> None:
        self.paste(QGuiApplication.clipboard().text())
        self.setFocus()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if event.button() == Qt.MouseButton.LeftButton:
            cell = self.cell_at(event.position().toPoint())
            self._selection, self._selecting = (cell, cell), True
            self.update()
        elif event.button() == Qt.MouseButton.MiddleButton:
            clipboard = QGuiApplication.clipboard()
            text = clipboard.text(clipboard.Mode.Selection) if clipboard.supportsSelection() else ""
            self.paste(text or clipboard.text())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._selecting and self._selection is not None:
            self._selection = (self._selection[0], self.cell_at(event.position().toPoint()))
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self._selecting:
            return
        self._selecting = False
        if self._selection is not None and self._selection[0] == self._selection[1]:
            self._selection = None  # a click, not a selection
            self.update()
            return
        clipboard = QGuiApplication.clipboard()
        if clipboard.supportsSelection():
            clipboard.setText(self.selected_text(), clipboard.Mode.Selection)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() // 120
        if steps:
            self.scroll_to(self.scrolled + steps * WHEEL_LINES)

    # -- keys ------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            event.accept()  # every key is the guest's while the terminal has focus
            return True
        return super().event(event)

    def focusNextPrevChild(self, _next: bool) -> bool:
        return False  # Tab completes in the guest's shell

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        if mods & CTRL_SHIFT == CTRL_SHIFT and key in (Qt.Key.Key_C, Qt.Key.Key_V):
            if key == Qt.Key.Key_C:
                self.copy()
            else:
                self.paste_clipboard()
            return
        if mods & Qt.KeyboardModifier.ShiftModifier and key in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
            page = self.term.rows - 1
            self.scroll_to(self.scrolled + (page if key == Qt.Key.Key_PageUp else -page))
            return
        data = key_bytes(key, mods, event.text(), self.term.mode(APP_CURSOR_KEYS))
        if data is None:
            super().keyPressEvent(event)
            return
        if self._selection is not None:
            self._selection = None
        self.scroll_to(0)
        self.model.send(data)
