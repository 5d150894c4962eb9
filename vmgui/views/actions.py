"""The domain actions as QActions, rendered from :data:`vmgui.actions.SPECS`, with live enablement.

Labels, icons, shortcuts, names and tooltips come from the spec table (translated here) and
enablement from :func:`vmgui.models.actions.compute` (plain data, tested
without widgets); this module only copies them onto QActions.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from .. import icons
from ..actions import SPECS, ActionId, ActionState
from ..i18n import N_, translate
from .names import name_action

#: The translation context of the action table's text (labels, tooltips, reasons, confirmations).
CONTEXT = "Actions"


class DomainActions:
    """One QAction per domain action (or per one of ``ids``), parented to ``window``.

    ``shortcuts=False`` leaves the keys to a window whose keyboard belongs to a guest (the display's).
    """

    def __init__(self, window: QWidget, trigger: Callable[[ActionId], None],
                 ids: Sequence[ActionId] | None = None, shortcuts: bool = True) -> None:
        self.actions: dict[ActionId, QAction] = {}
        for spec in SPECS.values() if ids is None else (SPECS[i] for i in ids):
            action = QAction(icons.icon(spec.icon), translate(CONTEXT, spec.label), window)
            name_action(action, spec.object_name)
            if shortcuts:
                action.setShortcut(QKeySequence(spec.shortcut))
            action.setToolTip(translate(CONTEXT, spec.description))
            action.setStatusTip(translate(CONTEXT, spec.description))
            action.triggered.connect(lambda _checked=False, n=spec.id: trigger(n))
            window.addAction(action)
            self.actions[spec.id] = action

    def __getitem__(self, name: ActionId) -> QAction:
        return self.actions[name]

    def apply(self, states: Mapping[ActionId, ActionState]) -> None:
        for name, state in states.items():
            action = self.actions[name]
            action.setEnabled(state.enabled)
            shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            reason = translate(CONTEXT, state.reason)
            action.setToolTip(translate(CONTEXT, N_("{reason} ({shortcut})", reason=reason, shortcut=shortcut))
                              if shortcut else reason)
            action.setStatusTip(reason)
