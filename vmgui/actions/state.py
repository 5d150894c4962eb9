"""Which actions are possible for a selection, from :data:`~vmgui.actions.specs.SPECS`. Plain data.

Bulk rule: a domain action is enabled when it applies to at least one selected
domain; it then runs on exactly those. The tooltip says what it does, to how
many of the selection, or why not (naming the first domain that cannot).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..textmark import N_, NP_
from .ids import ActionId
from .rules import Context, Selected
from .specs import SPECS, ActionSpec


@dataclass(frozen=True)
class ActionState:
    enabled: bool
    reason: str  # (a vmgui.textmark.Text, translated when shown) the tooltip: what it does, or why it is disabled
    targets: tuple[int, ...] = ()  # indexes into the selection it applies to


def compute(selection: Sequence[Selected], ctx: Context) -> dict[ActionId, ActionState]:
    """The state of every action in :data:`SPECS` for ``selection``."""
    return {spec.id: state_of(spec, selection, ctx) for spec in SPECS.values()}


def state_of(spec: ActionSpec, selection: Sequence[Selected], ctx: Context) -> ActionState:
    if spec.host_rule is not None:
        why = spec.host_rule(ctx)
        return ActionState(why is None, why or spec.description)
    if not selection:
        return ActionState(False, N_("{description}. Select one or more domains first", description=spec.description))
    reasons = [spec.why_not(sel, ctx) for sel in selection]
    targets = tuple(i for i, why in enumerate(reasons) if why is None)
    if not targets:
        first = next(i for i, why in enumerate(reasons) if why)
        name, why = selection[first].record.name, reasons[first]
        if len(selection) > 1:
            return ActionState(False, NP_("{description}. Not possible: '{name}' {why} (and %n more cannot either)",
                                          "{description}. Not possible: '{name}' {why} (and %n more cannot either)",
                                          len(selection) - 1, description=spec.description, name=name, why=why))
        return ActionState(False, N_("{description}. Not possible: '{name}' {why}", description=spec.description,
                                     name=name, why=why))
    text = spec.enabled_text(selection[targets[0]], ctx) if spec.enabled_text else spec.description
    if len(targets) < len(selection):
        text = N_("{text}. Applies to {targets} of {selected} selected", text=text, targets=len(targets),
                  selected=len(selection))
    return ActionState(True, text, targets)
