"""What happens when an action is triggered: ask what is needed, confirm, then run.

Dialogs are opened with ``open()`` (never a nested ``exec()``) and the work
goes to :class:`vmgui.models.session.Session`, which runs it through the bridge
on every selected domain the action applies to.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable

from PySide6.QtWidgets import QWidget

from ..models import actions as rules
from ..models.console import ConsoleModel
from ..models.domains import Key
from ..models.session import Session
from ..models.snapshots import SnapshotTree
from ..models.vnc import open_graphical_console
from . import confirm
from .actions import VERBS
from .backupflow import BackupFlow
from .console import ConsoleDialog
from .deleteflow import DeleteFlow
from .dialogs.simple import SnapshotDialog
from .dialogs.snapshots import SnapshotTreeDialog
from .migrateflow import MigrateFlow
from .newvmflow import NewVMFlow

CONFIRM = {
    "force_off": ("Force off", "Power off {what} at once? Unsaved data in the guest is lost."),
    "reset": ("Reset", "Reset {what} at once? The guest starts again without shutting down: "
                       "unsaved data in it is lost."),
}


class Commands:
    """Turns an action name plus the current selection into session calls."""

    def __init__(self, parent: QWidget, session: Session, selection: Callable[[], list[Key]],
                 states: Callable[[], dict[str, rules.ActionState]]) -> None:
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

    def trigger(self, name: str) -> None:
        state = self._states().get(name)
        if state is None or not state.enabled:
            return  # a shortcut pressed while the action is disabled
        if name == "new_vm":
            self.new_vm.ask()
            return
        keys = self._selection()
        targets = [keys[i] for i in state.targets]
        if name == "console":
            self.open_console(targets[0])
            return
        if name == "snapshots":
            self.open_snapshots(targets[0])
            return
        if name == "graphical_console":
            self._session.spawn(open_graphical_console(self._session, targets[0]),
                                f"Opening the graphical console of {self._what(targets)}")
            return
        ask = {"snapshot": self._ask_snapshot, "backup": self.backup.ask, "delete": self.delete.ask,
               "migrate": self.migrate.ask}.get(name)
        if ask is not None:
            ask(targets)
        elif name in CONFIRM:
            self._confirm(name, targets)
        else:
            self.run(name, targets)

    def offer(self, name: str, targets: list[Key]) -> None:
        """An action a message offers (Force Off after an unanswered shutdown): confirmed like the toolbar's."""
        targets = [k for k in targets if self._session.domains.get(k) is not None]
        if not targets:
            return
        if name in CONFIRM:
            self._confirm(name, targets)
        else:
            self.run(name, targets)

    def run(self, action: str, targets: list[Key], **params: object) -> None:
        self._session.run(action, targets, VERBS[action], **params)

    def _what(self, targets: list[Key]) -> str:
        names = self._names(targets)
        if len(names) == 1:
            return f"“{names[0]}”"
        return f"{len(names)} domains ({', '.join(names[:3])}{', …' if len(names) > 3 else ''})"

    def _names(self, targets: list[Key]) -> list[str]:
        rows = [self._session.domains.get(k) for k in targets]
        return [row.rec.name for row in rows if row is not None]

    def _show(self, dialog: QWidget, accepted: Callable[[], None]) -> None:
        self.last_dialog = dialog
        dialog.accepted.connect(accepted)  # type: ignore[attr-defined]
        dialog.finished.connect(lambda _r: dialog.deleteLater())  # type: ignore[attr-defined]
        dialog.open()  # type: ignore[attr-defined]

    def _confirm(self, name: str, targets: list[Key]) -> None:
        title, text = CONFIRM[name]
        self.last_dialog = confirm.ask(self._parent, title, text.format(what=self._what(targets)),
                                       f"confirm_{name}", title, lambda: self.run(name, targets))

    def _ask_snapshot(self, targets: list[Key]) -> None:
        dialog = SnapshotDialog(len(targets), time.strftime("snap-%Y%m%d-%H%M%S"), self._parent)
        self._show(dialog, lambda: self.run("snapshot", targets, name=dialog.name.text()))

    def open_console(self, key: Key) -> ConsoleDialog:
        """A modeless console window for ``key`` (one per press: each reads on its own)."""
        name = (self._names([key]) or [key[1]])[0]
        model = ConsoleModel(self._session.bridge, self._session.spawn, key[0], key[1], name)
        dialog = ConsoleDialog(model, self._parent)
        self.last_dialog = dialog
        dialog.show()
        model.start()
        return dialog

    def open_snapshots(self, key: Key) -> SnapshotTreeDialog:
        """The snapshot tree of ``key``, modeless (its jobs show in the job panel meanwhile)."""
        name = (self._names([key]) or [key[1]])[0]
        dialog = SnapshotTreeDialog(SnapshotTree(self._session, key, name), self._parent)
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        self.last_dialog = dialog
        dialog.show()
        return dialog
