"""Hypervisors already running on this machine that vmgui could open at start.

The core names what was found in driver-neutral terms; the driver that knows where to look
(today the libvirt bridge: :mod:`drivers.libvirt.discover`) does the looking, loaded only
when asked, so the GUI never imports a driver package.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """One daemon looked for: whether to open it, and a sentence saying why (or why not)."""

    name: str  #: how people call it: qemu:///session, qemu:///system
    uri: str  #: what to open
    usable: bool
    reason: str
    #: URIs that reach the same daemon: when one of them is already open, this one is not needed
    same_as: frozenset[str] = frozenset()

    def sentence(self) -> str:
        return f"{self.name}: {self.reason}"


def discover_local() -> list[Candidate]:
    """Every daemon found on this machine (see the driver's module for the rules); blocks for up
    to a few seconds while each is probed, so call it off the UI thread. Without libvirt-python:
    a DriverError NO_SUPPORT."""
    finder = importlib.import_module("drivers.libvirt.discover")
    found: list[Candidate] = finder.discover()
    return found
