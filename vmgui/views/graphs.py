"""A small line graph for the details pane: recent values as a polyline, the last one as text.

Painted with QPainter (no chart library): a few dozen points, repainted once a
second at most, cost nothing next to the table. ``None`` values (not known
yet) leave a gap rather than a made-up zero.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from . import theme
from .names import name_widget


class Graph(QWidget):
    """Values over time; ``ceiling`` is the top of the scale (None: the largest value seen)."""

    def __init__(self, object_name: str, title: str, fmt: Callable[[float], str], colour: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, object_name, title)
        self.title = title
        self._fmt = fmt
        self._colour = QColor(colour)
        self.values: list[float | None] = []
        self.ceiling: float | None = None
        self.note = ""  # shown instead of a graph (e.g. "not running")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumSize(100, 64)

    def sizeHint(self) -> QSize:
        return QSize(150, 64)

    def last_text(self) -> str:
        """The figure shown in the corner, also the accessible description."""
        if self.note:
            return self.note
        last = next((v for v in reversed(self.values) if v is not None), None)
        return "—" if last is None else self._fmt(last)

    def set_values(self, values: Sequence[float | None], ceiling: float | None = None, note: str = "") -> None:
        self.values, self.ceiling, self.note = list(values), ceiling, note
        self.setAccessibleDescription(self.tr("{title}: {figure}").format(title=self.title, figure=self.last_text()))
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        box = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        chosen = theme.colours(self.palette())
        painter.setPen(QPen(QColor(chosen.graph_border)))
        painter.setBrush(QColor(chosen.graph_bg))
        painter.drawRect(box)
        plot = box.adjusted(2, 16, -2, -2)
        known = [v for v in self.values if v is not None]
        if known and not self.note:
            top = self.ceiling or max(known) or 1.0
            step = plot.width() / max(1, len(self.values) - 1)
            pen = QPen(self._colour, 1.5)
            painter.setPen(pen)
            line = QPolygonF()
            for i, value in enumerate(self.values):
                if value is None:
                    painter.drawPolyline(line)
                    line = QPolygonF()
                    continue
                y = plot.bottom() - plot.height() * min(1.0, max(0.0, value / top))
                line.append(QPointF(plot.left() + i * step, y))
            painter.drawPolyline(line)
        painter.setPen(QColor(chosen.graph_text))
        painter.drawText(box.adjusted(4, 1, -4, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, self.title)
        painter.drawText(box.adjusted(4, 1, -4, 0), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
                         self.last_text())
        painter.end()
