"""Single instance: a second launch hands its arguments to the first and exits."""
from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from desktop_support import python_env

from vmgui import single_instance
from vmgui.single_instance import SingleInstance, SingleInstanceError, raise_window

SECOND = """
import sys
from PySide6.QtCore import QCoreApplication
from vmgui.single_instance import SingleInstance
app = QCoreApplication(sys.argv[:1])
inst = SingleInstance(runtime_base=sys.argv[1])
sys.exit(0 if inst.claim(sys.argv[2:]) else 3)
"""


@pytest.fixture
def base() -> Iterator[str]:
    # Short on purpose: AF_UNIX paths are limited to 107 bytes.
    with tempfile.TemporaryDirectory(prefix="vmgui-si-") as d:
        yield d


@pytest.fixture
def primary(qapp, base: str) -> Iterator[SingleInstance]:
    inst = SingleInstance(runtime_base=base)
    assert inst.claim([]) is True and inst.is_primary
    yield inst
    inst.close()


def test_second_instance_in_process_hands_over(qtbot, primary: SingleInstance, base: str,
                                               monkeypatch) -> None:
    monkeypatch.setenv("XDG_ACTIVATION_TOKEN", "token-123")
    second = SingleInstance(runtime_base=base)
    with qtbot.waitSignal(primary.activation_requested, timeout=3000) as blocker:
        assert second.claim(["--connect", "test:///default"]) is False
    assert blocker.args == [["--connect", "test:///default"], "token-123"]
    assert not second.is_primary


def test_second_process_exits_and_first_is_asked_to_show(qtbot, primary: SingleInstance,
                                                         base: str) -> None:
    got: list[list[str]] = []
    primary.activation_requested.connect(lambda argv, token: got.append(argv))
    env = python_env()
    env.pop("XDG_ACTIVATION_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-c", SECOND, base, "--connect", "qemu:///embed"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=20000)
    finally:
        if proc.poll() is None:
            proc.kill()
    out, err = proc.communicate()
    assert proc.returncode == 3, err
    qtbot.waitUntil(lambda: got == [["--connect", "qemu:///embed"]], timeout=2000)


def test_stale_socket_is_taken_over(qapp, base: str) -> None:
    path = single_instance.socket_path(base)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))          # a socket file nobody listens on: a crashed vmgui
    dead.close()
    assert path.exists()
    inst = SingleInstance(runtime_base=base)
    try:
        assert inst.claim([]) is True and inst.is_primary
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.connect(str(path))  # now someone listens
        probe.close()
    finally:
        inst.close()
    assert not path.exists()      # closing removes the socket


def test_killed_first_process_leaves_a_takeover_socket(qapp, base: str) -> None:
    code = ("import sys, os\nfrom PySide6.QtCore import QCoreApplication\n"
            "from vmgui.single_instance import SingleInstance\n"
            "app = QCoreApplication([])\ni = SingleInstance(runtime_base=sys.argv[1])\n"
            "assert i.claim([])\nprint('ready', flush=True)\nos.kill(os.getpid(), 9)\n")
    res = subprocess.run([sys.executable, "-c", code, base], env=python_env(),
                         capture_output=True, text=True, timeout=30, check=False)
    assert res.stdout.strip() == "ready" and res.returncode == -9, res.stderr
    assert single_instance.socket_path(base).exists()
    inst = SingleInstance(runtime_base=base)
    try:
        assert inst.claim([]) is True and inst.is_primary
    finally:
        inst.close()


def test_runtime_dir_is_private(base: str) -> None:
    path = single_instance.runtime_dir(base)
    assert path == Path(base) / "vmgui"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    path.chmod(0o755)             # loosened by someone: tightened again
    assert stat.S_IMODE(single_instance.runtime_dir(base).stat().st_mode) == 0o700


def test_runtime_dir_defaults(monkeypatch, base: str) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", base)
    assert single_instance.runtime_dir() == Path(base) / "vmgui"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    fallback = single_instance.runtime_dir()
    assert fallback == Path(tempfile.gettempdir()) / f"vmgui-{os.getuid()}"
    assert fallback.stat().st_uid == os.getuid()


def test_unsafe_runtime_dir_is_refused_but_vmgui_still_starts(qapp, base: str,
                                                              tmp_path: Path) -> None:
    os.symlink(tmp_path, Path(base) / "vmgui")   # a symlink planted by someone else
    with pytest.raises(SingleInstanceError):
        single_instance.runtime_dir(base)
    inst = SingleInstance(runtime_base=base)
    assert inst.claim([]) is True                 # start anyway, just not single-instance
    assert not inst.is_primary


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to chown the directory to another user")
def test_runtime_dir_of_another_user_is_refused(base: str) -> None:
    path = Path(base) / "vmgui"
    path.mkdir(mode=0o700)
    os.chown(path, 65534, 65534)
    with pytest.raises(SingleInstanceError, match="belongs to uid 65534"):
        single_instance.runtime_dir(base)


def test_socket_name_depends_on_display(monkeypatch, base: str) -> None:
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    zero = single_instance.socket_path(base)
    monkeypatch.setenv("DISPLAY", ":1")
    assert single_instance.socket_path(base) != zero
    assert zero.name == "org.vmgui.VMGui-_0.sock"


def test_garbage_is_refused(qtbot, primary: SingleInstance) -> None:
    from PySide6.QtNetwork import QLocalSocket

    emitted: list[object] = []
    primary.activation_requested.connect(lambda *a: emitted.append(a))
    sock = QLocalSocket()
    sock.connectToServer(str(primary.path))
    qtbot.waitUntil(lambda: sock.state() == QLocalSocket.LocalSocketState.ConnectedState
                    or sock.bytesAvailable() > 0, timeout=2000)
    sock.write(b'{"command": "format-disk"}\n')
    qtbot.waitUntil(lambda: sock.bytesAvailable() > 0, timeout=2000)
    assert bytes(sock.readAll().data()) == b"error\n"
    assert emitted == []


def test_raise_window_restores_a_minimised_window(qtbot, monkeypatch) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QWidget

    monkeypatch.delenv("XDG_ACTIVATION_TOKEN", raising=False)
    window = QWidget()
    qtbot.addWidget(window)
    window.showMinimized()
    raise_window(window, "tok")
    assert window.isVisible()
    assert not window.windowState() & Qt.WindowState.WindowMinimized
    assert os.environ.get("XDG_ACTIVATION_TOKEN") == "tok"


def test_claim_needs_an_application(monkeypatch) -> None:
    from PySide6.QtCore import QCoreApplication

    if QCoreApplication.instance() is not None:
        monkeypatch.setattr(single_instance.QCoreApplication, "instance", lambda: None)
    with pytest.raises(RuntimeError):
        SingleInstance().claim([])


def test_environment_variable_turns_it_off(primary: SingleInstance, base: str,
                                           monkeypatch) -> None:
    monkeypatch.setenv("VMGUI_SINGLE_INSTANCE", "0")
    independent = SingleInstance(runtime_base=base)
    assert independent.claim([]) is True and not independent.is_primary
    assert primary.is_primary
