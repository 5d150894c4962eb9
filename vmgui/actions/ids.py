"""The domain actions by name: one enum member per toolbar/menu action.

A member is its own snake_case value ("force_off"), so the names a message
offers and the "don't ask again" settings of earlier versions still match.
"""
from __future__ import annotations

import enum


class ActionId(enum.StrEnum):
    """Every action the toolbar, the Domain menu and the context menu offer."""

    NEW_VM = "new_vm"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    SHUTDOWN = "shutdown"
    REBOOT = "reboot"
    RESET = "reset"
    FORCE_OFF = "force_off"
    SAVE = "save"
    SNAPSHOT = "snapshot"
    BACKUP = "backup"
    MIGRATE = "migrate"
    CLONE = "clone"
    DELETE = "delete"
    CONSOLE = "console"
    SNAPSHOTS = "snapshots"
    GRAPHICAL_CONSOLE = "graphical_console"
    EXTERNAL_VIEWER = "external_viewer"
    BACKUPS = "backups"
