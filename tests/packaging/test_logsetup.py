"""Logs in the XDG state directory, rotated; uncaught errors shown in a window."""
from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from desktop_support import python_env, run_python

from vmgui import logsetup


@pytest.fixture
def clean_logging() -> Iterator[None]:
    """Undo what setup_logging() and install_excepthook() change process-wide."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hooks = (sys.excepthook, threading.excepthook)
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    root.setLevel(level)
    logging.captureWarnings(False)
    logsetup.restore_qt_message_handler()
    logsetup.uninstall_excepthook()
    sys.excepthook, threading.excepthook = hooks
    logsetup._state.pop("log_file", None)


@pytest.fixture
def reporter(monkeypatch) -> Iterator[logsetup._ErrorReporter]:
    rep = logsetup._ErrorReporter()
    monkeypatch.setattr(logsetup, "_reporter", rep)
    yield rep
    rep.discard()             # delete the boxes while the QApplication exists


def flush() -> None:
    for h in logging.getLogger().handlers:
        h.flush()


def test_log_file_in_xdg_state_home(tmp_path: Path, monkeypatch, clean_logging) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    path = logsetup.setup_logging(console=False, capture_qt=False, crash_log=False)
    assert path == tmp_path / "vmgui" / "vmgui.log" == logsetup.log_file_path()
    assert (tmp_path / "vmgui").stat().st_mode & 0o077 == 0
    logging.getLogger("vmgui.test").warning("hello from the test")
    flush()
    text = path.read_text()
    assert "vmgui starting" in text and "WARNING" in text and "hello from the test" in text


def test_default_state_home(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert logsetup.log_dir() == tmp_path / ".local/state/vmgui"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")
    assert logsetup.log_dir() == tmp_path / ".local/state/vmgui"


def test_log_rotates(tmp_path: Path, monkeypatch, clean_logging) -> None:
    monkeypatch.setattr(logsetup, "MAX_BYTES", 2000)
    path = logsetup.setup_logging(state_home=tmp_path, console=False, capture_qt=False,
                                  crash_log=False)
    for i in range(400):
        logging.getLogger("vmgui.test").info("line %d %s", i, "x" * 40)
    flush()
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["vmgui.log", "vmgui.log.1", "vmgui.log.2", "vmgui.log.3"]
    assert all(p.stat().st_size <= 2100 for p in path.parent.iterdir())


def test_setup_twice_keeps_one_file_handler(tmp_path: Path, clean_logging) -> None:
    before = len(logging.getLogger().handlers)
    logsetup.setup_logging(state_home=tmp_path, console=False, capture_qt=False, crash_log=False)
    logsetup.setup_logging(state_home=tmp_path, console=False, capture_qt=False, crash_log=False)
    assert len(logging.getLogger().handlers) == before + 1


def test_unwritable_state_dir_falls_back_to_stderr(tmp_path: Path, clean_logging) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert logsetup.setup_logging(state_home=blocker, capture_qt=False, crash_log=False) is None


def test_qt_messages_go_to_the_log(qapp, tmp_path: Path, clean_logging) -> None:
    from PySide6.QtCore import qWarning

    path = logsetup.setup_logging(state_home=tmp_path, console=False, crash_log=False)
    qWarning("a message from Qt")  # handled by our handler, so pytest-qt does not see it
    logsetup.restore_qt_message_handler()
    flush()
    assert "a message from Qt" in path.read_text()


def test_uncaught_exception_is_logged_and_shown(qtbot, tmp_path: Path, clean_logging,
                                                reporter) -> None:
    from PySide6.QtWidgets import QMessageBox

    path = logsetup.setup_logging(state_home=tmp_path, console=False, capture_qt=False,
                                  crash_log=False)
    logsetup.install_excepthook()
    assert sys.excepthook is logsetup.excepthook
    try:
        raise ValueError("the disk is made of cheese")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    # Shown from the event loop, not inside the callback that failed.
    qtbot.waitUntil(lambda: reporter.box is not None, timeout=3000)
    box = reporter.box
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert "ValueError: the disk is made of cheese" in box.informativeText()
    assert str(path) in box.informativeText()
    assert "Traceback" in box.detailedText()
    # A second error while the box is open: counted, not a second box.
    try:
        raise KeyError("again")
    except KeyError:
        sys.excepthook(*sys.exc_info())
    qtbot.waitUntil(lambda: "1 more error" in box.informativeText(), timeout=3000)
    assert reporter.shown == 1 and "the disk is made of cheese" in box.informativeText()
    # Closed by its button: gone, and the next error opens a new box.
    box.button(QMessageBox.StandardButton.Close).click()
    assert reporter.box is None and not box.isVisible()
    try:
        raise OSError("third")
    except OSError:
        sys.excepthook(*sys.exc_info())
    qtbot.waitUntil(lambda: reporter.box is not None, timeout=3000)
    assert reporter.shown == 2 and "third" in reporter.box.informativeText()
    flush()
    log_text = path.read_text()
    assert "the disk is made of cheese" in log_text and "Traceback" in log_text


def test_exception_in_a_thread_is_shown_by_the_gui_thread(qtbot, tmp_path: Path, clean_logging,
                                                          reporter) -> None:
    logsetup.setup_logging(state_home=tmp_path, console=False, capture_qt=False, crash_log=False)
    logsetup.install_excepthook()

    def boom() -> None:
        raise RuntimeError("worker failed")

    worker = threading.Thread(target=boom, name="worker-7")
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: reporter.box is not None, timeout=3000)
    assert "worker failed" in reporter.box.informativeText()
    assert "worker-7" in reporter.box.informativeText()
    reporter.box.close()


def test_keyboard_interrupt_is_not_a_dialog(clean_logging, reporter, capsys) -> None:
    logsetup.install_excepthook()
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
    assert reporter.shown == 0
    assert "KeyboardInterrupt" in capsys.readouterr().err


def test_error_at_start_without_a_display_is_logged(tmp_path: Path) -> None:
    """Before any QApplication, with no display: logged, no abort, exit status 1."""
    env = python_env(XDG_STATE_HOME=str(tmp_path))
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(var, None)
    code = ("from vmgui import logsetup\nlogsetup.setup_logging()\nlogsetup.install_excepthook()\n"
            "raise ImportError('no module named frobnicator')\n")
    res = run_python(code, env=env)
    assert res.returncode == 1
    text = (tmp_path / "vmgui" / "vmgui.log").read_text()
    assert "CRITICAL" in text and "no module named frobnicator" in text and "Traceback" in text


def test_native_crash_traceback_goes_to_crash_log(tmp_path: Path) -> None:
    env = python_env(XDG_STATE_HOME=str(tmp_path))
    code = ("import faulthandler\nfrom vmgui import logsetup\nlogsetup.setup_logging()\n"
            "faulthandler._sigsegv()\n")
    res = run_python(code, env=env)
    assert res.returncode != 0
    crash = (tmp_path / "vmgui" / "crash.log").read_text()
    assert "Segmentation fault" in crash or "Fatal Python error" in crash


def test_asyncio_task_errors_are_shown(qtbot, tmp_path: Path, clean_logging, reporter) -> None:
    import asyncio

    path = logsetup.setup_logging(state_home=tmp_path, console=False, capture_qt=False,
                                  crash_log=False)
    loop = asyncio.new_event_loop()
    try:
        logsetup.install_asyncio_handler(loop)

        async def lost() -> None:
            raise OSError("connection to qemu+ssh://far/system dropped")

        task = loop.create_task(lost())
        loop.run_until_complete(asyncio.sleep(0.01))
        assert task.done()
        del task            # never awaited: the loop reports it when the task is freed
        import gc
        gc.collect()
        loop.call_exception_handler({"message": "plain message, no exception"})
    finally:
        loop.close()
    qtbot.waitUntil(lambda: reporter.box is not None, timeout=3000)
    assert "dropped" in reporter.box.informativeText()
    flush()
    text = path.read_text()
    assert "connection to qemu+ssh://far/system dropped" in text
    assert "plain message, no exception" in text


def test_quitting_with_an_error_box_open_does_not_crash(tmp_path: Path) -> None:
    """A QMessageBox that outlives the QApplication, or is freed inside its own
    signal, crashes the process at exit: the reporter must prevent both."""
    code = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox
from vmgui import logsetup

def main():
    logsetup.setup_logging(capture_qt=False)
    logsetup.install_excepthook()
    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.show()
    def fail():
        raise RuntimeError("boom in a slot")
    def close_first_box():
        logsetup._reporter.box.button(QMessageBox.StandardButton.Close).click()
    QTimer.singleShot(50, fail)
    QTimer.singleShot(300, close_first_box)
    QTimer.singleShot(350, fail)          # a second box, left open at exit
    QTimer.singleShot(700, app.quit)
    status = app.exec()
    print("shown", logsetup._reporter.shown, flush=True)
    return status

sys.exit(main())
"""
    res = run_python(code, env=python_env(XDG_STATE_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen"))
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "shown 2"
