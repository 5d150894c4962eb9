"""One vmgui per user and display: a second launch raises the first window.

Usage, after the ``QApplication`` exists and before the main window is built::

    instance = SingleInstance()
    if not instance.claim(sys.argv[1:]):
        return 0                      # the running vmgui was asked to show itself
    window = MainWindow()
    instance.activation_requested.connect(lambda argv, token: raise_window(window, token))

How it works: the first instance listens on a local socket
``<runtime dir>/<APP_ID>[-<display>].sock``, where the runtime dir is
``$XDG_RUNTIME_DIR/vmgui`` (or ``/tmp/vmgui-<uid>`` without one), created
with mode 0700 and checked to belong to the user, and the socket itself is
user-only. A later instance connects, sends one JSON line
``{"command": "activate", "argv": [...], "activation_token": ...}``, waits
for ``ok`` and exits. A socket file nobody listens on (the first instance
crashed) is stale: it is removed and the new instance takes over. A lock
file around "probe, then listen" makes two simultaneous launches agree on
one winner.

``VMGUI_SINGLE_INSTANCE=0`` in the environment turns the behaviour off.
Nothing here ever prevents vmgui from starting: if the runtime dir or the
socket cannot be set up, :meth:`SingleInstance.claim` logs why and returns
``True`` (run without single-instance behaviour).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QByteArray, QCoreApplication, QDeadlineTimer, QEventLoop, QLockFile, QObject, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QWidget

from vmgui.appid import APP_ID, DIR_NAME

log = logging.getLogger(__name__)

#: ``VMGUI_SINGLE_INSTANCE=0`` runs an independent instance (development, demos).
DISABLE_ENV = "VMGUI_SINGLE_INSTANCE"
#: How long a second instance waits for the first to answer, in milliseconds.
DEFAULT_TIMEOUT_MS = 3000
_MAX_MESSAGE = 256 * 1024
#: Longest usable AF_UNIX path on Linux (sun_path is 108 bytes, NUL included).
_MAX_SOCKET_PATH = 107


class SingleInstanceError(OSError):
    """The runtime directory is unsafe or unusable."""


def runtime_dir(base: str | os.PathLike[str] | None = None) -> Path:
    """The per-user runtime directory (mode 0700), created if needed.

    ``base`` defaults to ``$XDG_RUNTIME_DIR`` (``/tmp`` when unset). Raises
    :class:`SingleInstanceError` when the directory is a symlink or belongs
    to another user, so another user can never impersonate vmgui.
    """
    uid = os.getuid()
    if base is None:
        xdg = os.environ.get("XDG_RUNTIME_DIR", "")
        if xdg and os.path.isabs(xdg) and os.path.isdir(xdg):
            path = Path(xdg) / DIR_NAME
        else:
            path = Path(tempfile.gettempdir()) / f"{DIR_NAME}-{uid}"
    else:
        path = Path(base) / DIR_NAME
    try:
        path.mkdir(mode=0o700, parents=False)
    except FileExistsError:
        pass
    except OSError as exc:
        raise SingleInstanceError(f"cannot create {path}: {exc.strerror}") from exc
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise SingleInstanceError(f"{path} is not a directory")
    if st.st_uid != uid:
        raise SingleInstanceError(f"{path} belongs to uid {st.st_uid}, not to uid {uid}")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def _display_suffix() -> str:
    """Distinguish displays: a vmgui on another display is another instance."""
    display = os.environ.get("WAYLAND_DISPLAY") or os.environ.get("DISPLAY") or ""
    if not display:
        return ""
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", display)
    if len(clean) > 24:
        clean = hashlib.sha256(display.encode()).hexdigest()[:16]
    return "-" + clean


def socket_path(base: str | os.PathLike[str] | None = None, key: str = APP_ID) -> Path:
    path = runtime_dir(base) / f"{key}{_display_suffix()}.sock"
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        short = hashlib.sha256(os.fsencode(path)).hexdigest()[:12]
        path = path.with_name(f"vmgui-{short}.sock")
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        raise SingleInstanceError(f"socket path too long for AF_UNIX: {path}")
    return path


def raise_window(window: QWidget, activation_token: str | None = None) -> None:
    """Show ``window`` (a QWidget) on top, restored from minimised, and focus it."""
    from PySide6.QtCore import Qt

    if activation_token:
        # Qt's Wayland plugin takes the xdg-activation token from the environment;
        # without a token compositors only mark the window as demanding attention.
        os.environ["XDG_ACTIVATION_TOKEN"] = activation_token
    if window.isMinimized():
        window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized
                              | Qt.WindowState.WindowActive)
    window.show()
    window.raise_()
    window.activateWindow()
    handle = window.windowHandle()
    if handle is not None:
        handle.requestActivate()


class SingleInstance(QObject):
    """The single-instance guard. Keep the object alive as long as the app runs."""

    #: Another launch asked this instance to show itself; carries its argv
    #: (without the program name) and its activation token (or "").
    activation_requested = Signal(list, str)

    def __init__(self, key: str = APP_ID, *, runtime_base: str | os.PathLike[str] | None = None,
                 timeout_ms: int = DEFAULT_TIMEOUT_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._key = key
        self._runtime_base = runtime_base
        self._timeout_ms = timeout_ms
        self._server: QLocalServer | None = None
        self._path: Path | None = None
        self._buffers: dict[QLocalSocket, bytearray] = {}

    @property
    def path(self) -> Path | None:
        """The socket path (after :meth:`claim`)."""
        return self._path

    @property
    def is_primary(self) -> bool:
        return self._server is not None and self._server.isListening()

    def claim(self, argv: Sequence[str] = ()) -> bool:
        """Become the running instance, or hand over to the one already running.

        Returns ``True`` when this process should go on (it is the first, or
        single-instance could not be set up), ``False`` when a running vmgui
        accepted ``argv`` and will show its window: then exit with status 0.
        Needs a ``QCoreApplication``.
        """
        if QCoreApplication.instance() is None:
            raise RuntimeError("SingleInstance.claim() needs a QCoreApplication")
        if os.environ.get(DISABLE_ENV, "").strip().lower() in ("0", "no", "false", "off"):
            log.info("single instance disabled by %s", DISABLE_ENV)
            return True
        try:
            self._path = socket_path(self._runtime_base, self._key)
        except (SingleInstanceError, OSError) as exc:
            log.warning("single instance disabled: %s", exc)
            return True
        lock = QLockFile(str(self._path) + ".lock")
        lock.setStaleLockTime(10_000)
        if not lock.tryLock(self._timeout_ms + 2000):
            log.warning("single instance: could not lock %s (%s); starting anyway",
                        lock.fileName(), lock.error())
            return True
        try:
            if self._path.exists() and self._send(argv):
                log.info("vmgui is already running; asked it to show its window")
                return False
            return self._listen()
        finally:
            lock.unlock()

    # -- second instance ---------------------------------------------------

    def _send(self, argv: Sequence[str]) -> bool:
        """Deliver ``argv`` to the running instance; False if nobody answers."""
        # The Wayland xdg-activation token the desktop gave this launch: it lets
        # the first instance's window take the focus (X11 needs none).
        token = os.environ.get("XDG_ACTIVATION_TOKEN", "")
        message = json.dumps({"command": "activate", "argv": list(argv),
                              "activation_token": token}).encode() + b"\n"
        sock = QLocalSocket()
        loop = QEventLoop()
        deadline = QDeadlineTimer(self._timeout_ms)
        reply = bytearray()
        failed = False

        def on_ready() -> None:
            reply.extend(bytes(sock.readAll().data()))
            if b"\n" in reply:
                loop.quit()

        def on_error(_err: object) -> None:
            nonlocal failed
            failed = True
            loop.quit()

        sock.connected.connect(lambda: sock.write(QByteArray(message)))
        sock.readyRead.connect(on_ready)
        sock.errorOccurred.connect(on_error)
        sock.disconnected.connect(loop.quit)
        timer = QTimer(singleShot=True)
        timer.timeout.connect(loop.quit)
        timer.start(max(1, deadline.remainingTime()))
        # An event loop rather than waitFor*(): the server may live in this very
        # thread (tests), and a stuck first instance must not hang this one.
        sock.connectToServer(str(self._path))
        if sock.state() != QLocalSocket.LocalSocketState.UnconnectedState and not failed:
            loop.exec()
        timer.stop()
        connected = sock.state() == QLocalSocket.LocalSocketState.ConnectedState
        sock.abort()
        if reply.startswith(b"ok"):
            return True
        if connected:
            # Someone listens but did not answer in time: a busy first instance.
            # It is alive, so do not start a second one beside it.
            log.warning("the running vmgui did not answer within %d ms", self._timeout_ms)
            return True
        log.info("removing stale single-instance socket %s", self._path)
        return False

    # -- first instance ----------------------------------------------------

    def _listen(self) -> bool:
        assert self._path is not None
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        server.setMaxPendingConnections(16)
        # A leftover file is stale here: _send() found no one listening on it.
        QLocalServer.removeServer(str(self._path))
        if not server.listen(str(self._path)):
            log.warning("single instance disabled: cannot listen on %s: %s",
                        self._path, server.errorString())
            server.deleteLater()
            return True
        server.newConnection.connect(self._on_new_connection)
        self._server = server
        log.debug("single-instance socket %s", self._path)
        return True

    def _on_new_connection(self) -> None:
        assert self._server is not None
        while (sock := self._server.nextPendingConnection()) is not None:
            self._buffers[sock] = bytearray()
            sock.readyRead.connect(lambda s=sock: self._on_ready_read(s))
            sock.disconnected.connect(lambda s=sock: self._forget(s))
            QTimer.singleShot(self._timeout_ms, sock, sock.abort)
            if sock.bytesAvailable():
                self._on_ready_read(sock)

    def _forget(self, sock: QLocalSocket) -> None:
        self._buffers.pop(sock, None)
        sock.deleteLater()

    def _on_ready_read(self, sock: QLocalSocket) -> None:
        buf = self._buffers.get(sock)
        if buf is None:
            return
        buf += bytes(sock.readAll().data())
        if len(buf) > _MAX_MESSAGE:
            log.warning("single instance: oversized message dropped")
            sock.abort()
            return
        if b"\n" not in buf:
            return
        line = bytes(buf[:buf.index(b"\n")])
        self._buffers[sock] = bytearray()
        try:
            msg = json.loads(line)
            if msg.get("command") != "activate":
                raise ValueError(f"unknown command {msg.get('command')!r}")
            argv = [str(a) for a in msg.get("argv", [])]
            token = str(msg.get("activation_token") or "")
        except (ValueError, AttributeError, TypeError) as exc:
            log.warning("single instance: bad message: %s", exc)
            sock.write(QByteArray(b"error\n"))
            sock.flush()
            sock.disconnectFromServer()
            return
        sock.write(QByteArray(b"ok\n"))
        sock.flush()
        sock.disconnectFromServer()
        log.info("another launch asked vmgui to show its window")
        self.activation_requested.emit(argv, token)

    def close(self) -> None:
        """Stop listening and remove the socket (also done at exit by Qt)."""
        if self._server is not None:
            self._server.close()
            self._server.deleteLater()
            self._server = None
