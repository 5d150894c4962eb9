"""The fork server: ``python -S -m drivers.locking.forkserver FD``, a pre-loaded parent of supervisors.

Starting ``python -m drivers.locking.supervisor`` costs a fresh interpreter
and its imports (150-250 ms on a small machine), most of a VM's start time.
This process imports the supervisor once and then, per request, forks a
child that runs ``supervisor.main(args)`` exactly as the command line would.
The child is detached (new session), so it and its VM outlive both this
process and the application, like any supervisor.

It serves one connection, the socketpair end ``FD`` of the
:class:`~drivers.locking.launcher.Launcher` that started it, and exits when
that closes. A request (see ``protocol.fork_request``) carries the
supervisor's arguments, with the start-up report pipe and the output file
as SCM_RIGHTS; the reply is the child's pid. Only the launcher talks to it.
"""
from __future__ import annotations

import array
import ctypes
import os
import signal
import socket
import sys
from collections.abc import Sequence
from typing import NoReturn

from drivers.locking import protocol, supervisor

#: What ps/top show for a forked supervisor (its command line is still this server's).
PROCESS_NAME = b"vmgui-supervise"
_PR_SET_NAME = 15
#: The fds a request brings: the report pipe's write end, the output file.
_REQUEST_FDS = 2


def _recv(sock: socket.socket) -> tuple[bytes, list[int]]:
    fds = array.array("i")
    data, anc, _, _ = sock.recvmsg(1 << 20, socket.CMSG_SPACE(_REQUEST_FDS * fds.itemsize))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    return data, list(fds)


def _child(args: list[str], notify_fd: int, out_fd: int, sock: socket.socket) -> NoReturn:
    """In the forked child: become a detached supervisor process, as if started from its command line."""
    code = 1
    try:
        sock.close()
        os.setsid()
        try:
            ctypes.CDLL(None).prctl(_PR_SET_NAME, PROCESS_NAME, 0, 0, 0)
        except (OSError, AttributeError):
            pass
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        code = supervisor.main(["--notify-fd", str(notify_fd), *args])
    except BaseException:  # noqa: BLE001 - never return into the server's loop
        code = 1
    os._exit(code)


def serve(fd: int) -> int:
    """Answer requests on socket ``fd`` until it closes."""
    sock = socket.socket(fileno=fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reap themselves
    sock.sendall(b"ready\n")
    while True:
        try:
            data, fds = _recv(sock)
        except OSError:
            return 0
        if not data:
            return 0
        try:
            args = protocol.parse_fork_request(data)
            if len(fds) != _REQUEST_FDS:
                raise ValueError(f"{len(fds)} fds instead of {_REQUEST_FDS}")
        except ValueError:
            pid = None
        else:
            pid = os.fork()
            if pid == 0:
                _child(args, fds[0], fds[1], sock)
        for f in fds:
            os.close(f)
        sock.sendall(protocol.fork_reply(pid))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    os.chdir("/")  # supervisors run in "/"; nothing keeps the package directory busy
    return serve(int(args[0]))


if __name__ == "__main__":
    sys.exit(main())
