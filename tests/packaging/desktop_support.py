"""Helpers for the packaging tests: the validators, and subprocesses that import vmgui."""
from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"

#: Where each validator comes from, for the skip message.
TOOL_PACKAGES = {"desktop-file-validate": "desktop-file-utils", "appstreamcli": "appstream"}


def require_tool(name: str) -> str:
    """Path of ``name``; skip when it is missing (fail on CI, which installs it)."""
    path = shutil.which(name)
    if path is None:
        reason = (f"{name} is not installed (Debian package {TOOL_PACKAGES.get(name, name)}; "
                  "bash tests/run_all.sh installs it)")
        if os.environ.get("CI"):
            pytest.fail(reason + " -- CI must install the validators")
        pytest.skip(reason)
    return path


def run_tool(*argv: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    tool = require_tool(str(argv[0]))
    return subprocess.run([tool, *map(str, argv[1:])], capture_output=True, text=True,
                          timeout=60, check=False)


def assert_desktop_valid(path: Path) -> None:
    res = run_tool("desktop-file-validate", path)
    # desktop-file-validate exits 0 with hints only; any output is an error, warning or hint.
    assert res.returncode == 0 and not res.stdout.strip(), res.stdout + res.stderr


def assert_metainfo_valid(path: Path) -> None:
    res = run_tool("appstreamcli", "validate", "--no-net", path)
    assert res.returncode == 0, res.stdout + res.stderr


def python_env(**extra: str) -> dict[str, str]:
    """Environment for a child Python that imports this checkout's vmgui."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.update(extra)
    return env


def run_python(code: str, *args: str, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env if env is not None else python_env(), timeout=timeout,
                          cwd=str(ROOT), check=False)


def read_desktop(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]
