"""Light and dark colours for what vmgui draws itself.

The desktop's palette decides: under a dark theme the banners, filter buttons, table rows,
graphs and error sentences get colours that read on a dark window, instead of light fills
under the theme's light text. The style sheet (``resources/style/vmgui.qss``) names its
colours as ``@name`` tokens, filled in from one of the two sets here.
"""
from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass

from PySide6.QtGui import QColor, QGuiApplication, QPalette


@dataclass(frozen=True)
class Colours:
    """Every colour vmgui sets by hand; the field names are the style sheet's tokens."""

    border: str
    toolbar_disabled: str
    filter_bg: str
    filter_label: str
    button_bg: str
    button_fg: str
    button_border: str
    button_hover: str
    accent: str
    accent_border: str
    accent_fg: str
    field_bg: str
    message_bg: str
    error_bg: str
    error_border: str
    warning_bg: str
    warning_border: str
    info_bg: str
    info_border: str
    xml_bg: str
    xml_fg: str
    status_fg: str
    error_text: str
    graph_bg: str
    graph_border: str
    graph_text: str
    row_alternate: str
    row_selected: str
    row_selected_text: str
    diff_added: tuple[str, str]
    diff_removed: tuple[str, str]
    diff_header: tuple[str, str]


LIGHT = Colours(
    border="#d8dce3", toolbar_disabled="#a0a6b0", filter_bg="#f5f7fa", filter_label="#5b6472",
    button_bg="#ffffff", button_fg="#2c3340", button_border="#c5cbd5", button_hover="#e8eefb",
    accent="#2f6fdb", accent_border="#2559b3", accent_fg="#ffffff", field_bg="#ffffff",
    message_bg="#fbfbfc", error_bg="#fdecec", error_border="#f2b8b8", warning_bg="#fff6e0",
    warning_border="#f0d48a", info_bg="#eaf2ff", info_border="#b9d0f7",
    xml_bg="#fbfbfc", xml_fg="#1f2937", status_fg="#3b4252", error_text="#b42318",
    graph_bg="#ffffff", graph_border="#d0d5dd", graph_text="#344054",
    row_alternate="#f6f7f9", row_selected="#cfe0ff", row_selected_text="#101828",
    diff_added=("#067647", "#ecfdf3"), diff_removed=("#b42318", "#fef3f2"), diff_header=("#475467", "#f2f4f7"),
)

DARK = Colours(
    border="#3a404b", toolbar_disabled="#6b7280", filter_bg="#23272e", filter_label="#aab2bf",
    button_bg="#2c313a", button_fg="#e4e7ec", button_border="#4a515e", button_hover="#34404f",
    accent="#2f6fdb", accent_border="#5b93f0", accent_fg="#ffffff", field_bg="#1d2026",
    message_bg="#202329", error_bg="#4a1f1f", error_border="#7a3434", warning_bg="#463a17",
    warning_border="#7a6526", info_bg="#1c3154", info_border="#30518a",
    xml_bg="#1d2026", xml_fg="#e4e7ec", status_fg="#c8cdd5", error_text="#ff8a80",
    graph_bg="#1d2026", graph_border="#3a404b", graph_text="#d0d5dd",
    row_alternate="#262a31", row_selected="#1f3f73", row_selected_text="#ffffff",
    diff_added=("#75e0a7", "#0c3322"), diff_removed=("#fda29b", "#4a1a14"), diff_header=("#d0d5dd", "#2a2f38"),
)

_TOKEN = re.compile(r"@([a-z_]+)")


def is_dark(palette: QPalette) -> bool:
    """A dark theme draws light text on a dark window."""
    window = palette.color(QPalette.ColorRole.Window)
    text = palette.color(QPalette.ColorRole.WindowText)
    return window.lightness() < text.lightness()


def colours(palette: QPalette | None = None) -> Colours:
    """The set for ``palette`` (the application's when None)."""
    return DARK if is_dark(palette if palette is not None else QGuiApplication.palette()) else LIGHT


def fill_style_sheet(template: str, chosen: Colours) -> str:
    """``template`` with each ``@name`` replaced by that colour; an unknown name is an error
    (a typo in the style sheet would otherwise silently draw nothing)."""
    known = {field.name: getattr(chosen, field.name) for field in dataclasses.fields(Colours)}

    def colour(match: re.Match[str]) -> str:
        value = known.get(match.group(1))
        if not isinstance(value, str):
            raise KeyError(f"the style sheet names an unknown colour @{match.group(1)}")
        return value
    return _TOKEN.sub(colour, template)


def error_style() -> str:
    """How a sentence explaining bad input looks, in the current theme."""
    return f"color: {colours().error_text};"


def warning_style() -> str:
    """How a warning that does not block the dialog looks (a pale box, not red text)."""
    chosen = colours()
    return (f"background: {chosen.warning_bg}; border: 1px solid {chosen.warning_border}; border-radius: 3px;"
            " padding: 4px;")



class Scheme(enum.StrEnum):
    """The colour scheme a person picks (View ▸ Colours): the desktop's, or light or dark regardless."""

    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


#: What vmgui's own dark scheme hands Qt (for desktops whose theme never tells Qt it is dark)
_DARK_ROLES = {
    QPalette.ColorRole.Window: "#2a2e32", QPalette.ColorRole.WindowText: "#f2f4f7",
    QPalette.ColorRole.Base: "#1d2026", QPalette.ColorRole.AlternateBase: "#262a31",
    QPalette.ColorRole.Text: "#f2f4f7", QPalette.ColorRole.Button: "#31363b",
    QPalette.ColorRole.ButtonText: "#f2f4f7", QPalette.ColorRole.ToolTipBase: "#31363b",
    QPalette.ColorRole.ToolTipText: "#f2f4f7", QPalette.ColorRole.PlaceholderText: "#98a2b3",
    QPalette.ColorRole.Highlight: "#2f6fdb", QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#84adff", QPalette.ColorRole.BrightText: "#ffffff",
    QPalette.ColorRole.Light: "#4a515e", QPalette.ColorRole.Midlight: "#3a404b",
    QPalette.ColorRole.Mid: "#30353d", QPalette.ColorRole.Dark: "#16181c", QPalette.ColorRole.Shadow: "#0b0c0e",
}


def dark_palette() -> QPalette:
    """A complete dark palette; disabled text is dimmed so greyed-out actions look greyed out."""
    palette = QPalette()
    for role, colour in _DARK_ROLES.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7280"))
    return palette


def palette_for(scheme: Scheme, desktop: QPalette, light: QPalette) -> QPalette:
    """The application palette for ``scheme``: ``desktop`` is what the desktop gave at start,
    ``light`` the style's own light palette."""
    if scheme is Scheme.DARK:
        return dark_palette()
    if scheme is Scheme.LIGHT:
        return desktop if not is_dark(desktop) else light
    return desktop
