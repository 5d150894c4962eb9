"""Human text for sizes, rates and durations; ``None`` (unknown) shows as a dash.

Sizes and rates are marked for translation (a unit is written differently in
some languages, "Mio" in French): the views translate them where they show them.
"""
from __future__ import annotations

from ..textmark import N_

DASH = "—"
_UNITS = (N_("{value} B"), N_("{value} KiB"), N_("{value} MiB"), N_("{value} GiB"), N_("{value} TiB"),
          N_("{value} PiB"))


def bytes_text(value: float | None) -> str:
    if value is None:
        return DASH
    value = float(value)
    for unit in _UNITS:
        if abs(value) < 1024 or unit is _UNITS[-1]:
            whole = unit is _UNITS[0] or abs(value) >= 100
            return N_(unit.source, value=f"{value:.0f}" if whole else f"{value:.1f}")
        value /= 1024
    return DASH  # pragma: no cover - the loop always returns


def count_text(count: int, noun: str, plural: str | None = None) -> str:
    """ "1 domain", "2 domains", "1,024 domains"."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def rate_text(bytes_per_s: float | None) -> str:
    return DASH if bytes_per_s is None else N_("{size}/s", size=bytes_text(bytes_per_s))


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"
