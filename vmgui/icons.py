"""Icons and style sheets from ``resources/``, loaded once and cached.

A missing file gives an empty icon, never an error: icons decorate, they do
not carry meaning on their own (every icon has text next to it or a tooltip).
"""
from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

from drivers import DomainState


def _find_resources() -> Path:
    """``resources/`` beside the package (a checkout, an editable install) or the
    copy a wheel installs under ``<prefix>/share/vmgui``."""
    beside = Path(__file__).resolve().parent.parent / "resources"
    if beside.is_dir():
        return beside
    return Path(sys.prefix) / "share" / "vmgui" / "resources"


RESOURCES = _find_resources()

_STATE_ICONS = {
    DomainState.RUNNING: "state-running", DomainState.BLOCKED: "state-running",
    DomainState.PAUSED: "state-paused", DomainState.PMSUSPENDED: "state-paused",
    DomainState.SHUTOFF: "state-shutoff", DomainState.SHUTDOWN: "state-shutdown",
    DomainState.CRASHED: "state-crashed", DomainState.NOSTATE: "state-shutoff",
}


@cache
def icon(name: str) -> QIcon:
    path = RESOURCES / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def state_icon(state: int, busy: bool = False, broken: bool = False) -> QIcon:
    if busy:
        return icon("state-busy")
    if broken:  # files the driver cannot read: the warning look of a crash
        return icon("state-crashed")
    return icon(_STATE_ICONS.get(DomainState(state), "state-shutoff"))


def style_sheet() -> str:
    path = RESOURCES / "style" / "vmgui.qss"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
