"""Human text for sizes, rates and durations; ``None`` (unknown) shows as a dash."""
from __future__ import annotations

DASH = "—"
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def bytes_text(value: float | None) -> str:
    if value is None:
        return DASH
    value = float(value)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{value:.0f} B"
            return f"{value:.1f} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"
        value /= 1024
    return DASH  # pragma: no cover - the loop always returns


def count_text(count: int, noun: str, plural: str | None = None) -> str:
    """ "1 domain", "2 domains", "1,024 domains"."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def rate_text(bytes_per_s: float | None) -> str:
    return DASH if bytes_per_s is None else f"{bytes_text(bytes_per_s)}/s"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"
