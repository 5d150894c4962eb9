"""Installing into a temporary XDG data directory: what lands there validates, and goes away."""
from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from desktop_support import (
    PACKAGING,
    ROOT,
    assert_desktop_valid,
    assert_metainfo_valid,
    python_env,
    read_desktop,
    run_python,
    run_tool,
)

from vmgui import desktop
from vmgui.appid import APP_ID, EXECUTABLE


def expected_files(base: Path) -> set[Path]:
    files = {base / "applications" / f"{APP_ID}.desktop",
             base / "metainfo" / f"{APP_ID}.metainfo.xml",
             base / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg"}
    files |= {base / f"icons/hicolor/{s}x{s}/apps/{APP_ID}.png" for s in desktop.ICON_SIZES}
    return files


def test_install_into_xdg_data_home_validates(tmp_path: Path, monkeypatch) -> None:
    data_home = tmp_path / "usr" / "share"   # also a tree appstreamcli validate-tree reads
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    written = desktop.install_desktop(exec_command=["/usr/bin/vmgui"])
    assert set(written) == expected_files(data_home) == set(desktop.installed_paths())
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    entry = read_desktop(data_home / "applications" / f"{APP_ID}.desktop")
    assert entry["Exec"] == entry["TryExec"] == "/usr/bin/vmgui"
    assert entry["Icon"] == APP_ID
    assert_desktop_valid(data_home / "applications" / f"{APP_ID}.desktop")
    assert_metainfo_valid(data_home / "metainfo" / f"{APP_ID}.metainfo.xml")
    # The tree as a whole: the metainfo's launchable finds the .desktop, the icon is there.
    res = run_tool("appstreamcli", "validate-tree", "--no-net", tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    # Apart from Exec, the installed files are the checked-in ones.
    assert (data_home / "metainfo" / f"{APP_ID}.metainfo.xml").read_bytes() == \
        (PACKAGING / f"{APP_ID}.metainfo.xml").read_bytes()
    assert (data_home / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg").read_bytes() == \
        (ROOT / "resources/icons/vmgui.svg").read_bytes()


def test_reinstall_updates_and_uninstall_leaves_others_alone(tmp_path: Path) -> None:
    other_icon = tmp_path / "icons/hicolor/48x48/apps/org.example.Other.png"
    other_icon.parent.mkdir(parents=True)
    other_icon.write_bytes(b"not ours")
    other_desktop = tmp_path / "applications/org.example.Other.desktop"
    other_desktop.parent.mkdir(parents=True)
    other_desktop.write_text("[Desktop Entry]\n")

    desktop.install_desktop(tmp_path, exec_command=["vmgui"], refresh_caches=False)
    again = desktop.install_desktop(tmp_path, exec_command=["/opt/vm gui/bin/vmgui"],
                                    refresh_caches=False)
    assert read_desktop(tmp_path / "applications" / f"{APP_ID}.desktop")["Exec"] == \
        '"/opt/vm gui/bin/vmgui"'
    assert not list(tmp_path.rglob(".*.tmp*"))

    removed = desktop.uninstall_desktop(tmp_path, refresh_caches=False)
    assert set(removed) == set(again)
    assert not any(p.exists() for p in again)
    assert other_icon.read_bytes() == b"not ours" and other_desktop.exists()
    assert not (tmp_path / "icons/hicolor/256x256").exists()   # emptied dirs go
    assert (tmp_path / "icons/hicolor").is_dir()                # the theme dir stays
    assert desktop.uninstall_desktop(tmp_path, refresh_caches=False) == []


def test_exec_with_spaces_and_quotes_validates(tmp_path: Path) -> None:
    desktop.install_desktop(tmp_path, exec_command=['/home/a b/it\'s "here"/vmgui'],
                            refresh_caches=False)
    path = tmp_path / "applications" / f"{APP_ID}.desktop"
    assert_desktop_valid(path)


def test_launcher_in_a_virtualenv_gets_an_absolute_exec(tmp_path: Path, monkeypatch) -> None:
    scripts = tmp_path / "venv" / "bin"
    scripts.mkdir(parents=True)
    launcher = scripts / EXECUTABLE
    launcher.write_text("#!/bin/sh\n")
    launcher.chmod(0o755)
    monkeypatch.setattr(desktop.sysconfig, "get_path", lambda name: str(scripts))
    monkeypatch.setattr(desktop.sys, "executable", str(scripts / "python"))
    # Menus do not read a venv's activate script nor ~/.bashrc: absolute path,
    # whether or not the shell running the install has it on $PATH.
    monkeypatch.setenv("PATH", "/nonexistent")
    assert desktop.launcher_command() == [str(launcher)]
    monkeypatch.setenv("PATH", str(scripts))
    assert desktop.launcher_command() == [str(launcher)]
    # In a system directory (a distribution package): the plain name, as checked in.
    monkeypatch.setattr(desktop, "SYSTEM_BIN_DIRS", (str(scripts),))
    assert desktop.launcher_command() == [EXECUTABLE]
    # No launcher in this environment (running from a checkout): the plain name.
    launcher.unlink()
    monkeypatch.setenv("PATH", "/nonexistent")
    assert desktop.launcher_command() == [EXECUTABLE]


def test_exec_quoting_follows_the_spec() -> None:
    entry = desktop.desktop_entry(['/a b/x"y$z`w\\v/100%/vmgui'])
    exec_line = next(line for line in entry.splitlines() if line.startswith("Exec="))
    # Quoted argument: ", `, $ and \ escaped by a backslash, % doubled; then the
    # string-value escaping doubles every backslash once more.
    assert exec_line == 'Exec="/a b/x\\\\"y\\\\$z\\\\`w\\\\\\\\v/100%%/vmgui"'
    assert "\nExec=/usr/bin/vmgui\n" in desktop.desktop_entry(["/usr/bin/vmgui"])


def test_app_icon(qapp) -> None:
    icon = desktop.app_icon()
    assert not icon.isNull()
    assert icon.pixmap(48, 48).width() == 48


def test_command_line_install_and_uninstall(tmp_path: Path) -> None:
    env = python_env(XDG_DATA_HOME=str(tmp_path))
    code = "import sys; from vmgui.desktop import main; sys.exit(main(sys.argv[1:]))"
    res = run_python(code, "install", "--exec", "/usr/bin/vmgui", env=env)
    assert res.returncode == 0, res.stderr
    assert expected_files(tmp_path) <= set(tmp_path.rglob("*"))
    assert f"{APP_ID}.desktop" in res.stdout
    res = run_python(code, "uninstall", env=env)
    assert res.returncode == 0, res.stderr
    assert not any(p.exists() for p in expected_files(tmp_path))


@pytest.mark.skipif(not os.access("/bin/sh", os.X_OK), reason="needs /bin/sh")
def test_install_script(tmp_path: Path) -> None:
    import subprocess

    env = python_env(PYTHON=sys.executable)
    script = PACKAGING / "install.sh"
    res = subprocess.run(["sh", str(script), "install", "--data-home", str(tmp_path)],
                         env=env, capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert expected_files(tmp_path) <= set(tmp_path.rglob("*"))
    assert_desktop_valid(tmp_path / "applications" / f"{APP_ID}.desktop")
    res = subprocess.run(["sh", str(script), "uninstall", "--data-home", str(tmp_path)],
                         env=env, capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert not any(p.exists() for p in expected_files(tmp_path))
    res = subprocess.run(["sh", str(script), "frobnicate"], env=env, capture_output=True,
                         text=True, timeout=60, check=False)
    assert res.returncode == 2 and "usage" in res.stderr
