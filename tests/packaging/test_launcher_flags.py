"""``vmgui --install-desktop`` / ``--uninstall-desktop`` put vmgui in (and take it out of) the menu."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vmgui.appid import APP_ID

ROOT = Path(__file__).resolve().parents[2]


def run(flag: str, data_home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_DATA_HOME=str(data_home), QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "vmgui", flag], capture_output=True, text=True, env=env,
                          timeout=120, cwd=ROOT)


def test_install_and_uninstall_through_the_launcher(tmp_path):
    result = run("--install-desktop", tmp_path)
    assert result.returncode == 0, result.stderr
    desktop = tmp_path / "applications" / f"{APP_ID}.desktop"
    assert desktop.exists() and "Exec=" in desktop.read_text()
    assert (tmp_path / "metainfo" / f"{APP_ID}.metainfo.xml").exists()
    assert list((tmp_path / "icons" / "hicolor").rglob(f"{APP_ID}.*"))
    result = run("--uninstall-desktop", tmp_path)
    assert result.returncode == 0, result.stderr
    assert not desktop.exists() and not list((tmp_path / "icons").rglob(f"{APP_ID}.*"))
