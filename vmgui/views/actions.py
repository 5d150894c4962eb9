"""The domain actions as QActions: icons, shortcuts, names, and live enablement.

Enablement and tooltips come from :func:`vmgui.models.actions.compute` (plain
data, tested without widgets); this module only copies them onto QActions.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from .. import icons
from ..models.actions import ACTIONS, DESCRIPTIONS, OBJECT_NAMES, ActionState
from .names import name_action

LABELS = {
    "new_vm": "New VM", "start": "Start", "pause": "Pause", "resume": "Resume", "shutdown": "Shut Down",
    "reboot": "Reboot", "reset": "Reset", "force_off": "Force Off", "save": "Save", "snapshot": "Snapshot",
    "backup": "Backup", "migrate": "Migrate", "delete": "Delete", "console": "Console",
    "snapshots": "Snapshots", "graphical_console": "Display",
}
#: The verb shown in busy rows and messages ("Starting web01 failed").
VERBS = {
    "new_vm": "Defining", "start": "Starting", "pause": "Pausing", "resume": "Resuming",
    "shutdown": "Shutting down", "reboot": "Rebooting", "reset": "Resetting", "force_off": "Forcing off",
    "save": "Saving",
    "snapshot": "Snapshotting", "backup": "Backing up", "migrate": "Migrating", "delete": "Deleting",
    "console": "Opening the console of", "snapshots": "Listing the snapshots of",
    "graphical_console": "Opening the graphical console of",
}
SHORTCUTS = {
    "new_vm": "Ctrl+N", "start": "Ctrl+Return", "pause": "Ctrl+P", "resume": "Ctrl+Shift+P",
    "shutdown": "Ctrl+D", "reboot": "Ctrl+Shift+R", "reset": "Ctrl+Alt+R", "force_off": "Ctrl+Shift+D",
    "save": "Ctrl+S",
    "snapshot": "Ctrl+Shift+S", "backup": "Ctrl+B", "migrate": "Ctrl+M", "delete": "Del",
    "console": "Ctrl+Shift+C", "snapshots": "Ctrl+Shift+T", "graphical_console": "Ctrl+Shift+G",
}
ICONS = {name: f"action-{name.replace('_', '-')}" for name in ACTIONS}
#: Toolbar/menu layout; None is a separator.
LAYOUT = ("new_vm", None, "start", "pause", "resume", "shutdown", "reboot", "reset", "force_off", None,
          "save", "snapshot", "backup", "migrate", None, "snapshots", "console", "graphical_console", None,
          "delete")


class DomainActions:
    """One QAction per domain action, parented to ``window``."""

    def __init__(self, window: QWidget, trigger: Callable[[str], None]) -> None:
        self.actions: dict[str, QAction] = {}
        for name in ACTIONS:
            action = QAction(icons.icon(ICONS[name]), LABELS[name], window)
            name_action(action, OBJECT_NAMES[name])
            action.setShortcut(QKeySequence(SHORTCUTS[name]))
            action.setToolTip(DESCRIPTIONS[name])
            action.setStatusTip(DESCRIPTIONS[name])
            action.triggered.connect(lambda _checked=False, n=name: trigger(n))
            window.addAction(action)
            self.actions[name] = action

    def __getitem__(self, name: str) -> QAction:
        return self.actions[name]

    def apply(self, states: dict[str, ActionState]) -> None:
        for name, state in states.items():
            action = self.actions[name]
            action.setEnabled(state.enabled)
            shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            tip = f"{state.reason} ({shortcut})" if shortcut else state.reason
            action.setToolTip(tip)
            action.setStatusTip(state.reason)
