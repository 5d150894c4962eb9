"""The VM's screen inside the window: :class:`DisplayView` draws frames and sends keys and the pointer.

Everything goes through :class:`vmgui.models.display.DisplayModel` (the
socket is read and written on its threads). The view scales the frame to fit,
keeping its shape, or shows it 1:1 inside a scroll area; pointer positions are
mapped back to framebuffer pixels. Keys held when focus leaves are released in
the guest, so no modifier stays stuck.
"""
from __future__ import annotations

import os
import time

from PySide6.QtCore import QEvent, QKeyCombination, QObject, QPoint, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCursor,
    QFocusEvent,
    QHideEvent,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QShowEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from drivers.errors import DriverError

from ..actions import rules
from ..actions.requests import Resume, Start
from ..i18n import N_, Text, translate
from ..models.display import SPICE_ONLY, DisplayModel, screenshot_png, write_screenshot
from ..models.domains import DomainRow, Key
from ..models.session import Session
from ..models.vnc import open_graphical_console
from ..rfb.keys import KEY_COMBOS, evdev_to_xt
from .displaykeys import SHIFT, KeyCode, key_code
from .messagearea import OneLineLabel

_CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
_BUTTONS = {Qt.MouseButton.LeftButton: 1, Qt.MouseButton.MiddleButton: 2, Qt.MouseButton.RightButton: 4}
WHEEL_UP, WHEEL_DOWN = 8, 16
#: The translation context of the marked texts the pane shows (``self.tr`` in DisplayPane uses it too).
CONTEXT = "DisplayPane"


class DisplayView(QWidget):
    """``displayView``: the frame, scaled to fit or 1:1; takes keyboard focus on a click.

    A guest with only a relative mouse (no tablet) cannot follow the host's pointer: a click then
    grabs the pointer, its motion goes to the guest, and Ctrl+Alt gives it back (``grabChanged``)."""

    grabChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("displayView")
        self.setAccessibleName(self.tr("Virtual machine screen"))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)
        self.model: DisplayModel | None = None
        self.scale_to_fit = True
        self._image = QImage()
        self._held: dict[int, int] = {}  # evdev code -> keysym of keys down in the guest
        self._buttons = 0
        #: the few key combinations that stay the window's while the screen has focus (full screen in and out)
        self.reserved: set[QKeyCombination] = set()
        self.grabbed = False

    def set_model(self, model: DisplayModel | None) -> None:
        self.release_pointer()
        if self.model is not None:
            self.release_all()
            self.model.frameChanged.disconnect(self._frame)
            self.model.cursorChanged.disconnect(self._cursor)
        self.model = model
        self._image = QImage()
        self.unsetCursor()
        if model is not None:
            name = model.name
            self.setAccessibleName(self.tr("Screen of {name}").format(name=name))
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
            assert isinstance(event, QKeyEvent)
            if event.keyCombination() in self.reserved:
                return super().event(event)
            event.accept()
            return True
        return super().event(event)

    def focusNextPrevChild(self, _next: bool) -> bool:
        return False  # Tab belongs to the guest

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.grabbed and event.key() in (Qt.Key.Key_Control, Qt.Key.Key_Alt) and (
                event.modifiers() & _CTRL_ALT) == _CTRL_ALT:
            self.release_pointer()
            self.release_all()  # Ctrl and Alt are the host's here: the guest gets them released
            event.accept()
            return
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
        self.release_pointer()
        self.release_all()
        super().focusOutEvent(event)

    # -- pointer --------------------------------------------------------------------------
    def to_framebuffer(self, pos: QPoint) -> tuple[int, int] | None:
        """The framebuffer pixel under widget position ``pos`` (None outside the frame), found from the
        centre of the widget pixel: a scaled frame's edge falls inside a pixel, which counts where its
        centre lies."""
        t = self.target()
        centre = QPointF(pos.x() + 0.5, pos.y() + 0.5)
        if t.isEmpty() or not t.contains(centre):
            return None
        x = int((centre.x() - t.x()) * self._image.width() / t.width())
        y = int((centre.y() - t.y()) * self._image.height() / t.height())
        return min(x, self._image.width() - 1), min(y, self._image.height() - 1)

    def _pointer(self, pos: QPoint, buttons: int) -> None:
        if self.grabbed and self.model is not None:
            self.model.pointer_relative(buttons, 0, 0)  # buttons and wheel of a held pointer: no motion
            return
        at = self.to_framebuffer(pos)
        if at is not None and self.model is not None:
            self.model.pointer(buttons, *at)

    @property
    def relative(self) -> bool:
        """The guest has only a relative mouse (its server said so)."""
        return self.model is not None and self.model.absolute_pointer is False

    def grab_pointer(self) -> None:
        """The pointer belongs to the guest until Ctrl+Alt (or focus leaving): hidden, held in the middle."""
        if self.grabbed or not self.relative:
            return
        self.grabbed = True
        self.grabMouse(QCursor(Qt.CursorShape.BlankCursor))
        QCursor.setPos(self._centre())
        self.grabChanged.emit(True)

    def release_pointer(self) -> None:
        if not self.grabbed:
            return
        self.grabbed = False
        self.releaseMouse()
        self.grabChanged.emit(False)

    def _centre(self) -> QPoint:
        return self.mapToGlobal(self.rect().center())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if self.relative and not self.grabbed:
            self.grab_pointer()  # the click that grabs is not the guest's
            return
        self._buttons |= _BUTTONS.get(event.button(), 0)
        self._pointer(event.position().toPoint(), self._buttons)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._buttons &= ~_BUTTONS.get(event.button(), 0)
        self._pointer(event.position().toPoint(), self._buttons)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.grabbed:
            centre = self._centre()
            delta = event.globalPosition().toPoint() - centre
            if delta.x() or delta.y():
                assert self.model is not None
                self.model.pointer_relative(self._buttons, delta.x(), delta.y())
                QCursor.setPos(centre)
            return
        self._pointer(event.position().toPoint(), self._buttons)

    def wheelEvent(self, event: QWheelEvent) -> None:
        step = WHEEL_UP if event.angleDelta().y() > 0 else WHEEL_DOWN if event.angleDelta().y() < 0 else 0
        if step:
            pos = event.position().toPoint()
            self._pointer(pos, self._buttons | step)
            self._pointer(pos, self._buttons)
        event.accept()


class DisplayNotice(QFrame):
    """``displayNotice``: what the picture cannot say (not running, paused, connecting, closed), said over it,
    with the one button that helps (Start, Resume, Connect, Open in External Viewer)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("displayNotice")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.text = QLabel("", self)
        self.text.setObjectName("displayNoticeText")
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.button = QPushButton("", self)
        self.button.setObjectName("displayNoticeButton")
        #: the display's VNC password, shown when the server asks for one (its text is never kept here)
        self.password = QLineEdit(self)
        self.password.setObjectName("displayPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(self.tr("Password"))
        self.password.setAccessibleName(self.tr("Display password"))
        self.password.returnPressed.connect(self.button.click)
        self.password.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(self.password, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        #: the button's label in English (what it does, whatever language it is shown in)
        self.offer = ""

    def say(self, text: str, button: str = "", ask_password: bool = False) -> None:
        """Show ``text`` (empty: hide) and a button labelled ``button`` (empty: none), with the password
        field above it when ``ask_password``; both translated (marked texts; a plain one is data)."""
        text = translate(CONTEXT, text) if isinstance(text, Text) else text
        self.offer = button
        label = translate(CONTEXT, button) if button else ""
        self.text.setText(text)
        self.setAccessibleName(text)
        self.button.setText(label)
        self.button.setAccessibleName(label)
        self.button.setVisible(bool(button))
        if not ask_password:
            self.password.clear()
        was_asking = self.password.isVisible()
        self.password.setVisible(ask_password)
        self.setVisible(bool(text))
        if ask_password and not was_asking:
            self.password.setFocus()
        self.adjustSize()
        self._place()

    def _place(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        width = min(parent.width() - 20, max(320, self.sizeHint().width()))
        height = self.heightForWidth(width) if self.hasHeightForWidth() else self.sizeHint().height()
        self.setGeometry((parent.width() - width) // 2, (parent.height() - height) // 2, width, height)
        self.raise_()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self.parentWidget():
            self._place()
        return False


#: Full screen in and out; typed into the screen, these stay the window's.
FULL_SCREEN_KEYS = (QKeyCombination(Qt.Key.Key_F11),
                    QKeyCombination(Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier,
                                    Qt.Key.Key_F))
FULL_SCREEN_HINT = N_("Full screen: press F11, Ctrl+Alt+F or Esc to leave.")


#: What the View and Send Key buttons offer, said in their tooltips while they can be used.
MENU_TIPS = (N_("Scale to fit, actual size, full screen and screenshot"),
             N_("Send a key combination the host would keep, such as Ctrl+Alt+Del"))
#: What the notice over the picture offers (its button's label).
START, RESUME, CONNECT, EXTERNAL_VIEWER = N_("Start"), N_("Resume"), N_("Connect"), N_("Open in External Viewer")
SELECT_A_DOMAIN = N_("Select a domain to see its screen.")


def not_running(name: str) -> Text:
    """The status line and the menus' reason while the domain is not running."""
    return N_("{name} is not running: start it to see its screen here.", name=name)


class DisplayPane(QWidget):
    """A status line, the View and Send Key menus, Connect/Disconnect, and the view in a scroll area (for 1:1)."""

    fullScreenRequested = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("displayPane")
        self.model: DisplayModel | None = None
        self.status = OneLineLabel("", self)  # one line beside the buttons, however narrow the pane
        self.status.setObjectName("displayStatus")
        self.connect_button = QPushButton(self.tr("Connect"), self)
        self.connect_button.setObjectName("displayConnect")
        self.connect_button.setToolTip(self.tr("Show the screen of the virtual machine here"))
        self.connect_button.clicked.connect(self._toggle)
        self.fit = QCheckBox(self.tr("Scale to fit"), self)
        self.fit.setObjectName("displayScaleToFit")
        self.fit.setChecked(True)
        self.fit.toggled.connect(self._set_fit)
        self._build_actions()
        self.view = DisplayView()
        self.view.reserved = set(FULL_SCREEN_KEYS)
        self.scroller = QScrollArea(self)
        self.scroller.setWidgetResizable(True)
        self.scroller.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroller.setWidget(self.view)
        self.notice = DisplayNotice(self.scroller)
        self.scroller.installEventFilter(self.notice)
        self.notice.hide()
        self.pointer_hint = QLabel("", self)
        self.pointer_hint.setObjectName("displayPointerHint")
        self.pointer_hint.setWordWrap(True)  # in a narrow details pane it takes two lines, not the table's width
        self.pointer_hint.hide()
        self.view.grabChanged.connect(self._show_pointer_hint)
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        self.menu_buttons: list[QToolButton] = []  # the menus in the bar (a window with a menu bar hides them)
        for menu, tip in ((self.view_menu, MENU_TIPS[0]), (self.send_key_menu, MENU_TIPS[1])):
            button = QToolButton(self)
            button.setToolTip(translate(CONTEXT, tip))
            self.menu_buttons.append(button)
            button.setText(menu.title().replace("&", ""))
            button.setAccessibleName(button.text())
            button.setMenu(menu)
            button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            bar.addWidget(button)
        bar.addWidget(self.fit)
        bar.addWidget(self.connect_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.pointer_hint)
        layout.addWidget(self.scroller, 1)

    def _build_actions(self) -> None:
        """View ▸ Scale to Fit / Actual Size / Full Screen / Take Screenshot…, and Send Key ▸ the combinations."""
        self.view_menu = QMenu(self.tr("&View"), self)
        group = QActionGroup(self)
        self.fit_action = self._action(self.view_menu, self.tr("Scale to Fit"), "displayActionFit", checkable=True)
        self.actual_action = self._action(self.view_menu, self.tr("Actual Size (1:1)"), "displayActionActual",
                                          checkable=True)
        for action in (self.fit_action, self.actual_action):
            group.addAction(action)
        self.fit_action.setChecked(True)
        self.fit_action.toggled.connect(self.fit.setChecked)
        self.fit.toggled.connect(lambda fit: (self.fit_action if fit else self.actual_action).setChecked(True))
        self.full_screen_action = self._action(self.view_menu, self.tr("Full Screen"), "displayActionFullScreen",
                                               checkable=True)
        self.full_screen_action.setShortcuts([QKeySequence(k) for k in FULL_SCREEN_KEYS])
        self.full_screen_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.full_screen_action.toggled.connect(self.fullScreenRequested)
        self.addAction(self.full_screen_action)
        self.view_menu.addSeparator()
        self.screenshot_action = self._action(self.view_menu, self.tr("Take Screenshot…"), "displayActionScreenshot")
        self.send_key_menu = QMenu(self.tr("Send &Key"), self)
        self.send_key_actions: dict[str, QAction] = {}  # by the combination's English name
        for label, keys in KEY_COMBOS:
            action = self._action(self.send_key_menu, translate(CONTEXT, label),
                                  f"displaySendKey{label.replace('+', '')}")
            action.triggered.connect(lambda _c=False, k=keys: self.send_keys(k))
            self.send_key_actions[label] = action

    def _action(self, menu: QMenu, label: str, object_name: str, checkable: bool = False) -> QAction:
        action = menu.addAction(label)
        action.setObjectName(object_name)
        action.setCheckable(checkable)
        return action

    def _show_pointer_hint(self, *_args: object) -> None:
        """Said only where the guest has no tablet: how its pointer is taken and given back."""
        if self.view.grabbed:
            text = self.tr("The VM has the pointer: press Ctrl+Alt to release it.")
        elif self.view.relative and self.model is not None and self.model.open:
            text = self.tr("This VM has no tablet: click into the screen to move its pointer; Ctrl+Alt releases it.")
        else:
            text = ""
        self.pointer_hint.setText(text)
        self.pointer_hint.setVisible(bool(text))

    def send_keys(self, keys: tuple[tuple[int, int], ...]) -> None:
        """A Send Key combination: pressed and released in the guest, whatever the host keyboard holds."""
        if self.model is not None:
            self.view.release_all()
            self.model.send_combo(keys)

    def set_model(self, model: DisplayModel | None) -> None:
        """Show ``model``'s display (None: nothing); the previous model is closed."""
        old = self.model
        if old is not None:
            old.status.disconnect(self._status)
            old.ended.disconnect(self._ended)
            old.pointerModeChanged.disconnect(self._show_pointer_hint)
            self.view.set_model(None)
            old.close()
            old.deleteLater()
        self.model = model
        self.view.set_model(model)
        self._show_pointer_hint()
        if model is None:
            self.status.setText("")
            self.connect_button.setEnabled(False)
            return
        model.status.connect(self._status)
        model.ended.connect(self._ended)
        model.pointerModeChanged.connect(self._show_pointer_hint)
        self.connect_button.setEnabled(True)
        self.connect_button.setText(self.tr("Connect"))

    def connect_display(self) -> None:
        if self.model is not None:
            self.model.start()
            self.connect_button.setText(self.tr("Disconnect"))

    def disconnect_display(self) -> None:
        if self.model is not None:
            self.view.release_pointer()
            self.view.release_all()
            self.model.close()
            self.connect_button.setText(self.tr("Connect"))
            self.status.setText(self.tr("Not connected to the display of {name}").format(name=self.model.name))

    def _toggle(self) -> None:
        if self.model is not None and self.model.busy:
            self.disconnect_display()
        else:
            self.connect_display()

    def _status(self, text: str) -> None:
        self.status.setText(translate(CONTEXT, text))
        self._show_pointer_hint()

    def _ended(self, _sentence: str) -> None:
        self.view.release_pointer()  # nothing is there to move it in any more
        self.connect_button.setText(self.tr("Connect"))

    def _set_fit(self, fit: bool) -> None:
        self.view.set_scale_to_fit(fit)
        self.scroller.setWidgetResizable(fit)
        if not fit:
            self.view.resize(self.view.sizeHint())


class DisplayTab(DisplayPane):
    """The display of the row it is given: connects while it is in view and its domain runs, says the
    domain's state over the picture, and connects again by itself when the domain starts again.

    The details pane's "Display" tab holds one; so does each detached display window."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._row: DomainRow | None = None
        self._active = False
        self._shown = False
        self._declined = False  # the user pressed Disconnect: no connecting again by itself
        self._run_id: int | None = None  # the domain's id when the display last connected
        self._given_up_id: int | None = None  # its id when the display ended: no retry until it runs again
        self.connect_button.clicked.connect(self._clicked)
        self.connect_button.setEnabled(False)
        self.notice.button.clicked.connect(self._notice_pressed)
        self.screenshot_action.triggered.connect(self.ask_screenshot)
        self.status.setText(translate(CONTEXT, SELECT_A_DOMAIN))
        self._enable_menus(None)
        self._update_notice()
        self.screenshot_folder = os.path.expanduser("~")

    @property
    def key(self) -> Key | None:
        return self._row.key if self._row is not None else None

    def show_row(self, row: DomainRow | None) -> None:
        key = row.key if row is not None else None
        if key != self.key:
            self._declined, self._run_id, self._given_up_id = False, None, None
            self.set_model(None if row is None else self._session.display_model(row.key, row.rec.name, self))
            if self.model is not None:
                self.model.status.connect(self._update_notice)
                self.model.ended.connect(self._model_ended)
            if row is None:
                self.status.setText(translate(CONTEXT, SELECT_A_DOMAIN))
        self._row = row
        was_active, self._active = self._active, row is not None and row.rec.active
        if row is not None and not self._active:
            self.connect_button.setEnabled(False)
            if was_active and self.model is not None and self.model.busy:
                self.disconnect_display()
            self.status.setText(translate(CONTEXT, not_running(row.rec.name)))
        elif row is not None:
            self.connect_button.setEnabled(True)
        self._enable_menus(row)
        self._follow()
        self._update_notice()

    def _enable_menus(self, row: DomainRow | None) -> None:
        """View and Send Key act on a running domain's screen; otherwise their tooltip says why not."""
        if row is None:
            reason: str = SELECT_A_DOMAIN
        elif not row.rec.active:
            reason = not_running(row.rec.name)
        else:
            reason = ""
        for menu, button, tip in zip((self.view_menu, self.send_key_menu), self.menu_buttons, MENU_TIPS, strict=True):
            menu.menuAction().setEnabled(not reason)  # in a detached window's menu bar
            button.setEnabled(not reason)
            button.setToolTip(translate(CONTEXT, N_("Not possible: {reason}", reason=reason) if reason else tip))

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
        model, row = self.model, self._row
        if model is None or row is None or not (self._shown and self._active) or self._declined:
            return
        if not self.isVisible() or model.busy or row.rec.id == self._given_up_id:
            return
        self._run_id = row.rec.id
        self.connect_display()

    def _model_ended(self, _sentence: str) -> None:
        """The VM closed the stream or refused it: wait until it runs again (a new id) before trying again."""
        self._given_up_id = self._run_id if self._row is None else self._row.rec.id
        self._update_notice()

    def _clicked(self) -> None:
        """After the pane's own handler: Disconnect pressed means stay disconnected until Connect."""
        self._declined = self.model is not None and not self.model.busy
        if self.model is not None and self.model.busy and self._row is not None:
            self._run_id, self._given_up_id = self._row.rec.id, None
        self._update_notice()

    # -- what is said over the picture ------------------------------------------------------
    def notice_state(self) -> tuple[str, str]:
        """(sentence, button) for the domain and its display now, in English and marked for translation; an
        empty sentence: the picture says it."""
        row, model = self._row, self.model
        if row is None or model is None:
            return SELECT_A_DOMAIN, ""
        name = row.rec.name
        if not row.rec.active:
            return N_("{name} is not running.", name=name), START
        if model.spice_only:
            return N_("{sentence}.", sentence=SPICE_ONLY), EXTERNAL_VIEWER
        if rules.paused(row.rec) is None:
            return N_("{name} is paused.", name=name), RESUME
        if model.connecting:
            return N_("Connecting to the display of {name}…", name=name), ""
        if model.open:
            return "", ""
        if model.needs_password:
            return model.end_reason, CONNECT
        if model.closed_by_vm:
            return N_("The display was closed by the VM {name}.", name=name), CONNECT
        if model.end_reason and model.end_reason != "closed":
            return model.end_reason, EXTERNAL_VIEWER
        return N_("Not connected to the display of {name}.", name=name), CONNECT

    def _update_notice(self, *_args: object) -> None:
        text, button = self.notice_state()
        self.status.setVisible(not text)  # the notice over the picture says it; once is enough
        model = self.model
        self.notice.say(text, button, ask_password=bool(text) and model is not None and model.needs_password
                        and not model.busy and self._row is not None and self._row.rec.active)

    def _notice_pressed(self) -> None:
        row, label = self._row, self.notice.offer
        if row is None:
            return
        if label == START:
            self._session.run(Start(), [row.key])
        elif label == RESUME:
            self._session.run(Resume(), [row.key])
        elif label == CONNECT:
            self._declined = False
            self._run_id, self._given_up_id = row.rec.id, None
            if self.notice.password.isVisible() and self.model is not None:
                password = self.notice.password.text()
                self.notice.password.clear()
                self.model.start(password)
                self.connect_button.setText(self.tr("Disconnect"))
            else:
                self.connect_display()
        elif label == EXTERNAL_VIEWER:
            self._session.spawn(open_graphical_console(self._session, row.key),
                                N_("Opening the graphical console of {name}", name=row.rec.name))
        self._update_notice()

    # -- screenshot ---------------------------------------------------------------------------
    def ask_screenshot(self) -> QFileDialog:
        """Ask where the PNG goes (a modeless dialog), then write it."""
        name = self._row.rec.name if self._row is not None else "screen"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        dialog = QFileDialog(self, self.tr("Take Screenshot"),
                             os.path.join(self.screenshot_folder, f"{name}-{stamp}.png"), self.tr("PNG images (*.png)"))
        dialog.setObjectName("displayScreenshotDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("png")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
        dialog.fileSelected.connect(self.save_screenshot)
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()
        return dialog

    def save_screenshot(self, path: str) -> None:
        """The framebuffer at 1:1 as PNG to ``path``, written atomically off the UI thread."""
        doing = N_("Saving a screenshot of {name}", name=self._row.rec.name) if self._row is not None \
            else N_("Saving a screenshot")
        name = self._row.rec.name if self._row is not None else ""
        try:
            data = screenshot_png(self.view.framebuffer_image())
        except DriverError as exc:
            self._session.messages.error(exc, doing)
            return
        self.screenshot_folder = os.path.dirname(path) or self.screenshot_folder
        self._session.spawn(self._write(path, data, name), doing)

    async def _write(self, path: str, data: bytes, name: str) -> None:
        await write_screenshot(path, data)
        self.status.setText(self.tr("Saved a screenshot of {name} to {path}").format(name=name, path=path) if name
                            else self.tr("Saved a screenshot to {path}").format(path=path))
