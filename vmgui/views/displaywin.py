"""The display of one domain in a window of its own, as virt-manager's console window.

It follows the domain's row in the session (started, paused, stopped, started
again) and holds the same :class:`~vmgui.views.display.DisplayTab` as the
details pane, so the menus, the notices and the reconnecting are the same.
Full screen hides the menus; F11, Ctrl+Alt+F or Esc leave it, which a hint
says for a few seconds.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeyEvent, QKeySequence, QResizeEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QWidget

from ..actions import SPECS, ActionId
from ..i18n import N_, translate
from ..models import actions as rules
from ..models import vnc
from ..models.domains import Key
from ..models.session import Session
from .actions import DomainActions
from .display import FULL_SCREEN_HINT, DisplayTab

HINT_MS = 4000
#: the Domain menu's actions on the domain itself, as in virt-manager's console window
LIFECYCLE = (ActionId.START, ActionId.PAUSE, ActionId.RESUME, ActionId.SHUTDOWN, ActionId.REBOOT, ActionId.FORCE_OFF)
#: The translation context of the marked texts the window shows.
CONTEXT = "DisplayWindow"


class DisplayWindow(QMainWindow):
    """``displayWindow``: one per domain; its View, Send Key and Domain menus act on that domain's screen."""

    def __init__(self, session: Session, key: Key, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("displayWindow")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.session, self.key = session, key
        self.pane = DisplayTab(session, self)
        self.setCentralWidget(self.pane)
        menus = self.menuBar()
        domain_menu = menus.addMenu(self.tr("&Domain"))
        # no shortcuts: while the screen has the keyboard, its keys are the guest's
        #: runs a lifecycle action of the Domain menu on this domain, confirmed as the main window's toolbar
        #: does (set by whoever opens the window)
        self.act: Callable[[ActionId], None] = lambda _action: None
        self.lifecycle = DomainActions(self, lambda action: self.act(action), LIFECYCLE, shortcuts=False)
        for action_id in LIFECYCLE:
            action = self.lifecycle[action_id]
            action.setObjectName("displayA" + action.objectName()[1:])  # actionStart: displayActionStart
            domain_menu.addAction(action)
        domain_menu.addSeparator()
        self.external_viewer = domain_menu.addAction(translate(CONTEXT, SPECS[ActionId.EXTERNAL_VIEWER].label),
                                                     self.open_external)
        self.external_viewer.setObjectName("displayActionExternalViewer")
        domain_menu.addAction(self.pane.screenshot_action)
        domain_menu.addSeparator()
        close = domain_menu.addAction(self.tr("Close"), self.close)
        close.setShortcut(QKeySequence("Ctrl+W"))
        menus.addMenu(self.pane.view_menu)
        menus.addMenu(self.pane.send_key_menu)
        for button in self.pane.menu_buttons:  # the menu bar has them
            button.hide()
        self.hint = QLabel(translate(CONTEXT, FULL_SCREEN_HINT), self)
        self.hint.setObjectName("displayFullScreenHint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setStyleSheet("background: rgba(0, 0, 0, 180); color: white; padding: 6px; border-radius: 4px;")
        self.hint.hide()
        self._hint_timer = QTimer(self)
        self._hint_timer.setSingleShot(True)
        self._hint_timer.setInterval(HINT_MS)
        self._hint_timer.timeout.connect(self.hint.hide)
        self.pane.fullScreenRequested.connect(self.set_full_screen)
        self.pane.view.installEventFilter(self)
        self._follow_timer = QTimer(self)  # bursts of table changes: one look at the row
        self._follow_timer.setSingleShot(True)
        self._follow_timer.setInterval(30)
        self._follow_timer.timeout.connect(self.follow)
        # the lifecycle actions also follow jobs (a running one blocks them) and the connection's state
        for signal in (session.domains.dataChanged, session.domains.layoutChanged, session.jobs.dataChanged,
                       session.jobs.rowsInserted, session.connections.connectionChanged):
            signal.connect(self._follow_timer.start)
        self.resize(800, 520)
        self.follow()

    def follow(self) -> None:
        """Take the domain's row as the session has it now (its state, its name, its run)."""
        row = self.session.domains.get(self.key)
        name = row.rec.name if row is not None else self.key[1]
        self.setWindowTitle(self.tr("{name} — Display").format(name=name))
        if row is None:
            gone = N_("{name} is no longer defined on {uri}.", name=name, uri=self.key[0])
            self.pane.status.setText(translate(CONTEXT, gone))
            self.pane.notice.say(gone)
            self.pane.set_shown(False)
            for action in self.lifecycle.actions.values():
                action.setEnabled(False)
            return
        self.pane.show_row(row)
        self.pane.set_shown(True)
        self._update_external_viewer()
        states = rules.compute(rules.selected(self.session, [self.key]), self.session.connections.features())
        self.lifecycle.apply({action_id: states[action_id] for action_id in LIFECYCLE})

    def _update_external_viewer(self) -> None:
        """Enabled where an installed viewer can reach the domain's display; else disabled, saying why."""
        name = self.session.domains.name_of(self.key)
        why = vnc.why_no_viewer(self.key[0], vnc.installed_viewers(), self.key)
        self.external_viewer.setEnabled(why is None)
        tip = translate(CONTEXT, N_("Open the graphical console in {viewer}",
                                    viewer=vnc.viewer_for(self.key[0], vnc.installed_viewers()))
                        if why is None else N_("Not possible: {name} {why}", name=name, why=why))
        self.external_viewer.setToolTip(tip)
        self.external_viewer.setStatusTip(tip)

    def open_external(self) -> None:
        name = self.session.domains.name_of(self.key)
        self.session.spawn(vnc.open_graphical_console(self.session, self.key),
                           N_("Opening the graphical console of {name}", name=name))

    def present(self) -> None:
        """Show it, or bring it to the front if it is open already, with the keyboard on the screen: typing
        goes to the guest, not to the Disconnect button (whose Space would end the session)."""
        self.pane.view.setFocus(Qt.FocusReason.ActiveWindowFocusReason)
        self.show()
        self.raise_()
        self.activateWindow()

    # -- full screen ------------------------------------------------------------------------
    @property
    def full_screen(self) -> bool:
        return self.isFullScreen()

    def set_full_screen(self, on: bool) -> None:
        action = self.pane.full_screen_action
        if action.isChecked() != on:
            action.setChecked(on)  # comes back here through fullScreenRequested
            return
        self.menuBar().setVisible(not on)
        if on:
            self.showFullScreen()
            self.hint.adjustSize()
            self.hint.move((self.width() - self.hint.width()) // 2, 12)
            self.hint.show()
            self.hint.raise_()
            self._hint_timer.start()
            self.pane.view.setFocus(Qt.FocusReason.OtherFocusReason)
        else:
            self.hint.hide()
            self.showNormal()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Esc leaves full screen even while the screen has the keyboard (elsewhere it is the guest's)."""
        if (watched is self.pane.view and event.type() == QEvent.Type.KeyPress and self.isFullScreen()
                and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape
                and event.modifiers() == Qt.KeyboardModifier.NoModifier):
            self.set_full_screen(False)
            return True
        return False

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.hint.isVisible():
            self.hint.move((self.width() - self.hint.width()) // 2, 12)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.pane.set_model(None)
        super().closeEvent(event)
