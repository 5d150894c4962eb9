"""The checked-in packaging files: up to date, consistent on the app id, and valid."""
from __future__ import annotations

import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from desktop_support import PACKAGING, ROOT, assert_desktop_valid, assert_metainfo_valid, read_desktop
from PySide6.QtGui import QImage

from vmgui import desktop
from vmgui.appid import APP_ID, APP_NAME, EXECUTABLE

DESKTOP = PACKAGING / f"{APP_ID}.desktop"
METAINFO = PACKAGING / f"{APP_ID}.metainfo.xml"
REGENERATE = "out of date: run `python packaging/render_icons.py` and commit the result"


def test_app_id_is_reverse_dns() -> None:
    parts = APP_ID.split(".")
    assert len(parts) >= 3 and all(p.replace("_", "").isalnum() for p in parts)
    assert not parts[0][0].isdigit()


@pytest.mark.parametrize("path", [
    DESKTOP, METAINFO, PACKAGING / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg",
    ROOT / "resources/icons/vmgui.svg",
], ids=lambda p: p.name)
def test_checked_in_text_files_are_generated(path: Path) -> None:
    expected = desktop.packaging_files(PACKAGING, ROOT / "resources")[path]
    assert path.exists(), REGENERATE
    assert path.read_bytes() == expected, f"{path.relative_to(ROOT)} {REGENERATE}"


@pytest.mark.parametrize("size", desktop.ICON_SIZES)
def test_png_icons_are_renders_of_the_svg(size: int) -> None:
    path = PACKAGING / f"icons/hicolor/{size}x{size}/apps/{APP_ID}.png"
    assert path.exists(), REGENERATE
    on_disk = QImage(str(path)).convertToFormat(QImage.Format.Format_ARGB32)
    fresh = QImage.fromData(desktop.render_icon_png(size), "PNG").convertToFormat(
        QImage.Format.Format_ARGB32)
    assert (on_disk.width(), on_disk.height()) == (size, size)
    # Same drawing; allow anti-aliasing to differ slightly between Qt versions.
    off = 0
    for y in range(size):
        for x in range(size):
            a, b = on_disk.pixel(x, y), fresh.pixel(x, y)
            if max(abs(((a >> s) & 0xFF) - ((b >> s) & 0xFF)) for s in (0, 8, 16, 24)) > 24:
                off += 1
    assert off <= size * size // 50, f"{path.name}: {off} pixels differ; {REGENERATE}"
    assert on_disk.hasAlphaChannel() and on_disk.pixelColor(0, size - 1).alpha() == 0


def test_one_app_id_everywhere() -> None:
    entry = read_desktop(DESKTOP)
    assert DESKTOP.stem == APP_ID
    assert entry["Icon"] == APP_ID
    assert entry["Exec"] == EXECUTABLE
    assert entry["Name"] == APP_NAME
    assert entry["Terminal"] == "false"
    assert entry["Categories"] == "System;Emulator;"
    assert entry["StartupWMClass"] == EXECUTABLE

    root = ET.parse(METAINFO).getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    launchable = root.find("launchable")
    assert launchable is not None and launchable.get("type") == "desktop-id"
    assert launchable.text == DESKTOP.name
    assert root.findtext("icon") == APP_ID
    assert root.findtext("provides/binary") == EXECUTABLE
    for size in desktop.ICON_SIZES:
        assert (PACKAGING / f"icons/hicolor/{size}x{size}/apps/{APP_ID}.png").is_file()


def test_metainfo_has_what_software_centres_show() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("summary")
    assert root.findall("description/p") and root.findall("description/ul/li")
    assert root.find("content_rating") is not None
    shots = root.findall("screenshots/screenshot")
    assert [s.findtext("image") for s in shots] == [s.url for s in desktop.SCREENSHOTS]
    assert sum(s.get("type") == "default" for s in shots) == 1
    assert all(s.findtext("image").startswith("https://") for s in shots)
    assert root.findall("releases/release")


def test_newest_release_is_the_project_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert desktop.RELEASES[0].version == project["version"], (
        "add a Release to vmgui/desktop.py RELEASES for the new version")
    assert desktop.PROJECT_LICENSE == project["license"]["text"]  # the AppStream licence is the package's
    dates = [r.date for r in desktop.RELEASES]
    assert dates == sorted(dates, reverse=True)


def test_listed_screenshots_exist() -> None:
    shots_dir = ROOT / "screenshots"
    made = sorted(p.name for p in shots_dir.glob("*.png"))
    if not made:
        pytest.skip("no screenshots made yet (python screenshots/make_screenshots.py)")
    missing = [s.file for s in desktop.SCREENSHOTS if s.file not in made]
    assert not missing, f"metainfo lists screenshots that screenshots/ lacks: {missing}"


def test_icon_svg_is_valid() -> None:
    from PySide6.QtCore import QByteArray
    from PySide6.QtSvg import QSvgRenderer

    root = ET.fromstring(desktop.ICON_SVG.encode())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 128 128"
    renderer = QSvgRenderer(QByteArray(desktop.ICON_SVG.encode()))
    assert renderer.isValid()


def test_desktop_file_validates() -> None:
    assert_desktop_valid(DESKTOP)


def test_metainfo_validates() -> None:
    assert_metainfo_valid(METAINFO)
