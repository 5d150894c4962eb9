"""Logging to the XDG state directory, and errors shown in a window.

Launched from the desktop menu, vmgui has no terminal: a traceback on
stderr would vanish. So, first thing in ``main()``::

    log_file = logsetup.setup_logging()   # $XDG_STATE_HOME/vmgui/vmgui.log, rotated
    logsetup.install_excepthook()         # uncaught errors -> log + QMessageBox
    ...
    logsetup.install_asyncio_handler(loop)  # the qasync loop's lost task errors too

* :func:`setup_logging` logs to ``$XDG_STATE_HOME/vmgui/vmgui.log``
  (``~/.local/state/vmgui/vmgui.log``), rotated at 1 MiB with 3 old files
  kept, also to stderr when stderr is a terminal, routes Qt's own warnings
  into the log, and writes native crash tracebacks (segfaults) to
  ``crash.log`` next to it.
* :func:`install_excepthook` replaces ``sys.excepthook`` and
  ``threading.excepthook``: an uncaught exception is logged with its
  traceback and shown in a message box (summary, "Details..." with the
  traceback, the log file's path). Exceptions from worker threads are shown
  by the GUI thread. While a box is open, further errors are counted in it
  rather than stacking up more boxes. Before a ``QApplication`` exists (an
  error during start-up), a box is still shown if a display is available.
"""
from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import os
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from vmgui.appid import APP_NAME, DIR_NAME
from vmgui.textmark import N_, NP_

if TYPE_CHECKING:  # Qt is imported where it is used: logging starts before Qt does
    from asyncio import AbstractEventLoop

    from PySide6.QtCore import QCoreApplication, QMessageLogContext, QtMsgType

log = logging.getLogger("vmgui")

LOG_FILE_NAME = "vmgui.log"
CRASH_FILE_NAME = "crash.log"
MAX_BYTES = 1024 * 1024
BACKUP_COUNT = 3
LOG_FORMAT = "%(asctime)s %(process)d %(levelname)-8s %(threadName)s %(name)s: %(message)s"

_state: dict[str, object] = {}


def xdg_state_home() -> Path:
    """``$XDG_STATE_HOME`` if set to an absolute path, else ``~/.local/state``."""
    value = os.environ.get("XDG_STATE_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".local" / "state"


def log_dir(state_home: str | os.PathLike[str] | None = None) -> Path:
    base = Path(state_home) if state_home is not None else xdg_state_home()
    return base / DIR_NAME


def log_file_path() -> Path | None:
    """The log file :func:`setup_logging` opened, or None before it ran."""
    path = _state.get("log_file")
    return path if isinstance(path, Path) else None


class _Handler(logging.handlers.RotatingFileHandler):
    """Marks the handler as ours so a second setup_logging() replaces it."""


def setup_logging(level: int = logging.INFO, *, state_home: str | os.PathLike[str] | None = None,
                  console: bool | None = None, capture_qt: bool = True,
                  crash_log: bool = True) -> Path | None:
    """Configure the root logger; returns the log file path (None if unwritable).

    ``console`` defaults to "stderr is a terminal". Calling it again replaces
    the previous configuration (tests, or a later ``--debug``).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_vmgui", False):
            root.removeHandler(handler)
            handler.close()
    formatter = logging.Formatter(LOG_FORMAT)
    wanted = log_dir(state_home) / LOG_FILE_NAME
    path: Path | None = wanted
    try:
        wanted.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        file_handler = _Handler(wanted, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT,
                                encoding="utf-8", delay=False)
    except OSError as exc:
        print(f"{APP_NAME}: cannot write the log file {path}: {exc}", file=sys.stderr)
        path = None
        console = True if console is None else console
    else:
        file_handler.setFormatter(formatter)
        file_handler._vmgui = True  # type: ignore[attr-defined]
        root.addHandler(file_handler)
    if console is None:
        console = _isatty(sys.stderr)
    if console and sys.stderr is not None:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        stream._vmgui = True  # type: ignore[attr-defined]
        root.addHandler(stream)
    root.setLevel(level)
    logging.captureWarnings(True)
    _state["log_file"] = path
    if capture_qt:
        _install_qt_message_handler()
    if crash_log and path is not None:
        _enable_faulthandler(path.parent / CRASH_FILE_NAME)
    if path is not None:
        log.info("%s starting, pid %d, log %s", APP_NAME, os.getpid(), path)
    return path


def _isatty(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):
        return False


def _enable_faulthandler(path: Path) -> None:
    old = _state.pop("crash_file", None)
    try:
        crash_file = open(path, "a", encoding="utf-8")
    except OSError:
        return
    faulthandler.enable(file=crash_file, all_threads=True)
    _state["crash_file"] = crash_file
    if old is not None:
        old.close()  # type: ignore[attr-defined]


def _install_qt_message_handler() -> None:
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    qt_log = logging.getLogger("qt")
    levels = {
        QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
        QtMsgType.QtFatalMsg: logging.CRITICAL,
    }

    def handler(msg_type: QtMsgType, context: QMessageLogContext, message: str) -> None:
        category = getattr(context, "category", None) or "qt"
        qt_log.log(levels.get(msg_type, logging.WARNING), "[%s] %s", category, message)

    _state["qt_handler"] = handler  # keep a reference
    _state["previous_qt_handler"] = qInstallMessageHandler(handler)


def restore_qt_message_handler() -> None:
    """Give Qt's messages back to the handler active before setup_logging()."""
    from PySide6.QtCore import qInstallMessageHandler

    if "qt_handler" in _state:
        qInstallMessageHandler(_state.pop("previous_qt_handler", None))  # type: ignore[arg-type]
        _state.pop("qt_handler", None)


# ---------------------------------------------------------------------------
# Errors in a window
# ---------------------------------------------------------------------------

def format_exception(exc_type: type[BaseException], exc: BaseException,
                     tb: TracebackType | None) -> tuple[str, str]:
    """(one-line summary, full traceback text)."""
    summary = "".join(traceback.format_exception_only(exc_type, exc)).strip()
    details = "".join(traceback.format_exception(exc_type, exc, tb))
    return summary, details


#: The translation context of the error windows' text.
ERROR_CONTEXT = "ErrorWindow"


class _ErrorReporter:
    """Shows error boxes from the GUI thread; one box at a time."""

    def __init__(self) -> None:
        self.box: Any = None          # the open QMessageBox
        self.closed_box: Any = None   # the last one closed, deleted later (see _closed)
        self.extra = 0           # errors that arrived while it was open
        self.bridge: Any = None  # a QObject in the GUI thread, for other threads (its class is made on first use)
        self.shown = 0           # boxes shown (tests)
        self.lock = threading.Lock()
        self.hooked_app = 0      # id() of the QApplication whose aboutToQuit discards the box
        self.text = ""           # the open box's informative text

    def report(self, summary: str, details: str) -> None:
        """Show the error; callable from any thread."""
        try:
            from PySide6.QtCore import QCoreApplication
            from PySide6.QtWidgets import QApplication
        except ImportError:  # pragma: no cover - Qt missing: the log has it
            return
        app = QCoreApplication.instance()
        if app is None:
            self._show_without_app(summary, details)
            return
        if not isinstance(app, QApplication):
            return  # a QCoreApplication cannot show widgets
        # Always queued, also from the GUI thread: the box is built from the event
        # loop, not inside the Qt callback that just failed.
        self._bridge(app).error.emit(summary, details)

    def _bridge(self, app: QCoreApplication) -> Any:
        """A QObject in the GUI thread whose queued signal carries errors there."""
        with self.lock:
            if self.bridge is None:
                from PySide6.QtCore import QObject, Qt, Signal, Slot

                reporter = self

                class Bridge(QObject):
                    error = Signal(str, str)

                    @Slot(str, str)
                    def show_error(self, summary: str, details: str) -> None:
                        reporter._show(summary, details)

                bridge = Bridge()
                bridge.moveToThread(app.thread())
                bridge.error.connect(bridge.show_error, Qt.ConnectionType.QueuedConnection)
                self.bridge = bridge
            return self.bridge

    def _text(self, summary: str) -> str:
        """``summary``, and where the details are once there is a log file (marked text)."""
        path = log_file_path()
        return summary if path is None else N_("{summary}\n\nThe details are in the log file:\n{path}",
                                               summary=summary, path=str(path))

    def _show(self, summary: str, details: str) -> None:
        from PySide6.QtCore import QCoreApplication, Qt
        from PySide6.QtWidgets import QMessageBox

        from .i18n import translate  # Qt's, so imported where it is used as Qt is

        if self.box is not None:
            self.extra += 1
            self.box.setInformativeText(translate(ERROR_CONTEXT, NP_(
                "{text}\n\n%n more error occurred since; it is in the log file too.",
                "{text}\n\n%n more errors occurred since; they are in the log file too.", self.extra, text=self.text)))
            return
        box = QMessageBox(QMessageBox.Icon.Critical,
                          translate(ERROR_CONTEXT, N_("{app}: unexpected error", app=APP_NAME)),
                          translate(ERROR_CONTEXT, N_("{app} hit an error it did not expect. You can go on working, "
                                                      "but what you were doing may not have completed.",
                                                      app=APP_NAME)))
        self.text = translate(ERROR_CONTEXT, self._text(summary))
        box.setInformativeText(self.text)
        box.setDetailedText(details)
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setObjectName("vmgui-error-box")
        box.finished.connect(self._closed)
        self.box = box
        self.extra = 0
        self.shown += 1
        app = QCoreApplication.instance()
        if app is not None and id(app) != self.hooked_app:
            # A widget must not outlive the QApplication (a crash at exit).
            app.aboutToQuit.connect(self.discard)
            self.hooked_app = id(app)
        # Non-modal show(): no nested event loop inside the code that failed.
        box.show()

    def _closed(self, *_args: object) -> None:
        # Not deleted here: dropping the last reference inside the box's own
        # ``finished`` signal would free it mid-emission. The closed box waits
        # in ``closed_box`` until the next one closes or the app quits.
        self.closed_box, self.box = self.box, None
        self.extra = 0

    def discard(self) -> None:
        """Delete an open box now, while the QApplication still exists."""
        import shiboken6

        for box in (self.box, self.closed_box):
            if box is not None and shiboken6.isValid(box):
                box.finished.disconnect(self._closed)
                box.hide()
                shiboken6.delete(box)
        self.box = self.closed_box = None

    def _show_without_app(self, summary: str, details: str) -> None:
        """An error before the QApplication exists (start-up): a modal box, if possible."""
        if threading.current_thread() is not threading.main_thread():
            return
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("QT_QPA_PLATFORM")):
            return  # no display: creating a QApplication would abort the process
        from PySide6.QtWidgets import QApplication, QMessageBox

        from .i18n import translate  # Qt's, so imported where it is used as Qt is

        app = QApplication([sys.argv[0] if sys.argv else APP_NAME])  # noqa: F841
        box = QMessageBox(QMessageBox.Icon.Critical,
                          translate(ERROR_CONTEXT, N_("{app} could not start", app=APP_NAME)),
                          translate(ERROR_CONTEXT, N_("{app} could not start because of an error.", app=APP_NAME)))
        box.setInformativeText(translate(ERROR_CONTEXT, self._text(summary)))
        box.setDetailedText(details)
        box.setObjectName("vmgui-error-box")
        self.shown += 1
        box.exec()


_reporter = _ErrorReporter()


def excepthook(exc_type: type[BaseException], exc: BaseException,
               tb: TracebackType | None) -> None:
    """``sys.excepthook``: log the error and show it in a message box."""
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    summary, details = format_exception(exc_type, exc, tb)
    log.critical("uncaught exception: %s", summary, exc_info=(exc_type, exc, tb))
    if not _has_our_console_handler() and _isatty(sys.stderr):
        sys.stderr.write(details)
    try:
        _reporter.report(summary, details)
    except Exception:
        log.exception("could not show the error window")


def _threading_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    thread = args.thread.name if args.thread is not None else "?"
    if args.exc_value is None:
        return
    log.critical("uncaught exception in thread %s", thread,
                 exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
    summary, details = format_exception(args.exc_type, args.exc_value, args.exc_traceback)
    try:
        _reporter.report(f"{summary}\n(in thread {thread})", details)
    except Exception:
        log.exception("could not show the error window")


def _has_our_console_handler() -> bool:
    return any(getattr(h, "_vmgui", False) and not isinstance(h, _Handler)
               for h in logging.getLogger().handlers)


def install_excepthook() -> None:
    """Route uncaught exceptions (main and other threads) to the log and a window."""
    _state.setdefault("previous_hooks", (sys.excepthook, threading.excepthook))
    sys.excepthook = excepthook
    threading.excepthook = _threading_excepthook


def asyncio_exception_handler(loop: AbstractEventLoop, context: dict[str, Any]) -> None:
    """``loop.set_exception_handler()`` handler: errors of asyncio tasks (qasync)
    that nobody awaited are logged and shown like any uncaught exception."""
    exc = context.get("exception")
    message = context.get("message", "unhandled error in an asyncio task")
    if exc is None:
        log.error("asyncio: %s", message)
        return
    if isinstance(exc, KeyboardInterrupt):
        return
    summary, details = format_exception(type(exc), exc, exc.__traceback__)
    log.critical("asyncio: %s: %s", message, summary,
                 exc_info=(type(exc), exc, exc.__traceback__))
    try:
        _reporter.report(summary, details)
    except Exception:
        log.exception("could not show the error window")


def install_asyncio_handler(loop: AbstractEventLoop) -> None:
    """Route the asyncio (qasync) loop's unhandled task errors to the log and a window."""
    loop.set_exception_handler(asyncio_exception_handler)


def uninstall_excepthook() -> None:
    hooks = _state.pop("previous_hooks", None)
    if hooks is not None:
        sys.excepthook, threading.excepthook = hooks  # type: ignore[misc]
