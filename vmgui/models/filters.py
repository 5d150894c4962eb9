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

from ..textmark import N_, Text

#: The toggles' captions and their groups' names, marked for translation (the filter bar translates them).
CAPTIONS: dict[ListFlags, str] = {
    ListFlags.RUNNING: N_("Running"), ListFlags.PAUSED: N_("Paused"), ListFlags.SHUTOFF: N_("Shut off"),
    ListFlags.OTHER: N_("Other"), ListFlags.ACTIVE: N_("Active"), ListFlags.INACTIVE: N_("Inactive"),
    ListFlags.PERSISTENT: N_("Persistent"), ListFlags.TRANSIENT: N_("Transient"),
    ListFlags.AUTOSTART: N_("Autostart"), ListFlags.NO_AUTOSTART: N_("No autostart"),
    ListFlags.HAS_SNAPSHOT: N_("With snapshots"), ListFlags.NO_SNAPSHOT: N_("No snapshots"),
    ListFlags.MANAGEDSAVE: N_("Saved state"), ListFlags.NO_MANAGEDSAVE: N_("No saved state"),
}
#: The captions as words inside a sentence ("show running domains", "running or paused").
IN_SENTENCE: dict[ListFlags, Text] = {
    ListFlags.RUNNING: N_("running"), ListFlags.PAUSED: N_("paused"), ListFlags.SHUTOFF: N_("shut off"),
    ListFlags.OTHER: N_("other"), ListFlags.ACTIVE: N_("active"), ListFlags.INACTIVE: N_("inactive"),
    ListFlags.PERSISTENT: N_("persistent"), ListFlags.TRANSIENT: N_("transient"),
    ListFlags.AUTOSTART: N_("autostart"), ListFlags.NO_AUTOSTART: N_("no autostart"),
    ListFlags.HAS_SNAPSHOT: N_("with snapshots"), ListFlags.NO_SNAPSHOT: N_("no snapshots"),
    ListFlags.MANAGEDSAVE: N_("saved state"), ListFlags.NO_MANAGEDSAVE: N_("no saved state"),
}
GROUP_NAMES = (N_("State"), N_("Active"), N_("Persistence"), N_("Autostart"), N_("Snapshots"), N_("Saved state"))


def _joined(pattern: Text, parts: list[Text]) -> Text:
    """``parts`` joined by ``pattern`` ("{first} or {rest}"), each part translatable on its own."""
    text = parts[-1]
    for part in reversed(parts[:-1]):
        text = N_(pattern.source, first=part, rest=text)
    return text


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
        parts: list[Text] = []
        for group in LIST_GROUPS:
            chosen = self._flags & group
            if chosen and chosen != group:
                parts.append(_joined(N_("{first} or {rest}"), [IN_SENTENCE[f] for f in group_bits(chosen)]))
        if self._search:
            parts.append(N_("matching “{search}”", search=self._search))
        if self._only_uri:
            parts.append(N_("on {uri}", uri=self._only_uri))
        return _joined(N_("{first}, {rest}"), parts) if parts else ""

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
