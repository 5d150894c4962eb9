"""Jobs that end while the window is in the background reach the desktop's notification server.

The server is dunst, a real implementation of org.freedesktop.Notifications, on a private
session bus (its own dbus-daemon) with its own X display (Xvfb), so nothing here touches
the desktop of whoever runs the tests.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtWidgets import QSystemTrayIcon

from drivers import JobOperation, JobState
from vmgui import notifications
from vmgui.actions.requests import Save
from vmgui.notifications import Notice, NotificationsUnavailable
from vmgui.views import mainwindow

TOOLS = ("Xvfb", "dbus-daemon", "dunst", "dunstctl")


@dataclass
class NotificationServer:
    address: str
    env: dict[str, str]

    def received(self) -> list[dict[str, object]]:
        """Every notification the server was sent: dunst lists them once they are closed."""
        subprocess.run(["dunstctl", "close-all"], env=self.env, check=True, timeout=10)
        time.sleep(0.2)
        out = subprocess.run(["dunstctl", "history"], env=self.env, check=True, timeout=10,
                             capture_output=True, text=True).stdout
        return [{key: field["data"] for key, field in entry.items()} for entry in json.loads(out)["data"][0]]


def _start(argv: list[str], env: dict[str, str], procs: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    procs.append(proc)
    return proc


@pytest.fixture
def notification_server(tmp_path: Path) -> Iterator[NotificationServer]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian: xvfb, dbus-daemon, dunst; tests/run_all.sh installs them)")
    procs: list[subprocess.Popen[bytes]] = []
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    try:
        xvfb = _start(["Xvfb", "-displayfd", "1", "-screen", "0", "640x480x24", "-nolisten", "tcp"], env, procs)
        assert xvfb.stdout is not None
        env["DISPLAY"] = ":" + xvfb.stdout.readline().decode().strip()
        bus = _start(["dbus-daemon", "--session", "--nofork", "--print-address=1",
                      f"--address=unix:path={tmp_path / 'bus'}"], env, procs)
        assert bus.stdout is not None
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().decode().strip()
        config = tmp_path / "dunstrc"
        config.write_text("[global]\n    history_length = 50\n", encoding="utf-8")
        _start(["dunst", "-config", str(config)], env, procs)
        server = NotificationServer(env["DBUS_SESSION_BUS_ADDRESS"], env)
        deadline = time.monotonic() + 20
        while subprocess.run(["dunstctl", "count", "displayed"], env=env, capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, "dunst did not take the notification service"
            time.sleep(0.1)
        yield server
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(10)


def test_a_notice_reaches_the_server_with_the_app_s_name_and_urgency(notification_server):
    ident = notifications.send(Notice("Job failed", "The backup of db01 failed: disk full.", urgency=2),
                               bus=notification_server.address)
    assert ident > 0
    (shown,) = notification_server.received()
    assert shown["appname"] == "vmgui"
    assert shown["summary"] == "Job failed"
    assert shown["body"] == "The backup of db01 failed: disk full."
    assert shown["timeout"] == 0  # dunst keeps critical notices (a failed job) until dismissed


def test_no_server_on_the_bus_is_a_typed_error_not_a_hang(tmp_path):
    started = time.monotonic()
    with pytest.raises(NotificationsUnavailable):
        notifications.send(Notice("x", "y"), bus=f"unix:path={tmp_path / 'no-bus'}")
    assert time.monotonic() - started < notifications.TIMEOUT_S + 1


def key_of(window, uri: str, name: str) -> tuple[str, str]:
    return uri, window.session.bridge.connection(uri).lookup_by_name(name).uuid


def save_in_the_background(open_window, node_uri: str, monkeypatch):
    """A window that is not the active one, saving the guest "test" as a job long enough to be announced."""
    fast = f"{node_uri}?rate=4096"
    window = open_window(fast)
    monkeypatch.setattr(mainwindow, "LONG_JOB_S", 0.0)
    monkeypatch.setattr(window, "isActiveWindow", lambda: False)
    window.commands.run(Save(), [key_of(window, fast, "test")])
    return window


def test_a_job_that_ends_in_the_background_is_a_desktop_notification(
        open_window, node_uri, qtbot, monkeypatch, notification_server):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", notification_server.address)
    window = save_in_the_background(open_window, node_uri, monkeypatch)

    def saved() -> bool:
        rows = [r for r in window.session.jobs.rows() if r.info.operation is JobOperation.SAVE]
        return bool(rows) and rows[0].info.state is JobState.COMPLETED
    qtbot.waitUntil(saved, timeout=10000)
    qtbot.waitUntil(lambda: bool(window.notices))
    deadline = time.monotonic() + 10
    while not (shown := notification_server.received()):
        assert time.monotonic() < deadline, "no notification arrived"
        qtbot.wait(100)
    assert [(n["summary"], n["body"]) for n in shown] == [("Job finished", "The save of test finished.")]
    assert shown[0]["timeout"] > 0  # a finished job is normal urgency: it goes away by itself
    assert window.session.messages.messages() == []  # the desktop said it: no second notice in the window


def test_without_a_notification_server_the_window_says_it_instead(open_window, node_uri, qtbot, monkeypatch):
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: False))
    window = save_in_the_background(open_window, node_uri, monkeypatch)
    qtbot.waitUntil(lambda: any(m.title == "Job finished while you were away"
                                for m in window.session.messages.messages()), timeout=10000)


# The offscreen platform has no tray to dock into; Qt says so once when the icon is made.
@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints",
                           "No such signal QPlatformNativeInterface::systemTrayWindowChanged")
def test_the_tray_icon_is_only_a_fallback_and_has_a_menu(open_window, node_uri, qtbot, monkeypatch):
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    window = save_in_the_background(open_window, node_uri, monkeypatch)
    qtbot.waitUntil(lambda: window.tray is not None, timeout=10000)
    menu = window.tray.contextMenu()
    assert [a.text() for a in menu.actions()] == ["Show vmgui", "Quit"]
    assert window.session.messages.messages() == []
