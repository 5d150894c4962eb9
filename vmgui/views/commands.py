"""What happens when an action is triggered: ask what is needed, confirm, then run.

Dialogs are opened with ``open()`` (never a nested ``exec()``) and the work
goes to :class:`vmgui.models.session.Session`, which runs it through the bridge
on every selected domain the action applies to.
"""
from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping

from PySide6.QtWidgets import QWidget

from drivers import DomainState

from ..actions import SPECS, ActionId, ActionSpec, ActionState, Asks, Confirm
from ..actions.requests import DomainRequest, Snapshot
from ..flows.backupcatalog import CatalogController
from ..flows.backupschedule import BackupScheduler
from ..flows.clone import CloneController
from ..i18n import N_, NP_, translate
from ..models.domains import Key
from ..models.session import Session
from ..models.snapshots import SnapshotTree
from ..models.vnc import open_graphical_console
from . import confirm
from .actions import CONTEXT
from .backupflow import BackupFlow
from .console import ConsoleDialog
from .deleteflow import DeleteFlow
from .dialogs.backups import BackupsDialog
from .dialogs.clone import CloneDialog
from .dialogs.simple import SnapshotDialog
from .dialogs.snapshots import SnapshotTreeDialog
from .displaywin import DisplayWindow
from .migrateflow import MigrateFlow
from .newvmflow import NewVMFlow


class Commands:
    """Turns an action plus the current selection into session calls, as its spec says."""

    def __init__(self, parent: QWidget, session: Session, selection: Callable[[], list[Key]],
                 states: Callable[[], Mapping[ActionId, ActionState]]) -> None:
        self._parent = parent
        self._session = session
        self._selection = selection
        self._states = states
        self.last_dialog: QWidget | None = None  # the open dialog, for tests and screenshots
        self.backup = BackupFlow(session, self._show, parent)
        self.backup.folder = os.path.expanduser("~")
        self.delete = DeleteFlow(session, self._show, parent)
        self.migrate = MigrateFlow(session, self._show, parent)
        self.new_vm = NewVMFlow(session, self._show, parent)
        #: runs the backup schedules; the Backups dialog edits them (set by the window)
        self.scheduler: BackupScheduler | None = None
        self.clone = CloneController(session)
        self.display_windows: dict[Key, DisplayWindow] = {}  # open ones: pressing Display again raises it
        #: what opens for the actions that ask in a dialog or open a window (Asks.DIALOG, Asks.WINDOW)
        self.openers: dict[ActionId, Callable[[list[Key]], object]] = {
            ActionId.NEW_VM: lambda _targets: self.new_vm.ask(),
            ActionId.SNAPSHOT: self._ask_snapshot,
            ActionId.BACKUP: self.backup.ask,
            ActionId.MIGRATE: self.migrate.ask,
            ActionId.CLONE: lambda targets: self.ask_clone(targets[0]),
            ActionId.DELETE: self.delete.ask,
            ActionId.CONSOLE: lambda targets: self.open_console(targets[0]),
            ActionId.SNAPSHOTS: lambda targets: self.open_snapshots(targets[0]),
            ActionId.GRAPHICAL_CONSOLE: lambda targets: self.open_display(targets[0]),
            ActionId.EXTERNAL_VIEWER: self._open_graphical_console,
            ActionId.BACKUPS: lambda targets: self.open_backups(targets[0]),
        }

    def trigger(self, name: ActionId) -> None:
        state = self._states().get(name)
        if state is None or not state.enabled:
            return  # a shortcut pressed while the action is disabled
        keys = self._selection()
        self._start(SPECS[name], [keys[i] for i in state.targets])

    def offer(self, name: ActionId, targets: list[Key], over: QWidget | None = None) -> None:
        """An action a message or another window offers (Force Off after an unanswered shutdown, the
        display window's Domain menu): confirmed like the toolbar's, the question ``over`` that window."""
        targets = [k for k in targets if self._session.domains.get(k) is not None]
        if targets:
            self._start(SPECS[name], targets, over)

    def _offer_from(self, window: DisplayWindow, name: ActionId) -> None:
        self.offer(name, [window.key], over=window)

    def _start(self, spec: ActionSpec, targets: list[Key], over: QWidget | None = None) -> None:
        if spec.asks in (Asks.DIALOG, Asks.WINDOW):
            self.openers[spec.id](targets)
        elif spec.request is None:
            return
        elif spec.confirm is not None:
            self._confirm(spec.confirm, spec.confirm_name, spec.request(), targets, over)
        else:
            self.run(spec.request(), targets)

    def run(self, request: DomainRequest, targets: list[Key]) -> None:
        self._session.run(request, targets)

    def _what(self, targets: list[Key]) -> str:
        names = self._names(targets)
        if len(names) == 1:
            return translate(CONTEXT, N_("“{name}”", name=names[0]))
        listed = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
        return translate(CONTEXT, NP_("%n domain ({names})", "%n domains ({names})", len(names), names=listed))

    def _names(self, targets: list[Key]) -> list[str]:
        rows = [self._session.domains.get(k) for k in targets]
        return [row.rec.name for row in rows if row is not None]

    def _show(self, dialog: QWidget, accepted: Callable[[], None]) -> None:
        self.last_dialog = dialog
        dialog.accepted.connect(accepted)  # type: ignore[attr-defined]
        dialog.finished.connect(lambda _r: dialog.deleteLater())  # type: ignore[attr-defined]
        dialog.open()  # type: ignore[attr-defined]

    def _confirm(self, question: Confirm, object_name: str, request: DomainRequest, targets: list[Key],
                 over: QWidget | None = None) -> None:
        title = translate(CONTEXT, question.title)
        text = translate(CONTEXT, N_(question.question, what=self._what(targets)))
        self.last_dialog = confirm.ask(over or self._parent, title, text, object_name, title,
                                       lambda: self.run(request, targets))

    def _ask_snapshot(self, targets: list[Key]) -> None:
        dialog = SnapshotDialog(len(targets), time.strftime("snap-%Y%m%d-%H%M%S"), self._parent)
        self._show(dialog, lambda: self.run(Snapshot(dialog.name.text()), targets))

    def ask_clone(self, key: Key) -> CloneDialog:
        flow = self.clone
        dialog = CloneDialog(flow.name_of(key), flow.suggested_name(key), lambda name: flow.problem(key, name),
                             flow.running(key), self._parent)
        self._show(dialog, lambda: flow.start(key, dialog.name.text(), dialog.linked.isChecked()))
        return dialog

    def _open_graphical_console(self, targets: list[Key]) -> None:
        self._session.spawn(open_graphical_console(self._session, targets[0]),
                            translate(CONTEXT, N_("Opening the graphical console of {what}", what=self._what(targets))))

    def open_display(self, key: Key, full_screen: bool = False) -> DisplayWindow:
        """The display window of ``key``: one per domain, brought to the front when it is open already."""
        window = self.display_windows.get(key)
        if window is None:
            window = DisplayWindow(self._session, key, self._parent)
            window.act = functools.partial(self._offer_from, window)
            self.display_windows[key] = window
            window.destroyed.connect(lambda _o=None, k=key: self.display_windows.pop(k, None))
        window.present()
        if full_screen:
            window.set_full_screen(True)
        return window

    def open_console(self, key: Key) -> ConsoleDialog:
        """A modeless console window for ``key`` (one per press: each reads on its own)."""
        name = (self._names([key]) or [key[1]])[0]
        model = self._session.console_model(key, name)
        row = self._session.domains.get(key)
        model.set_paused(row is not None and row.rec.state == DomainState.PAUSED)
        dialog = ConsoleDialog(model, self._parent)
        self.last_dialog = dialog
        dialog.show()
        model.start()
        return dialog

    def open_backups(self, key: Key, folders: list[str] | None = None) -> BackupsDialog:
        """The catalogued backups of ``key`` (in the folder backups were last written to), modeless."""
        flow = CatalogController(self._session, key, folders if folders is not None else [self.backup.folder])
        dialog = BackupsDialog(flow, self._session.domains.names(key[0]), self._parent, self.scheduler)
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        self.last_dialog = dialog
        dialog.show()
        return dialog

    def open_snapshots(self, key: Key) -> SnapshotTreeDialog:
        """The snapshot tree of ``key``, modeless (its jobs show in the job panel meanwhile)."""
        name = (self._names([key]) or [key[1]])[0]
        dialog = SnapshotTreeDialog(SnapshotTree(self._session, key, name), self._parent)
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        self.last_dialog = dialog
        dialog.show()
        return dialog
