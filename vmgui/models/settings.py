"""What vmgui remembers across runs (QSettings): URI history and open connections."""
from __future__ import annotations

from PySide6.QtCore import QSettings

HISTORY_MAX = 15


def _list(settings: QSettings, key: str) -> list[str]:
    value = settings.value(key, [])
    if isinstance(value, str):
        return [value] if value else []
    if not isinstance(value, (list, tuple)):
        return []
    return [str(v) for v in value if str(v)]


def uri_history(settings: QSettings) -> list[str]:
    """Most recent first."""
    return _list(settings, "connections/history")


def remember_uri(settings: QSettings, uri: str) -> None:
    history = [uri] + [u for u in uri_history(settings) if u != uri]
    settings.setValue("connections/history", history[:HISTORY_MAX])


def open_uris(settings: QSettings) -> list[str]:
    """Connections the user added and had open when vmgui last closed."""
    return _list(settings, "connections/open")


def set_open_uris(settings: QSettings, uris: list[str]) -> None:
    settings.setValue("connections/open", list(uris))
