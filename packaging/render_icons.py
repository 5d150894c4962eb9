#!/usr/bin/env python3
"""Regenerate the checked-in desktop files from vmgui/desktop.py (the single source).

    python packaging/render_icons.py

Renders the embedded SVG icon with QtSvg (PySide6) to the hicolor PNG sizes
(packaging/icons/hicolor/<size>x<size>/apps/<app-id>.png), and rewrites the
scalable icon (packaging/icons/hicolor/scalable/apps/ and
resources/icons/vmgui.svg), the .desktop launcher and the AppStream metainfo
in packaging/. Commit the result; tests/packaging checks it is up to date.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from vmgui.desktop import export_packaging  # noqa: E402


def main() -> int:
    for path in export_packaging(ROOT / "packaging", ROOT / "resources"):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
