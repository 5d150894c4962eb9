"""What quitting leaves behind: guests that keep running without vmgui.

Closing the window ends vmgui, not the VMs of ``qemu:///embed`` (each runs under its own
supervisor) or of a libvirt daemon. A newcomer may expect otherwise, so vmgui says it once
when there are such guests, until the person asks it not to.
"""
from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QSettings

from drivers import Feature

from ..textmark import N_, NP_
from .domains import DomainTableModel

SETTING = "notices/quit_with_running_guests"
NAMES_SHOWN = 4


def guests_left_running(domains: DomainTableModel, features: Mapping[str, frozenset[Feature]]) -> list[str]:
    """Names of the active (running or paused) domains whose guests outlive vmgui, sorted."""
    uris = {uri for uri, supported in features.items() if Feature.GUESTS_OUTLIVE_CLIENT in supported}
    return sorted(row.rec.name for row in domains.rows_of(uris) if row.rec.id is not None)


def notice_text(names: list[str]) -> str:
    """ "web01 and db01 keep running after vmgui quits." with at most a few names spelled out."""
    shown = names[:NAMES_SHOWN]
    rest = len(names) - len(shown)
    listed: str = shown[0]
    if rest:
        listed = N_("{names} and {others}", names=", ".join(shown), others=NP_("%n other", "%n others", rest))
    elif len(shown) > 1:
        listed = N_("{names} and {last}", names=", ".join(shown[:-1]), last=shown[-1])
    return NP_("{listed} keeps running after vmgui quits.", "{listed} keep running after vmgui quits.", len(names),
               listed=listed)


def wanted(settings: QSettings) -> bool:
    """False once the person ticked "Don't show this again"."""
    return str(settings.value(SETTING, "true")).lower() != "false"


def never_again(settings: QSettings) -> None:
    settings.setValue(SETTING, "false")
