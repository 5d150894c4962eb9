"""A VT100/xterm screen with scrollback, fed with a serial console's bytes (no Qt here).

pyte keeps the screen state (cursor, attributes, modes); this adds what a
view needs: the rows to draw at a scroll offset into the scrollback, the modes
that change what keys send (application cursor keys, bracketed paste), text
of a selection, and answers the program asks for (a cursor position report)
handed back through ``reply``. Lines that scroll off the top are kept, up to
:data:`SCROLLBACK` of them.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import Any

import pyte
from pyte import modes
from pyte.screens import Char as Char  # re-exported: the views draw these cells

SCROLLBACK = 10_000
COLUMNS, ROWS = 80, 24
#: private modes are stored shifted by 5 bits in pyte (to tell them from ANSI modes)
APP_CURSOR_KEYS = 1 << 5  # DECCKM: cursor keys send ESC O A (pyte keeps the flag, names it not)
BRACKETED_PASTE = 2004 << 5

Row = dict[int, Char]


class ScrollbackScreen(pyte.Screen):
    """pyte's screen keeping the lines that scroll off the top of the whole screen.

    (pyte's own HistoryScreen wraps every attribute access, which halves the speed
    at which a guest's output reaches the screen.)
    """

    def __init__(self, columns: int, lines: int, scrollback: int) -> None:
        self.scrollback: deque[Row] = deque(maxlen=scrollback)
        super().__init__(columns, lines)

    def index(self) -> None:
        top, bottom = self.margins or (0, self.lines - 1)
        if top == 0 and bottom == self.lines - 1 and self.cursor.y == bottom:  # the whole screen, not a region
            self.scrollback.append(self.buffer[top])
        super().index()

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        if how == 3:  # "clear the scrollback too" (clear -x does not send it)
            self.scrollback.clear()
        super().erase_in_display(how, *args, **kwargs)


class TerminalScreen:
    """The screen and scrollback of one console; ``feed`` takes the guest's bytes."""

    def __init__(self, columns: int = COLUMNS, rows: int = ROWS, scrollback: int = SCROLLBACK,
                 reply: Callable[[bytes], None] | None = None) -> None:
        self.screen = ScrollbackScreen(columns, rows, scrollback)
        self.screen.write_process_input = self._reply  # type: ignore[method-assign]
        self._stream = pyte.ByteStream(self.screen)
        self._on_reply = reply or (lambda _data: None)

    def _reply(self, data: str) -> None:
        self._on_reply(data.encode())

    def feed(self, data: bytes) -> None:
        self._stream.feed(data)

    @property
    def columns(self) -> int:
        return int(self.screen.columns)

    @property
    def rows(self) -> int:
        return int(self.screen.lines)

    def resize(self, columns: int, rows: int) -> None:
        """The view's size in cells (nothing goes to the guest: a serial line has no size)."""
        columns, rows = max(columns, 2), max(rows, 2)
        if rows < self.rows:
            self._shrink(rows)
        if (columns, rows) != (self.columns, self.rows):
            self.screen.resize(rows, columns)

    def _shrink(self, rows: int) -> None:
        """Fewer rows, losing nothing: blank rows below the cursor go first, then the top rows
        scroll into the scrollback (pyte itself would drop the top rows)."""
        screen, buffer = self.screen, self.screen.buffer
        excess = self.rows - rows
        below = self.rows - 1 - screen.cursor.y
        push = max(0, excess - below)
        for y in range(push):
            screen.scrollback.append(buffer[y])
        kept = {y - push: buffer[y] for y in range(push, self.rows) if y - push < rows}
        buffer.clear()
        buffer.update(kept)
        screen.cursor.y -= push
        screen.lines = rows
        screen.set_margins()

    @property
    def history_lines(self) -> int:
        """How many lines scrolled off the top and can be scrolled back to."""
        return len(self.screen.scrollback)

    def mode(self, mode: int) -> bool:
        return mode in self.screen.mode

    @property
    def cursor(self) -> tuple[int, int, bool]:
        """(column, row, shown) of the cursor on the live screen."""
        c = self.screen.cursor
        return int(c.x), int(c.y), modes.DECTCEM in self.screen.mode

    def row(self, index: int) -> Row:
        """Line ``index`` counted from the oldest line of the scrollback (0) to the last screen row."""
        top = self.screen.scrollback
        if index < len(top):
            return top[index]
        return self.screen.buffer[index - len(top)]

    def visible(self, offset: int = 0) -> list[Row]:
        """The rows shown ``offset`` lines up into the scrollback (0: the live screen)."""
        top = self.screen.scrollback
        offset = max(0, min(offset, len(top)))
        buffer = self.screen.buffer
        rows: list[Row] = list(islice(top, len(top) - offset, len(top)))
        rows += [buffer[y] for y in range(self.rows - offset)] if offset < self.rows else []
        return rows[:self.rows]

    def line_text(self, index: int) -> str:
        row = self.row(index)
        return "".join(row[x].data for x in range(self.columns)).rstrip()

    def display(self) -> list[str]:
        """The live screen as text, one string per row (trailing blanks kept, as pyte does)."""
        return list(self.screen.display)

    def text(self) -> str:
        """Scrollback and screen as plain text, one line per row, trailing blanks and rows dropped."""
        lines = [self.line_text(i) for i in range(self.history_lines + self.rows)]
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines)

    def selection_text(self, start: tuple[int, int], end: tuple[int, int]) -> str:
        """The text between two (line, column) cells, inclusive, in reading order."""
        (l1, c1), (l2, c2) = sorted((start, end))
        out = []
        for line in range(l1, l2 + 1):
            row = self.row(line)
            first = c1 if line == l1 else 0
            last = c2 if line == l2 else self.columns - 1
            out.append("".join(row[x].data for x in range(first, last + 1)).rstrip())
        return "\n".join(out)
