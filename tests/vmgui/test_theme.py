"""Light and dark desktops: what vmgui colours itself stays readable under either palette."""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QAction, QColor, QGuiApplication, QImage, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from vmgui import icons
from vmgui.views import theme
from vmgui.views.dialogs.xmldiff import diff_html
from vmgui.views.graphs import Graph

#: WCAG 2's floor for body text
READABLE = 4.5


def contrast(foreground: QColor | str, background: QColor | str) -> float:
    """WCAG 2 contrast ratio, 1 (none) to 21 (black on white)."""
    def luminance(colour: QColor) -> float:
        def channel(c: float) -> float:
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
        return 0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())
    lighter, darker = sorted((luminance(QColor(foreground)), luminance(QColor(background))), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def dark_palette() -> QPalette:
    """What a dark desktop theme (Breeze Dark, Adwaita dark) hands a Qt application."""
    palette = QPalette()
    for role, colour in ((QPalette.ColorRole.Window, "#2a2e32"), (QPalette.ColorRole.WindowText, "#fcfcfc"),
                         (QPalette.ColorRole.Base, "#1b1e20"), (QPalette.ColorRole.AlternateBase, "#232629"),
                         (QPalette.ColorRole.Text, "#fcfcfc"), (QPalette.ColorRole.Button, "#31363b"),
                         (QPalette.ColorRole.ButtonText, "#fcfcfc"), (QPalette.ColorRole.Highlight, "#3daee9"),
                         (QPalette.ColorRole.HighlightedText, "#fcfcfc")):
        palette.setColor(role, QColor(colour))
    return palette


@pytest.fixture
def dark_desktop(qapp) -> Iterator[None]:
    """The application palette of a dark desktop for one test, the old one restored after."""
    previous = QGuiApplication.palette()
    QApplication.setPalette(dark_palette())
    yield
    QApplication.setPalette(previous)


def pixel(widget: QWidget, at: QPoint) -> QColor:
    image: QImage = widget.grab().toImage()
    return image.pixelColor(at)


@pytest.mark.parametrize("chosen", [theme.LIGHT, theme.DARK], ids=["light", "dark"])
def test_every_text_colour_reads_on_its_background(chosen):
    pairs = {
        "filter buttons": (chosen.button_fg, chosen.button_bg),
        "a checked filter": (chosen.accent_fg, chosen.accent),
        "filter group labels": (chosen.filter_label, chosen.filter_bg),
        "the XML tab": (chosen.xml_fg, chosen.xml_bg),
        "the domain count": (chosen.status_fg, chosen.message_bg),
        "graph labels": (chosen.graph_text, chosen.graph_bg),
        "a selected row": (chosen.row_selected_text, chosen.row_selected),
        "added diff lines": chosen.diff_added,
        "removed diff lines": chosen.diff_removed,
        "diff hunk headers": chosen.diff_header,
    }
    for what, (fg, bg) in pairs.items():
        assert contrast(fg, bg) >= READABLE, f"{what}: {fg} on {bg}"


def test_error_sentences_read_on_the_window_of_either_desktop(qapp, dark_desktop):
    assert contrast(theme.DARK.error_text, dark_palette().color(QPalette.ColorRole.Window)) >= READABLE
    assert theme.DARK.error_text in theme.error_style()
    assert contrast(theme.LIGHT.error_text, "#ffffff") >= READABLE


def test_banner_fills_keep_the_palette_text_readable():
    for chosen, text in ((theme.LIGHT, "#000000"), (theme.DARK, "#fcfcfc")):
        for fill in (chosen.error_bg, chosen.warning_bg, chosen.info_bg, chosen.message_bg, chosen.row_alternate):
            assert contrast(text, fill) >= READABLE, fill


def test_the_style_sheet_names_only_known_colours_and_unknown_ones_are_an_error():
    template = icons.style_sheet()
    tokens = set(re.findall(r"@([a-z_]+)", template))
    assert tokens and tokens <= {field.name for field in dataclasses.fields(theme.Colours)}
    for chosen in (theme.LIGHT, theme.DARK):
        assert not re.search(r"@[a-z_]", theme.fill_style_sheet(template, chosen))
    with pytest.raises(KeyError, match="@bordr"):
        theme.fill_style_sheet("QFrame { border: 1px solid @bordr; }", theme.LIGHT)


def test_the_palette_decides_light_or_dark(qapp, dark_desktop):
    assert theme.is_dark(dark_palette())
    assert theme.colours() is theme.DARK
    light = QPalette(QColor("#efefef"))
    assert not theme.is_dark(light) and theme.colours(light) is theme.LIGHT


def test_a_dark_desktop_gets_dark_table_rows_banners_and_graphs(open_window, node_uri, qtbot, dark_desktop):
    window = open_window(node_uri)
    table_palette = window.table.palette()
    alternate = table_palette.color(QPalette.ColorRole.AlternateBase)
    assert alternate == QColor(theme.DARK.row_alternate)
    assert contrast(table_palette.color(QPalette.ColorRole.Text), alternate) >= READABLE
    assert contrast(table_palette.color(QPalette.ColorRole.Text), table_palette.color(QPalette.ColorRole.Base)) \
        >= READABLE
    window.session.messages.add("error", "Something failed", "Because of a reason.")
    qtbot.waitUntil(lambda: window.message_area.isVisible())
    banner = window.message_area.findChild(QWidget, "message_error")
    fill = pixel(banner, QPoint(2, banner.height() // 2))
    assert contrast(banner.palette().color(QPalette.ColorRole.WindowText), fill) >= READABLE, fill.name()

    graph = Graph("cpuGraph", "CPU", lambda v: f"{v:.0f} %", "#1570ef")
    qtbot.addWidget(graph)
    graph.resize(150, 64)
    graph.set_values([10.0, 50.0, 30.0])
    assert pixel(graph, QPoint(140, 55)) == QColor(theme.DARK.graph_bg)


def test_switching_the_desktop_to_dark_recolours_an_open_window(open_window, node_uri, qtbot, qapp):
    window = open_window(node_uri)
    assert window.table.palette().color(QPalette.ColorRole.AlternateBase) == QColor(theme.LIGHT.row_alternate)
    assert theme.LIGHT.filter_bg in window.filter_bar.styleSheet()
    previous = QGuiApplication.palette()
    QApplication.setPalette(dark_palette())
    try:
        qtbot.waitUntil(lambda: theme.DARK.filter_bg in window.filter_bar.styleSheet())
        assert window.table.palette().color(QPalette.ColorRole.AlternateBase) == QColor(theme.DARK.row_alternate)
    finally:
        QApplication.setPalette(previous)
    qtbot.waitUntil(lambda: theme.LIGHT.filter_bg in window.filter_bar.styleSheet())


def test_diff_lines_use_the_theme_and_plain_lines_the_palette(qapp, dark_desktop):
    html = diff_html(["--- old", "+++ new", "@@ -1 +1 @@", "-<memory>1</memory>", "+<memory>2</memory>", " <x/>"])
    assert f"color:{theme.DARK.diff_added[0]}; background:{theme.DARK.diff_added[1]}" in html
    assert f"color:{theme.DARK.diff_removed[0]}" in html
    assert '<div style="white-space:pre"> &lt;x/&gt;</div>' in html  # no fixed dark text on a dark window


@pytest.fixture
def desktop_palette_restored(qapp) -> Iterator[QPalette]:
    previous = QGuiApplication.palette()
    yield previous
    QApplication.setPalette(previous)


def test_view_colours_dark_makes_a_light_desktop_dark_and_is_remembered(
        open_window, node_uri, qtbot, settings, desktop_palette_restored):
    window = open_window(node_uri)
    assert window.findChild(QAction, "schemeSystem").isChecked()
    window.findChild(QAction, "schemeDark").trigger()
    qtbot.waitUntil(lambda: theme.DARK.filter_bg in window.filter_bar.styleSheet())
    assert theme.is_dark(QGuiApplication.palette())
    assert contrast(QGuiApplication.palette().color(QPalette.ColorRole.WindowText),
                    QGuiApplication.palette().color(QPalette.ColorRole.Window)) >= READABLE
    assert settings.value("appearance/colour_scheme") == "dark"

    window.findChild(QAction, "schemeSystem").trigger()
    qtbot.waitUntil(lambda: theme.LIGHT.filter_bg in window.filter_bar.styleSheet())
    assert QGuiApplication.palette().color(QPalette.ColorRole.Window) == \
        desktop_palette_restored.color(QPalette.ColorRole.Window)


def test_a_dark_scheme_chosen_earlier_applies_at_start(open_window, node_uri, settings, desktop_palette_restored):
    settings.setValue("appearance/colour_scheme", "dark")
    window = open_window(node_uri)
    assert window.findChild(QAction, "schemeDark").isChecked()
    assert theme.DARK.filter_bg in window.filter_bar.styleSheet()
    assert window.table.palette().color(QPalette.ColorRole.AlternateBase) == QColor(theme.DARK.row_alternate)


def test_light_on_a_dark_desktop_gives_the_style_s_light_palette(qapp, dark_desktop):
    light = QPalette(QColor("#efefef"))
    chosen = theme.palette_for(theme.Scheme.LIGHT, dark_palette(), light)
    assert not theme.is_dark(chosen)
    assert theme.palette_for(theme.Scheme.SYSTEM, dark_palette(), light).color(QPalette.ColorRole.Window) == \
        dark_palette().color(QPalette.ColorRole.Window)
