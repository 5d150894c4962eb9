"""The VM's screen inside the window: :class:`DisplayView` draws frames and sends keys and the pointer.

Everything goes through :class:`vmgui.models.display.DisplayModel` (the
socket is read and written on its threads). The view scales the frame to fit,
keeping its shape, or shows it 1:1 inside a scroll area; pointer positions are
mapped back to framebuffer pixels. Keys held when focus leaves are released in
the guest, so no modifier stays stuck.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QCursor,
    QFocusEvent,
    QHideEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QShowEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ..models.display import DisplayModel
from ..models.domains import DomainRow, Key
from ..models.session import Session
from ..rfb.keys import evdev_to_xt
from .displaykeys import SHIFT, KeyCode, key_code

_BUTTONS = {Qt.MouseButton.LeftButton: 1, Qt.MouseButton.MiddleButton: 2, Qt.MouseButton.RightButton: 4}
WHEEL_UP, WHEEL_DOWN = 8, 16


class DisplayView(QWidget):
    """``displayView``: the frame, scaled to fit or 1:1; takes keyboard focus on a click."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("displayView")
        self.setAccessibleName("Virtual machine screen")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)
        self.model: DisplayModel | None = None
        self.scale_to_fit = True
        self._image = QImage()
        self._held: dict[int, int] = {}  # evdev code -> keysym of keys down in the guest
        self._buttons = 0

    def set_model(self, model: DisplayModel | None) -> None:
        if self.model is not None:
            self.release_all()
            self.model.frameChanged.disconnect(self._frame)
            self.model.cursorChanged.disconnect(self._cursor)
        self.model = model
        self._image = QImage()
        self.unsetCursor()
        if model is not None:
            name = model.name
            self.setAccessibleName(f"Screen of {name}")
            model.frameChanged.connect(self._frame)
            model.cursorChanged.connect(self._cursor)
        self.updateGeometry()
        self.update()

    def framebuffer_image(self) -> QImage:
        """The frame as last drawn (what the guest's screen showed then)."""
        return self._image

    def set_scale_to_fit(self, fit: bool) -> None:
        self.scale_to_fit = fit
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return self._image.size() if not self._image.isNull() else QSize(640, 400)

    # -- drawing ------------------------------------------------------------------------
    def target(self) -> QRectF:
        """Where the frame goes in the widget: scaled keeping its shape and centred, or 1:1 at the top left."""
        size = self._image.size()
        if size.isEmpty():
            return QRectF()
        if not self.scale_to_fit:
            return QRectF(0, 0, size.width(), size.height())
        scale = min(self.width() / size.width(), self.height() / size.height())
        w, h = size.width() * scale, size.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def _frame(self, damage: QRect) -> None:
        assert self.model is not None
        resized = self.model.frame().size() != self._image.size()
        self._image = self.model.frame()
        if resized:
            self.updateGeometry()
            if not self.scale_to_fit:
                self.resize(self._image.size())
            self.update()
            return
        t = self.target()
        if t.isEmpty():
            return
        sx, sy = t.width() / self._image.width(), t.height() / self._image.height()
        self.update(QRectF(t.x() + damage.x() * sx, t.y() + damage.y() * sy, damage.width() * sx,
                           damage.height() * sy).toAlignedRect().adjusted(-1, -1, 1, 1))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(event.rect(), Qt.GlobalColor.black)
        if not self._image.isNull():
            t = self.target()
            if self.scale_to_fit and t.size().toSize() != self._image.size():
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(t, self._image)
        painter.end()

    def _cursor(self) -> None:
        cur = self.model.cursor if self.model is not None else None
        if cur is None or not cur.width or not cur.height:
            self.setCursor(Qt.CursorShape.BlankCursor)
            return
        image = QImage(cur.pixels, cur.width, cur.height, cur.width * 4, QImage.Format.Format_ARGB32).copy()
        self.setCursor(QCursor(QPixmap.fromImage(image), cur.hot_x, cur.hot_y))

    # -- keys -----------------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        """Every key goes to the guest while the screen has focus, before any window shortcut sees it
        (Ctrl+D is end-of-input to a shell there, not Shut Down here)."""
        if event.type() == QEvent.Type.ShortcutOverride and self.model is not None:
            event.accept()
            return True
        return super().event(event)

    def focusNextPrevChild(self, _next: bool) -> bool:
        return False  # Tab belongs to the guest

    def keyPressEvent(self, event: QKeyEvent) -> None:
        code = key_code(event)
        if code is None or self.model is None:
            event.ignore()
            return
        if code.needs_shift and not self._shift_held():
            self._send(True, KeyCode(*SHIFT), synthetic=True)
        self._send(True, code)
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        code = key_code(event)
        if code is None or self.model is None:
            event.ignore()
            return
        if event.isAutoRepeat():
            return  # the press that repeats is enough: the guest repeats on its own
        self._send(False, code)
        if code.needs_shift and self._held.get(-SHIFT[1]):
            self._send(False, KeyCode(*SHIFT), synthetic=True)
        event.accept()

    def _shift_held(self) -> bool:
        return any(code in self._held for code in (42, 54))

    def _send(self, down: bool, code: KeyCode, synthetic: bool = False) -> None:
        assert self.model is not None
        if down:
            self._held[code.evdev or -code.keysym] = code.keysym
            if synthetic:
                self._held[-SHIFT[1]] = 1  # marks a Shift we added ourselves
        else:
            self._held.pop(code.evdev or -code.keysym, None)
            if synthetic:
                self._held.pop(-SHIFT[1], None)
        self.model.key(down, code.keysym, evdev_to_xt(code.evdev))

    def release_all(self) -> None:
        """Key-up in the guest for every key still down here, and no buttons."""
        if self.model is None:
            return
        for code, keysym in list(self._held.items()):
            if code > 0:
                self.model.key(False, keysym, evdev_to_xt(code))
            elif code != -SHIFT[1]:
                self.model.key(False, -code)
        self._held.clear()
        if self._buttons:
            self._buttons = 0
            self.model.pointer(0, 0, 0)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self.release_all()
        super().focusOutEvent(event)

    # -- pointer --------------------------------------------------------------------------
    def to_framebuffer(self, pos: QPoint) -> tuple[int, int] | None:
        """The framebuffer pixel under widget position ``pos`` (None outside the frame)."""
        t = self.target()
        if t.isEmpty() or not t.contains(pos.toPointF()):
            return None
        x = int((pos.x() - t.x()) * self._image.width() / t.width())
        y = int((pos.y() - t.y()) * self._image.height() / t.height())
        return min(x, self._image.width() - 1), min(y, self._image.height() - 1)

    def _pointer(self, pos: QPoint, buttons: int) -> None:
        at = self.to_framebuffer(pos)
        if at is not None and self.model is not None:
            self.model.pointer(buttons, *at)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self._buttons |= _BUTTONS.get(event.button(), 0)
        self._pointer(event.position().toPoint(), self._buttons)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._buttons &= ~_BUTTONS.get(event.button(), 0)
        self._pointer(event.position().toPoint(), self._buttons)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._pointer(event.position().toPoint(), self._buttons)

    def wheelEvent(self, event: QWheelEvent) -> None:
        step = WHEEL_UP if event.angleDelta().y() > 0 else WHEEL_DOWN if event.angleDelta().y() < 0 else 0
        if step:
            pos = event.position().toPoint()
            self._pointer(pos, self._buttons | step)
            self._pointer(pos, self._buttons)
        event.accept()


class DisplayPane(QWidget):
    """A status line, Connect/Disconnect, "Scale to fit", and the view in a scroll area (for 1:1)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("displayPane")
        self.model: DisplayModel | None = None
        self.status = QLabel("", self)
        self.status.setObjectName("displayStatus")
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.connect_button = QPushButton("Connect", self)
        self.connect_button.setObjectName("displayConnect")
        self.connect_button.setToolTip("Show the screen of the virtual machine here")
        self.connect_button.clicked.connect(self._toggle)
        self.fit = QCheckBox("Scale to fit", self)
        self.fit.setObjectName("displayScaleToFit")
        self.fit.setChecked(True)
        self.fit.toggled.connect(self._set_fit)
        self.view = DisplayView()
        self.scroller = QScrollArea(self)
        self.scroller.setWidgetResizable(True)
        self.scroller.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroller.setWidget(self.view)
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        bar.addWidget(self.fit)
        bar.addWidget(self.connect_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.scroller, 1)

    def set_model(self, model: DisplayModel | None) -> None:
        """Show ``model``'s display (None: nothing); the previous model is closed."""
        old = self.model
        if old is not None:
            old.status.disconnect(self._status)
            old.ended.disconnect(self._ended)
            self.view.set_model(None)
            old.close()
            old.deleteLater()
        self.model = model
        self.view.set_model(model)
        if model is None:
            self.status.setText("")
            self.connect_button.setEnabled(False)
            return
        model.status.connect(self._status)
        model.ended.connect(self._ended)
        self.connect_button.setEnabled(True)
        self.connect_button.setText("Connect")

    def connect_display(self) -> None:
        if self.model is not None:
            self.model.start()
            self.connect_button.setText("Disconnect")

    def disconnect_display(self) -> None:
        if self.model is not None:
            self.view.release_all()
            self.model.close()
            self.connect_button.setText("Connect")
            self.status.setText(f"Not connected to the display of {self.model.name}")

    def _toggle(self) -> None:
        if self.model is not None and self.model.busy:
            self.disconnect_display()
        else:
            self.connect_display()

    def _status(self, text: str) -> None:
        self.status.setText(text)

    def _ended(self, _sentence: str) -> None:
        self.connect_button.setText("Connect")

    def _set_fit(self, fit: bool) -> None:
        self.view.set_scale_to_fit(fit)
        self.scroller.setWidgetResizable(fit)
        if not fit:
            self.view.resize(self.view.sizeHint())


class DisplayTab(DisplayPane):
    """The details pane's "Display" tab: connects while it is in view and its domain runs."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._key: Key | None = None
        self._active = False
        self._shown = False
        self._declined = False  # the user pressed Disconnect: no connecting again by itself
        self.connect_button.clicked.connect(self._clicked)
        self.connect_button.setEnabled(False)
        self.status.setText("Select a domain to see its screen.")

    def show_row(self, row: DomainRow | None) -> None:
        key = row.key if row is not None else None
        if key != self._key:
            self._key, self._declined = key, False
            self.set_model(None if row is None else DisplayModel(
                self._session.bridge, self._session.spawn, row.uri, row.rec.uuid, row.rec.name, self))
            if row is None:
                self.status.setText("Select a domain to see its screen.")
        was_active, self._active = self._active, row is not None and row.rec.active
        if row is not None and not self._active:
            self.connect_button.setEnabled(False)
            self.status.setText(f"{row.rec.name} is not running: start it to see its screen here.")
            if was_active and self.model is not None:
                self.disconnect_display()
                self.status.setText(f"{row.rec.name} is not running: start it to see its screen here.")
        elif row is not None:
            self.connect_button.setEnabled(True)
        self._follow()

    def set_shown(self, shown: bool) -> None:
        """The tab came into view (connect if it can) or left it (disconnect: nobody looks)."""
        self._shown = shown
        if not shown and self.model is not None and self.model.busy:
            self.disconnect_display()
        self._follow()

    def hideEvent(self, event: QHideEvent) -> None:
        """A closed or hidden window: nobody looks, so the stream closes (and opens again when shown)."""
        if self.model is not None and self.model.busy:
            self.disconnect_display()
        super().hideEvent(event)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._follow()

    def _follow(self) -> None:
        model = self.model
        if model is None or not (self._shown and self._active) or self._declined or not self.isVisible():
            return
        if not model.busy:
            self.connect_display()

    def _clicked(self) -> None:
        """After the pane's own handler: Disconnect pressed means stay disconnected until Connect."""
        self._declined = self.model is not None and not self.model.busy
