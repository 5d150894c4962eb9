"""The main window: toolbar, filter bar, domain table, details, job dock, status bar.

It arranges views over the session's models and wires signals; the rules
(what is enabled, what is shown) live in :mod:`vmgui.models`.
"""
from __future__ import annotations

import functools
import itertools
import logging
import os

from PySide6.QtCore import QEvent, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QColor, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QSplitter,
    QSystemTrayIcon,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from drivers import JobInfo, JobState

from .. import icons
from ..actions import LAYOUT, MENU_ONLY, ActionId, ActionState, context_menu
from ..flows.backupschedule import BackupScheduler
from ..i18n import N_, NP_, translate
from ..models import actions as rules
from ..models import quitting
from ..models import settings as store
from ..models.backupschedule import FILE as SCHEDULES_FILE
from ..models.backupschedule import ScheduleStore
from ..models.messages import Message
from ..models.session import Session
from ..models.statewords import operation_words
from ..notifications import Notice, NotificationsUnavailable, announce
from ..single_instance import raise_window
from . import theme
from .actions import DomainActions
from .commands import Commands
from .details import DetailsPane
from .dialogs.about import show_about
from .dialogs.connect import ConnectDialog
from .dialogs.quitnotice import QuitNotice
from .domaintable import DomainTable
from .filterbar import FilterBar
from .jobpanel import JobPanel
from .messagearea import MessageArea
from .names import name_action, name_widget
from .statusbar import ConnectionStatus

#: A job that ran at least this long is "long": its end is announced when the window is not focused.
LONG_JOB_S = 5.0
#: The translation context of the window's own text (``self.tr`` uses the class name too).
CONTEXT = "MainWindow"
log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """``mainWindow``. Closing it ends the application's event loop (``closed``)."""

    closed = Signal()

    def __init__(self, session: Session, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "mainWindow")
        self.session = session
        if session.parent() is None:
            session.setParent(self)  # deleted with the window, on the UI thread (its timers too)
        self.settings = settings
        self._style_template: str | None = None
        self._style_colours: theme.Colours | None = None
        self._quit_confirmed = False
        self.quit_notice: QuitNotice | None = None
        self._desktop_palette = QApplication.palette()  # before a colour scheme of vmgui's replaces it
        session.pending.timeout_s = store.shutdown_timeout(settings)
        self.setWindowTitle(self.tr("vmgui — virtual machines"))
        self.setWindowIcon(icons.icon("vmgui"))
        self.tray: QSystemTrayIcon | None = None
        self.notices: list[str] = []  # what was announced (tray or message area), newest last

        self.filter_bar = FilterBar(session.filters, session.connections, self)  # first: Tab goes top to bottom
        self.table = DomainTable(session.domains, self)
        self.domain_actions = DomainActions(self, self.trigger)
        self.commands = Commands(self, session, self.table.selected_keys, self.action_states)
        schedules = ScheduleStore.opened(os.path.join(os.path.dirname(settings.fileName()), SCHEDULES_FILE))
        if schedules.unreadable:
            session.messages.add("error", self.tr("Backup schedules not loaded"), schedules.unreadable + ".")
        self.scheduler = BackupScheduler(session, schedules, self.announce_now, parent=self)
        self.commands.scheduler = self.scheduler
        self.table.clearFiltersRequested.connect(self.filter_bar.clear_all)
        self.table.newVmRequested.connect(lambda: self.trigger(ActionId.NEW_VM))
        session.connections.connectionChanged.connect(self._offer_new_vm_when_empty)
        self.details = DetailsPane(session, self)
        self.details.display.fullScreenRequested.connect(self._display_full_screen)
        self.message_area = MessageArea(session.messages, self)
        self.message_area.actionRequested.connect(self._message_action)
        self.job_panel = JobPanel(session.jobs, session.connections, session.cancel_job, self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.job_panel)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setObjectName("mainSplitter")
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([980, 386])  # the details tabs and Edit… fit side by side
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.message_area)
        layout.addWidget(self.filter_bar)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)
        self.table.setFocus()  # the window opens (and comes back from a dialog) on the domains, not the search

        self.connect_action = QAction(icons.icon("action-connect"), self.tr("&Connect…"), self)
        name_action(self.connect_action, "actionConnect")
        self.connect_action.setShortcut(QKeySequence("Ctrl+O"))
        self.connect_action.setToolTip(self.tr("Connect to another hypervisor (Ctrl+O)"))
        self.connect_action.triggered.connect(self.show_connect_dialog)
        self._build_toolbar_and_menus()

        self.count_label = QLabel(self)
        self.count_label.setObjectName("domainCount")
        self.statusBar().addPermanentWidget(self.count_label)
        self.conn_status = ConnectionStatus(self.statusBar(), session.connections, session.give_up,
                                            self.close_connection, self.connect_uri)
        session.status.connect(lambda text: self.statusBar().showMessage(translate(CONTEXT, text), 8000))

        self._refresh_timer = QTimer(self)  # coalesces bursts of model changes into one update
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(30)
        self._refresh_timer.timeout.connect(self.refresh_selection_state)
        # a selection the user makes updates the actions at once (a click then a shortcut must just work);
        # bursts of data changes, and the table selecting again as rows merge in, are coalesced by the timer
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        for signal in (session.domains.dataChanged, session.domains.layoutChanged, session.jobs.dataChanged,
                       session.jobs.rowsInserted, session.connections.connectionChanged):
            signal.connect(lambda *_: self._refresh_timer.start())
        session.domains.layoutChanged.connect(self._update_count)
        session.jobs.jobFinished.connect(self._job_finished)
        self._set_tab_order()
        self.resize(1366, 768)
        self._restore()
        if store.colour_scheme(self.settings) != theme.Scheme.SYSTEM:
            self.set_colour_scheme(theme.Scheme(store.colour_scheme(self.settings)))
        self.refresh_selection_state()
        self.scheduler.start()

    # -- layout --------------------------------------------------------------------
    def _build_toolbar_and_menus(self) -> None:
        toolbar = self.toolbar = QToolBar(self.tr("Actions"), self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setIconSize(QSize(22, 22))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        toolbar.addAction(self.connect_action)
        toolbar.addSeparator()
        menu_bar = self.menuBar()
        file_menu = menu_bar.addMenu(self.tr("&File"))
        file_menu.addAction(self.connect_action)
        quit_action = file_menu.addAction(self.tr("&Quit"), self.close)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        domain_menu = menu_bar.addMenu(self.tr("&Domain"))
        for name in LAYOUT:
            if name is None:
                toolbar.addSeparator()
                domain_menu.addSeparator()
                continue
            action = self.domain_actions[name]
            if name not in MENU_ONLY:
                toolbar.addAction(action)
                toolbar.widgetForAction(action).setAccessibleName(action.text())
            domain_menu.addAction(action)
        self.table.set_menu_actions([None if name is None else self.domain_actions[name] for name in context_menu()])
        view_menu = menu_bar.addMenu(self.tr("&View"))
        jobs = self.job_panel.toggleViewAction()
        jobs.setShortcut(QKeySequence("Ctrl+J"))
        name_action(jobs, "actionShowJobs")
        view_menu.addAction(jobs)
        find = view_menu.addAction(self.tr("&Find"), lambda: self.filter_bar.search.setFocus())
        find.setShortcut(QKeySequence("Ctrl+F"))
        self._build_colour_menu(view_menu.addMenu(self.tr("C&olours")))
        help_menu = menu_bar.addMenu(self.tr("&Help"))
        help_menu.addAction(self.tr("&About vmgui"), lambda: show_about(self))
        self.addToolBar(toolbar)

    def _set_tab_order(self) -> None:
        """Tab follows the window from the top: the filter bar (search first), the table, then the details
        (their tabs and Edit…, then the page); the job panel and the status bar keep their places after."""
        bar = self.filter_bar
        chain = [bar.search, bar.conn_combo, bar.clear_button, *bar.buttons.values(), self.table]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)
        QWidget.setTabOrder(self.details.edit_button, self.details.overview)

    def apply_style(self, qss: str) -> None:
        """Style every part but the domain table, which gets a palette instead; ``qss`` names
        its colours as ``@name`` tokens (vmgui.views.theme), filled in for a light or dark
        desktop now and again whenever the desktop's palette changes.

        A style sheet on an ancestor routes all of the table's painting through
        QStyleSheetStyle: 3-5 ms more per repaint of a 10,000-row table. The job
        panel stays unstyled too: its bars change often, and re-polishing styled
        widgets cost tens of milliseconds per change.
        """
        self._style_template = qss
        chosen = self._style_colours = theme.colours(QApplication.palette())
        filled = theme.fill_style_sheet(qss, chosen)
        for widget in (self.toolbar, self.filter_bar, self.message_area, self.details, self.statusBar()):
            widget.setStyleSheet(filled)
        palette = QApplication.palette(self.table)
        palette.setColor(QPalette.ColorRole.AlternateBase, QColor(chosen.row_alternate))
        palette.setColor(QPalette.ColorRole.Highlight, QColor(chosen.row_selected))
        palette.setColor(QPalette.ColorRole.HighlightedText, QColor(chosen.row_selected_text))
        self.table.setPalette(palette)

    def _build_colour_menu(self, menu: QMenu) -> None:
        group = QActionGroup(self)
        current = store.colour_scheme(self.settings)
        for scheme, label in ((theme.Scheme.SYSTEM, self.tr("Follow the &Desktop")),
                              (theme.Scheme.LIGHT, self.tr("&Light")), (theme.Scheme.DARK, self.tr("D&ark"))):
            action = menu.addAction(label)
            name_action(action, f"scheme{scheme.value.capitalize()}")
            action.setCheckable(True)
            action.setChecked(scheme.value == current)
            action.triggered.connect(functools.partial(self.set_colour_scheme, scheme))
            group.addAction(action)

    def set_colour_scheme(self, scheme: theme.Scheme) -> None:
        """Light or dark regardless of the desktop, or the desktop's own; remembered for the next start."""
        store.set_colour_scheme(self.settings, scheme.value)
        style = QApplication.style()
        light = style.standardPalette() if style is not None else QPalette()
        QApplication.setPalette(theme.palette_for(scheme, self._desktop_palette, light))

    def changeEvent(self, event: QEvent) -> None:
        """A desktop switching between light and dark re-colours what vmgui styles itself."""
        if event.type() in (QEvent.Type.ApplicationPaletteChange, QEvent.Type.PaletteChange) \
                and self._style_template is not None \
                and theme.colours(QApplication.palette()) is not self._style_colours:
            self.apply_style(self._style_template)
        super().changeEvent(event)

    # -- actions ---------------------------------------------------------------------
    def selection(self) -> list[rules.Selected]:
        return rules.selected(self.session, self.table.selected_keys())

    def action_states(self) -> dict[ActionId, ActionState]:
        return rules.compute(self.selection(), self.session.connections.features())

    def trigger(self, name: ActionId) -> None:
        self.commands.trigger(name)

    def _display_full_screen(self, on: bool) -> None:
        """Full Screen in the details pane's tab: the display goes to its own window, full screen."""
        tab = self.details.display
        if not on or tab.key is None:
            return
        tab.full_screen_action.setChecked(False)
        self.commands.open_display(tab.key, full_screen=True)

    def _selection_changed(self) -> None:
        """Everything at once for the user's choice. When the table selects again as rows merge in or
        filters change, the actions follow at once (a shortcut works on the stand-in) and the details
        pane with the layout change's coalesced refresh, after the rows are laid out and painted."""
        if self.table.reselecting:
            self.domain_actions.apply(self.action_states())
            self._refresh_timer.start()
        else:
            self.refresh_selection_state()

    def refresh_selection_state(self) -> None:
        """Action enablement and the details pane follow the selection and the data."""
        self.domain_actions.apply(self.action_states())
        keys = self.table.selected_keys()
        row = self.session.domains.get(keys[0]) if len(keys) == 1 else None
        job = self.session.jobs.running_job(row.uri, row.rec.uuid, row.rec.name) if row else None
        self.details.show_row(row, job)
        self._update_count()

    def _offer_new_vm_when_empty(self, _uri: str = "") -> None:
        """An empty table says there are no VMs yet only once a host that can define them has answered."""
        self.table.set_offers_new_vm(bool(self.session.connections.definers()))  # connected ones only

    def _update_count(self) -> None:
        shown, total = self.session.domains.rowCount(), self.session.domains.total()
        if shown == total:
            self.count_label.setText(translate(CONTEXT, NP_("%n domain", "%n domains", total)))
            return
        text = NP_("{shown} of %n domain shown", "{shown} of %n domains shown", total, shown=f"{shown:,}")
        described = self.session.filters.describe()
        if described:
            text = N_("{count}  ({filters})", count=text, filters=described)
        self.count_label.setText(translate(CONTEXT, text))

    # -- connections -------------------------------------------------------------------
    def show_connect_dialog(self) -> None:
        dialog = ConnectDialog(store.uri_history(self.settings), self)
        self.commands.last_dialog = dialog
        dialog.accepted.connect(lambda: self.connect_uri(dialog.uri, remember=True))
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()

    def connect_uri(self, uri: str, remember: bool = False) -> None:
        if remember:
            store.remember_uri(self.settings, uri)
            opened = store.open_uris(self.settings)
            if uri not in opened:
                store.set_open_uris(self.settings, opened + [uri])
        self.session.spawn(self.session.open(uri), translate(CONTEXT, N_("Connecting to {uri}", uri=uri)))

    def _message_action(self, name: str, msg: Message) -> None:
        """A message's button: a connection's Retry or Forget, or a domain action (it asks first where it must)."""
        if name == "retry_connection":
            self.session.messages.dismiss(msg.id)
            self.connect_uri(msg.target)
        elif name == "forget_connection":
            self.session.messages.dismiss(msg.id)
            self.close_connection(msg.target)  # and no longer opened at start
        else:
            self.commands.offer(ActionId(name), [msg.target])

    def close_connection(self, uri: str) -> None:
        self.session.close(uri)
        store.set_open_uris(self.settings, [u for u in store.open_uris(self.settings) if u != uri])

    # -- notifications -----------------------------------------------------------------
    def _job_finished(self, uri: str, info: JobInfo) -> None:
        if info.elapsed < LONG_JOB_S or self.isActiveWindow():
            return
        what = {"operation": translate(CONTEXT, operation_words(info.operation)), "domain": info.domain}
        if info.state is JobState.FAILED:
            text = self.tr("The {operation} of {domain} failed: {why}").format(**what, why=info.error) \
                if info.error else self.tr("The {operation} of {domain} failed").format(**what)
        else:
            text = {JobState.COMPLETED: self.tr("The {operation} of {domain} finished"),
                    JobState.CANCELLED: self.tr("The {operation} of {domain} was cancelled")}.get(
                info.state, self.tr("The {operation} of {domain} ended")).format(**what)
        self.notices.append(text)
        summary = {JobState.COMPLETED: self.tr("Job finished"), JobState.FAILED: self.tr("Job failed")}.get(
            info.state, self.tr("Job ended"))
        notice = Notice(summary, self.tr("{sentence}.").format(sentence=text),
                        urgency=2 if info.state is JobState.FAILED else 1)
        self.session.spawn(self._announce(notice), self.tr("announcing the end of a job"))
        QApplication.alert(self)

    def announce_now(self, notice: Notice) -> None:
        """Announce ``notice`` whether or not the window is in front (a scheduled backup's end)."""
        notice = Notice(translate(CONTEXT, notice.summary), translate(CONTEXT, notice.body), notice.urgency)
        self.notices.append(notice.body)
        self.session.spawn(self._announce(notice), self.tr("announcing the end of a scheduled backup"))

    async def _announce(self, notice: Notice) -> None:
        """The desktop's notification server first; the tray icon, then the message area, where none answers."""
        try:
            await announce(notice)
            return
        except NotificationsUnavailable as exc:
            log.info("desktop notification not sent (%s): falling back", exc)
        if QSystemTrayIcon.isSystemTrayAvailable():
            self._tray().showMessage(notice.summary, notice.body, QSystemTrayIcon.MessageIcon.Information, 10000)
        else:
            self.session.messages.add("info", self.tr("{summary} while you were away").format(summary=notice.summary),
                                      notice.body)

    def _tray(self) -> QSystemTrayIcon:
        """The tray icon, made when first needed, with a menu to bring the window back or quit."""
        if self.tray is None:
            self.tray = QSystemTrayIcon(icons.icon("vmgui"), self)
            self.tray.setToolTip(self.tr("vmgui — virtual machines"))
            menu = QMenu(self)
            name_action(menu.addAction(self.tr("Show vmgui"), lambda: raise_window(self)), "trayShow")
            name_action(menu.addAction(self.tr("Quit"), self.close), "trayQuit")
            self.tray.setContextMenu(menu)
            self.tray.activated.connect(lambda _reason: raise_window(self))
            self.tray.show()
        return self.tray

    # -- persistence -------------------------------------------------------------------
    def _restore(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        header = self.settings.value("window/header")
        if header is not None:
            self.table.horizontalHeader().restoreState(header)
        self.session.filters.restore(self.settings)

    def _ask_before_quitting(self, running: list[str]) -> None:
        """Once per quit: the VMs in ``running`` go on without vmgui; Quit closes, Cancel stays."""
        if self.quit_notice is not None:
            self.quit_notice.raise_()
            return
        notice = self.quit_notice = QuitNotice(quitting.notice_text(running), self)

        def finished(result: int) -> None:
            self.quit_notice = None
            notice.deleteLater()
            if result != QDialog.DialogCode.Accepted:
                return
            if notice.again.isChecked():
                quitting.never_again(self.settings)
            self._quit_confirmed = True
            self.close()
        notice.finished.connect(finished)
        notice.open()

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/header", self.table.horizontalHeader().saveState())
        self.session.filters.save(self.settings)
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._quit_confirmed and quitting.wanted(self.settings):
            running = quitting.guests_left_running(self.session.domains, self.session.connections.features())
            if running:
                event.ignore()
                self._ask_before_quitting(running)
                return
        self.save_settings()
        super().closeEvent(event)
        self.closed.emit()


