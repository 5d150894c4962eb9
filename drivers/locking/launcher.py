"""Launching VMs under supervisors in milliseconds: forked by a pre-loaded fork server.

A :class:`Launcher` gives the same result as :meth:`LockManager.launch`
(the same supervisor code and arguments, the same start-up report, the same
errors) without an interpreter start per VM: it keeps one fork server
(``forkserver``) that imported the supervisor once, and asks it for a child
per launch. If the fork server cannot be started or stops answering, every
later launch goes through ``LockManager.launch``.
"""
from __future__ import annotations

import array
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence

from drivers.locking import protocol
from drivers.locking.client import Supervisor
from drivers.locking.manager import PACKAGE_ROOT, START_TIMEOUT_S, LockManager, open_output, read_report

#: The module the fork server runs (``python -S -m``: no site packages, it needs the standard library only).
FORK_SERVER_MODULE = "drivers.locking.forkserver"


class Launcher:
    """Starts supervisors for the VMs of one application; thread-safe.

    :meth:`start` ahead of the first launch lets the fork server import while
    the caller does other work; :meth:`close` ends it (supervisors it started
    run on).
    """

    #: Longest the fork server may take to import the supervisor, then to answer one request.
    READY_TIMEOUT_S = 10.0
    REPLY_TIMEOUT_S = 10.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._broken = False

    def start(self) -> None:
        """Start the fork server in the background, unless it runs or could not be used."""
        with self._lock:
            if self._sock is not None or self._broken:
                return
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-S", "-m", FORK_SERVER_MODULE, str(theirs.fileno())],
                    pass_fds=(theirs.fileno(),), cwd=PACKAGE_ROOT, start_new_session=True,
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except OSError:
                ours.close()
                self._broken = True
                return
            finally:
                theirs.close()
            self._sock = ours
            self._ready = False

    def close(self) -> None:
        """End the fork server (it exits when its socket closes); idempotent."""
        with self._lock:
            sock, proc, self._sock, self._proc = self._sock, self._proc, None, None
        if sock is not None:
            sock.close()
        if proc is not None:
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @property
    def forking(self) -> bool:
        """Whether launches go through the fork server (False once it failed: they exec supervisors)."""
        with self._lock:
            return not self._broken

    def launch(self, mgr: LockManager, vm_argv: Sequence[str], *, register_only: bool = False,
               stdout_path: str | os.PathLike[str] | None = None, cwd: str | os.PathLike[str] | None = None,
               timeout: float = START_TIMEOUT_S) -> Supervisor:
        """Start ``mgr``'s VM under a supervisor, as ``mgr.launch`` does (same arguments, same errors).

        The VM runs ``vm_argv`` in ``cwd`` with this process's environment, its
        output appended to ``stdout_path``. Returns once the supervisor holds
        the leases (none with ``register_only``) and the VM runs.
        """
        argv = mgr.prepare(vm_argv)
        out = open_output(stdout_path)
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        try:
            pid = self._fork(mgr.supervisor_args(argv, register_only=register_only, cwd=cwd), write_fd, out)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)  # the supervisor has its own copy: EOF here when it exits
            os.close(out)
        if pid is None:
            os.close(read_fd)
            return mgr.launch(argv, register_only=register_only, stdout_path=stdout_path, cwd=cwd, timeout=timeout)
        try:
            report = read_report(read_fd, timeout)
        finally:
            os.close(read_fd)
        return mgr.started(report, pid)

    def _fork(self, args: list[str], notify_fd: int, out_fd: int) -> int | None:
        """Have the fork server start a supervisor with ``args``: its pid, or None if it cannot serve."""
        self.start()
        with self._lock:
            try:
                if self._sock is None or self._broken:
                    return None
                if not self._ready:
                    if self._readline(self._sock, self.READY_TIMEOUT_S) != b"ready\n":
                        raise OSError("the fork server did not get ready")
                    self._ready = True
                self._sock.sendmsg([protocol.fork_request(args)],
                                   [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [notify_fd, out_fd]))])
                return protocol.parse_fork_reply(self._readline(self._sock, self.REPLY_TIMEOUT_S))
            except (OSError, ValueError):
                self._broken = True
        self.close()
        return None

    @staticmethod
    def _readline(sock: socket.socket, timeout: float) -> bytes:
        sock.settimeout(timeout)
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                raise OSError("the fork server closed its socket")
            data += chunk
        return data
