"""The entry point: main(argv) runs the real loop, reuses QApplication, falls back visibly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from vmgui import app as vmgui_app

ROOT = Path(__file__).resolve().parents[2]


def close_when(predicate, seen: dict, qapp) -> None:
    """Poll for the main window; record what it shows, then close it."""
    def poll() -> None:
        windows = [w for w in qapp.topLevelWidgets() if w.objectName() == "mainWindow" and w.isVisible()]
        if windows and predicate(windows[0]):
            seen["window"] = windows[0]
            seen["rows"] = windows[0].table.model().rowCount()
            seen["messages"] = [m.full_text() for m in windows[0].session.messages.messages()]
            windows[0].close()
            return
        QTimer.singleShot(20, poll)
    QTimer.singleShot(0, poll)


def test_main_runs_until_the_window_closes(qapp, node_uri, make_node, tmp_path, monkeypatch):
    monkeypatch.setenv("VMGUI_SETTINGS", str(tmp_path / "s.ini"))
    other = make_node(5)
    seen: dict = {}
    close_when(lambda w: w.table.model().rowCount() == 13, seen, qapp)
    assert vmgui_app.main(["--connect", node_uri, "--connect", other]) == 0
    assert seen["rows"] == 13
    assert QApplication.instance() is qapp  # reused, not a second application


def test_ctrl_c_in_the_terminal_closes_the_window(qapp, node_uri, tmp_path, monkeypatch):
    monkeypatch.setenv("VMGUI_SETTINGS", str(tmp_path / "s.ini"))
    before = signal.getsignal(signal.SIGINT)
    sent: list[bool] = []

    def interrupt_once_shown() -> None:
        windows = [w for w in qapp.topLevelWidgets() if w.objectName() == "mainWindow" and w.isVisible()]
        if windows and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)
        if not sent:
            QTimer.singleShot(20, interrupt_once_shown)
    QTimer.singleShot(0, interrupt_once_shown)
    unheard: list[bool] = []

    def close_it_ourselves() -> None:  # so a Ctrl+C nobody handles fails the test instead of hanging it
        for w in qapp.topLevelWidgets():
            if w.objectName() == "mainWindow" and w.isVisible():
                unheard.append(True)
                w.close()
    QTimer.singleShot(30000, close_it_ourselves)
    assert vmgui_app.main(["--connect", node_uri]) == 0
    assert sent and not unheard
    assert signal.getsignal(signal.SIGINT) is before  # the terminal's Ctrl+C is the shell's again


def test_default_falls_back_to_the_demo_host_with_a_message(qapp, tmp_path, monkeypatch):
    monkeypatch.setenv("VMGUI_SETTINGS", str(tmp_path / "s.ini"))
    monkeypatch.setattr(vmgui_app, "default_uri", lambda: ("test:///missing/embed.xml", "embedded QEMU"))
    seen: dict = {}
    close_when(lambda w: w.session.connections.get("test:///default") is not None
               and w.session.connections.get("test:///default").ready, seen, qapp)
    assert vmgui_app.main([]) == 0
    assert any("showing the demo host test:///default instead" in m for m in seen["messages"])
    assert seen["window"].session.connections.get("test:///missing/embed.xml") is None


def test_default_uri_names_the_reason():
    uri, why = vmgui_app.default_uri()
    assert uri in ("qemu:///embed", "test:///default") and why


def test_command_line_usage(capsys):
    assert vmgui_app.main(["--help"]) == 0
    assert "--connect" in capsys.readouterr().out
    assert vmgui_app.main(["--bogus"]) == 2


def test_dash_c_and_version_as_virsh_has_them(capsys):
    assert vmgui_app.parse_args(["-c", "test:///default", "--connect", "qemu:///embed"]).connect == [
        "test:///default", "qemu:///embed"]
    try:
        vmgui_app.parse_args(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert capsys.readouterr().out.strip() == f"vmgui {vmgui_app.version()}"
    assert vmgui_app.version() != "unknown"  # the test environment installs the package


def test_libvirt_default_uri_always_means_libvirt(monkeypatch):
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI", raising=False)
    assert vmgui_app.libvirt_default_uri() is None
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "qemu:///session")
    assert vmgui_app.libvirt_default_uri() == "qemu:///session"
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "test:///default")
    assert vmgui_app.libvirt_default_uri() == "libvirt:test:///default"


def test_libvirt_default_uri_opens_beside_the_default(qapp, tmp_path, monkeypatch):
    monkeypatch.setenv("VMGUI_SETTINGS", str(tmp_path / "s.ini"))
    monkeypatch.setattr(vmgui_app, "default_uri", lambda: ("test:///default", "the demo host"))
    monkeypatch.setattr(vmgui_app, "libvirt_default_uri", lambda: "test:///missing/libvirt-env.xml")
    seen: dict = {}
    close_when(lambda w: w.session.connections.get("test:///missing/libvirt-env.xml") is not None
               and w.session.connections.get("test:///default") is not None, seen, qapp)
    assert vmgui_app.main([]) == 0


def test_python_dash_m_vmgui_help():
    result = subprocess.run([sys.executable, "-m", "vmgui", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--connect URI" in result.stdout


UNCAUGHT_IN_A_SLOT = r"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from vmgui.app import main

def fail():
    raise RuntimeError("a slot went wrong")

def look():
    boxes = [w for w in app.topLevelWidgets() if w.objectName() == "vmgui-error-box" and w.isVisible()]
    print("BOX", boxes[0].informativeText().replace(chr(10), " ") if boxes else "none", flush=True)
    for w in app.topLevelWidgets():
        if w.objectName() == "mainWindow":
            w.close()

QTimer.singleShot(300, fail)
QTimer.singleShot(1500, look)
sys.argv = ["vmgui", "--connect", sys.argv[1]]
sys.exit(main())
"""


def test_an_uncaught_exception_shows_a_window_naming_the_log(node_uri, tmp_path):
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "VMGUI_SETTINGS": str(tmp_path / "s.ini"),
           "VMGUI_SINGLE_INSTANCE": "0"}
    result = subprocess.run([sys.executable, "-c", UNCAUGHT_IN_A_SLOT, node_uri], capture_output=True, text=True,
                            timeout=120, env=env, cwd=ROOT)
    log = tmp_path / "state" / "vmgui" / "vmgui.log"
    assert "BOX RuntimeError: a slot went wrong" in result.stdout, result.stdout + result.stderr
    assert str(log) in result.stdout
    assert "a slot went wrong" in log.read_text()


EXIT_WITH_A_HUNG_CALL = r"""
import os, sys, threading
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import drivers
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

class Hung(drivers.Connection):
    def register_event_callback(self, fn):
        return 1
    def get_all_domain_stats(self, flags=0):
        threading.Event().wait()  # forever

real_open = drivers.open
drivers.open = lambda uri: Hung(uri) if uri.startswith("hung:") else real_open(uri)
app = QApplication([])
from vmgui.app import main
QTimer.singleShot(1500, lambda: [w.close() for w in app.topLevelWidgets() if w.objectName() == "mainWindow"])
sys.exit(main(["--connect", "hung:///x", "--connect", sys.argv[1]]))
"""


def test_quitting_never_waits_for_a_hung_driver_call(node_uri, tmp_path):
    env = {**os.environ, "VMGUI_SETTINGS": str(tmp_path / "s.ini"), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", EXIT_WITH_A_HUNG_CALL, node_uri], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


DRIVERS_BEFORE_THE_LOOP = r"""
import asyncio, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import qasync
from PySide6.QtWidgets import QApplication
app = QApplication([])
from vmgui import app as vmgui_app
asyncio.set_event_loop(qasync.QEventLoop(app))
window = vmgui_app.start([sys.argv[1], "nosuch:///x"], vmgui_app.open_settings())
print("IMPORTED", *(name for name in ("drivers.test", "drivers.qemu", "drivers.libvirt") if name in sys.modules))
window.session.stop()
"""


def test_the_drivers_of_the_uris_to_open_are_imported_before_the_loop_runs(node_uri, tmp_path):
    """Imported by the first worker instead, a driver's Python would hold the GIL while the window
    first paints; a URI no driver claims is left for opening it to report."""
    env = {**os.environ, "VMGUI_SETTINGS": str(tmp_path / "s.ini"), "VMGUI_SINGLE_INSTANCE": "0"}
    result = subprocess.run([sys.executable, "-c", DRIVERS_BEFORE_THE_LOOP, node_uri], capture_output=True,
                            text=True, timeout=120, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "IMPORTED drivers.test\n" in result.stdout, result.stdout + result.stderr
