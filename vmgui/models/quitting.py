"""What quitting leaves behind: guests that keep running without vmgui.

Closing the window ends vmgui, not the VMs of ``qemu:///embed`` (each runs under its own
supervisor) or of a libvirt daemon. A newcomer may expect otherwise, so vmgui says it once
when there are such guests, until the person asks it not to.
"""
from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QSettings

from drivers import Feature

from .domains import DomainTableModel
from .format import count_text

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
    if rest:
        listed = ", ".join(shown) + f" and {count_text(rest, 'other')}"
    elif len(shown) > 1:
        listed = ", ".join(shown[:-1]) + f" and {shown[-1]}"
    else:
        listed = shown[0]
    verb = "keeps" if len(names) == 1 else "keep"
    return f"{listed} {verb} running after vmgui quits."


def wanted(settings: QSettings) -> bool:
    """False once the person ticked "Don't show this again"."""
    return str(settings.value(SETTING, "true")).lower() != "false"


def never_again(settings: QSettings) -> None:
    settings.setValue(SETTING, "false")
