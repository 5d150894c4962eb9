"""Packaging tests need an offscreen Qt; helpers live in desktop_support.py."""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest

HERE = Path(__file__).resolve().parent
# The offscreen platform plugin says these for top-level windows; they are not our bugs.
OFFSCREEN_NOISE = ("This plugin does not support propagateSizeHints",
                   r"This plugin does not support raise\(\)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            # pytest-qt reads only the closest qt_log_ignore marker: put ours first.
            item.add_marker(pytest.mark.qt_log_ignore(*OFFSCREEN_NOISE), append=False)
