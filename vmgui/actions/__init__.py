"""The domain actions as plain data: ids, the one spec table, their rules and the requests the bridge runs.

No Qt anywhere in this package: the views render it, the bridge dispatches its
requests, and the tests check it without widgets.
"""
from __future__ import annotations

from .ids import ActionId
from .rules import Context, Selected
from .specs import ACTION_OF, LAYOUT, MENU_ONLY, SPECS, ActionSpec, Asks, Confirm, context_menu
from .state import ActionState, compute

__all__ = ["ACTION_OF", "LAYOUT", "MENU_ONLY", "SPECS", "ActionId", "ActionSpec", "ActionState", "Asks", "Confirm",
           "Context", "Selected", "compute", "context_menu"]
