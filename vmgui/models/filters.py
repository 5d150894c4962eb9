"""What the user filters on: ListFlags toggle groups, a search text, one connection.

The toggle groups are exactly the core's :data:`drivers.flags.LIST_GROUPS`, and
the predicate is :func:`drivers.listfilter.compile_filter`, cached per flags
value: the table shows precisely what ``list_all_domains(flags)`` returns.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal

from drivers import ListFlags
from drivers.flags import LIST_ALL, LIST_GROUPS
from drivers.listfilter import compile_filter

#: Short button captions, by flag.
CAPTIONS: dict[ListFlags, str] = {
    ListFlags.RUNNING: "Running", ListFlags.PAUSED: "Paused", ListFlags.SHUTOFF: "Shut off",
    ListFlags.OTHER: "Other", ListFlags.ACTIVE: "Active", ListFlags.INACTIVE: "Inactive",
    ListFlags.PERSISTENT: "Persistent", ListFlags.TRANSIENT: "Transient",
    ListFlags.AUTOSTART: "Autostart", ListFlags.NO_AUTOSTART: "No autostart",
    ListFlags.HAS_SNAPSHOT: "With snapshots", ListFlags.NO_SNAPSHOT: "No snapshots",
    ListFlags.MANAGEDSAVE: "Saved state", ListFlags.NO_MANAGEDSAVE: "No saved state",
}
GROUP_NAMES = ("State", "Active", "Persistence", "Autostart", "Snapshots", "Saved state")


def group_bits(group: int) -> list[ListFlags]:
    return [flag for flag in ListFlags if flag & group]


def object_name(flag: ListFlags) -> str:
    """``filter_running``, ``filter_no_autostart``, ... (the filter buttons' object names)."""
    return f"filter_{str(flag.name).lower()}"


@lru_cache(maxsize=256)
def predicate(flags: int) -> Callable[[int], bool]:
    return compile_filter(flags)


class FilterState(QObject):
    """The current filter; ``changed`` fires once per user change."""

    changed = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._flags = 0
        self._search = ""
        self._only_uri: str | None = None

    @property
    def flags(self) -> int:
        return self._flags

    @property
    def search(self) -> str:
        return self._search

    @property
    def only_uri(self) -> str | None:
        return self._only_uri

    def accepts(self) -> Callable[[int], bool]:
        return predicate(self._flags)

    def set_flag(self, flag: int, on: bool) -> None:
        new = (self._flags | int(flag)) if on else (self._flags & ~int(flag))
        self.set_flags(new)

    def set_flags(self, flags: int) -> None:
        flags = int(flags) & int(LIST_ALL)
        if flags != self._flags:
            self._flags = flags
            self.changed.emit()

    def set_search(self, text: str) -> None:
        if text != self._search:
            self._search = text
            self.changed.emit()

    def set_only_uri(self, uri: str | None) -> None:
        if uri != self._only_uri:
            self._only_uri = uri
            self.changed.emit()

    def clear(self) -> None:
        if self._flags or self._search or self._only_uri:
            self._flags, self._search, self._only_uri = 0, "", None
            self.changed.emit()

    def describe(self) -> str:
        """One line for the status bar, e.g. 'running or paused, autostart'."""
        parts = []
        for group in LIST_GROUPS:
            chosen = self._flags & group
            if chosen and chosen != group:
                parts.append(" or ".join(CAPTIONS[f].lower() for f in group_bits(chosen)))
        if self._search:
            parts.append(f"matching “{self._search}”")
        if self._only_uri:
            parts.append(f"on {self._only_uri}")
        return ", ".join(parts)

    # -- persistence -------------------------------------------------------------
    def save(self, settings: QSettings) -> None:
        settings.setValue("filter/flags", self._flags)
        settings.setValue("filter/search", self._search)

    def restore(self, settings: QSettings) -> None:
        try:
            flags = int(str(settings.value("filter/flags", 0) or 0))
        except (TypeError, ValueError):
            flags = 0
        self._flags = flags & int(LIST_ALL)
        self._search = str(settings.value("filter/search", "") or "")
        self.changed.emit()
