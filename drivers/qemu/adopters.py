"""Hooks through which feature modules settle, at open, what a previous process left behind.

The host (re-attaching to running VMs) calls them and imports no feature:
``recovery`` settles interrupted jobs, ``snapjournal`` interrupted snapshot
operations. The connection module registers them at import.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .events import EventHost
from .state import LiveVM, QDom


@dataclass(frozen=True)
class Adopter:
    """What a feature does at open with what a previous process left: each hook is optional.

    ``reattached(host, dom, vm)``: a VM still runs (its monitor connected), in
    registration order; ``gone(host, dom, state)``: a VM ended while no process
    watched it (``state`` is its state file's object); ``opened(host)``: every
    VM was re-attached.
    """

    name: str
    reattached: Callable[[EventHost, QDom, LiveVM], None] | None = None
    gone: Callable[[EventHost, QDom, dict[str, Any]], None] | None = None
    opened: Callable[[EventHost], None] | None = None


_adopters: list[Adopter] = []


def register_adopter(adopter: Adopter) -> None:
    """Add (or, by name, replace) a feature's hooks for every root opened from now on."""
    _adopters[:] = [a for a in _adopters if a.name != adopter.name] + [adopter]


def registered() -> list[Adopter]:
    """The hooks in the order they were registered (a copy: a hook may register another)."""
    return list(_adopters)
