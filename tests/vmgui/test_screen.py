"""The screen thumbnail in the details pane: shown for active domains, a sentence otherwise."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel
from test_window import select

from drivers.errors import DriverError, ErrorCode


def colour(thumb: QLabel):
    image = thumb.pixmap().toImage()
    return image.pixelColor(image.width() // 2, image.height() - 5)


def test_thumbnail_follows_selection_and_state(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    thumb = window.findChild(QLabel, "screenThumbnail")
    window.table.clearSelection()  # the first row is selected at start
    window.refresh_selection_state()
    assert thumb is not None and not thumb.isVisible()
    select(window, "web01")
    qtbot.waitUntil(lambda: thumb.has_picture, timeout=5000)
    assert thumb.isVisible() and thumb.pixmap().width() > 0
    running = colour(thumb)

    window.session.bridge.connection(node_uri).lookup_by_name("web01").suspend()
    qtbot.waitUntil(lambda: thumb.has_picture and colour(thumb) != running, timeout=5000)
    assert colour(thumb).lightness() < running.lightness()  # the paused screen is dimmed

    select(window, "legacy-app")
    assert not thumb.has_picture and "not running" in thumb.text()
    select(window, "web01", "legacy-app")
    assert not thumb.isVisible()


def test_thumbnail_refreshes_only_while_visible(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    thumb = window.findChild(QLabel, "screenThumbnail")
    thumb._timer.setInterval(50)
    select(window, "test")
    qtbot.waitUntil(lambda: thumb.frames >= 3, timeout=5000)
    window.details.setCurrentIndex(1)  # the XML tab hides the overview
    qtbot.wait(100)
    frames = thumb.frames
    qtbot.wait(300)
    assert thumb.frames <= frames + 1


def test_a_connection_without_screenshots_gets_a_sentence(open_window, node_uri):
    window = open_window(node_uri)
    thumb = window.findChild(QLabel, "screenThumbnail")
    thumb._supported = lambda uri: False
    select(window, "web01")
    assert not thumb.has_picture and "does not provide screenshots" in thumb.text()


def test_a_screenshot_that_fails_says_why_in_one_sentence(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    thumb = window.findChild(QLabel, "screenThumbnail")

    async def refused(key):
        raise DriverError(ErrorCode.NO_SUPPORT, "the domain has no graphics device")
    thumb._fetch = refused
    select(window, "web01")
    qtbot.waitUntil(lambda: "graphics" in thumb.text(), timeout=5000)
    assert not thumb.has_picture
    assert thumb.text().startswith("No picture: ") and "failed" not in thumb.text(), thumb.text()
