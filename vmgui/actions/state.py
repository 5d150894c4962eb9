"""Which actions are possible for a selection, from :data:`~vmgui.actions.specs.SPECS`. Plain data.

Bulk rule: a domain action is enabled when it applies to at least one selected
domain; it then runs on exactly those. The tooltip says what it does, to how
many of the selection, or why not (naming the first domain that cannot).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .ids import ActionId
from .rules import Context, Selected
from .specs import SPECS, ActionSpec


@dataclass(frozen=True)
class ActionState:
    enabled: bool
    reason: str  # the tooltip: what it does, or why it is disabled
    targets: tuple[int, ...] = ()  # indexes into the selection it applies to


def compute(selection: Sequence[Selected], ctx: Context) -> dict[ActionId, ActionState]:
    """The state of every action in :data:`SPECS` for ``selection``."""
    return {spec.id: state_of(spec, selection, ctx) for spec in SPECS.values()}


def state_of(spec: ActionSpec, selection: Sequence[Selected], ctx: Context) -> ActionState:
    if spec.host_rule is not None:
        why = spec.host_rule(ctx)
        return ActionState(why is None, why or spec.description)
    if not selection:
        return ActionState(False, f"{spec.description}. Select one or more domains first")
    reasons = [spec.why_not(sel, ctx) for sel in selection]
    targets = tuple(i for i, why in enumerate(reasons) if why is None)
    if not targets:
        first = next(i for i, why in enumerate(reasons) if why)
        others = f" (and {len(selection) - 1} more cannot either)" if len(selection) > 1 else ""
        return ActionState(False, f"{spec.description}. Not possible: '{selection[first].record.name}' "
                                  f"{reasons[first]}{others}")
    text = spec.enabled_text(selection[targets[0]], ctx) if spec.enabled_text else spec.description
    if len(targets) < len(selection):
        text += f". Applies to {len(targets)} of {len(selection)} selected"
    return ActionState(True, text, targets)
