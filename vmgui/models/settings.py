"""What vmgui remembers across runs (QSettings): URI history, open connections, how long a guest
gets to shut down or reboot before Force Off or Reset is offered, and the colour scheme."""
from __future__ import annotations

from PySide6.QtCore import QSettings

from .pending import DEFAULT_TIMEOUT_S

HISTORY_MAX = 15
SHUTDOWN_TIMEOUT_KEY = "lifecycle/shutdown_timeout_s"
COLOUR_SCHEME_KEY = "appearance/colour_scheme"
COLOUR_SCHEMES = ("system", "light", "dark")


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


def shutdown_timeout(settings: QSettings) -> float:
    """Seconds (``lifecycle/shutdown_timeout_s``, default 60) a guest gets to carry out a shutdown or reboot.

    The default is written back when the key is missing or not a positive number,
    so the settings file shows what can be changed.
    """
    raw = settings.value(SHUTDOWN_TIMEOUT_KEY)
    try:
        value = float(raw) if raw is not None else 0.0
    except (TypeError, ValueError):
        value = 0.0
    if value <= 0:
        value = DEFAULT_TIMEOUT_S
        settings.setValue(SHUTDOWN_TIMEOUT_KEY, value)
    return value


def colour_scheme(settings: QSettings) -> str:
    """``appearance/colour_scheme``: "system" (follow the desktop, the default), "light" or "dark"."""
    value = str(settings.value(COLOUR_SCHEME_KEY, "system"))
    return value if value in COLOUR_SCHEMES else "system"


def set_colour_scheme(settings: QSettings, scheme: str) -> None:
    settings.setValue(COLOUR_SCHEME_KEY, scheme if scheme in COLOUR_SCHEMES else "system")
