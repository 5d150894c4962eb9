"""A pre-loaded parent of lock supervisors: forks one per VM start in a few milliseconds.

Starting ``python -m drivers.locking.supervisor`` costs a fresh interpreter
and its imports (150-250 ms on a small machine), most of a VM's start time.
This helper imports the supervisor once and then, per request, forks a
child that runs ``drivers.locking.supervisor.main(args)`` exactly as the
command line would. The child is detached (new session), so it and its VM
outlive both this helper and the application, like any supervisor.

Run as a script (``python -S zygote.py FD``): importing it as
``drivers.qemu.zygote`` would pull in the QEMU driver and lxml for nothing.
It serves one connection, the socketpair end ``FD`` of the host that started
it, and exits when that closes. Requests are JSON lines with the
supervisor's arguments; the notify pipe comes along as SCM_RIGHTS; the reply
is the child's pid.
"""
from __future__ import annotations

import array
import ctypes
import json
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

#: the supervisor's entry point, ``drivers.locking.supervisor.main`` (imported once, before any fork)
Supervise = Callable[[list[str]], Any]


def _recv(sock: socket.socket) -> tuple[bytes, list[int]]:
    fds = array.array("i")
    data, anc, _, _ = sock.recvmsg(1 << 20, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    return data, list(fds)


def _child(request: dict[str, Any], notify_fd: int, sock: socket.socket, supervise: Supervise) -> None:
    """In the forked child: become a detached supervisor process."""
    try:
        sock.close()
        os.setsid()
        try:  # name it in ps/top: its command line is still the helper's
            ctypes.CDLL(None).prctl(15, b"vmgui-supervise", 0, 0, 0)  # PR_SET_NAME
        except (OSError, AttributeError):
            pass
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        out = os.open(request.get("stdout") or os.devnull, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.chdir(request.get("cwd") or "/")
        args = list(request["args"])
        args[args.index("{notify}")] = str(notify_fd)
        code = supervise(args)
    except BaseException:  # noqa: BLE001 - never return into the helper's loop
        code = 1
    os._exit(code if isinstance(code, int) else 1)


def serve(fd: int, supervise: Supervise) -> int:
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
            request = json.loads(data)
            notify = fds[0]
        except (ValueError, IndexError):
            for f in fds:
                os.close(f)
            sock.sendall(b'{"error": "bad request"}\n')
            continue
        pid = os.fork()
        if pid == 0:
            _child(request, notify, sock, supervise)
        for f in fds:
            os.close(f)
        sock.sendall(json.dumps({"pid": pid}).encode() + b"\n")


if __name__ == "__main__":
    root = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
    sys.path.insert(0, root)
    import drivers.locking.supervisor  # the point: import once, fork many
    sys.exit(serve(int(sys.argv[1]), drivers.locking.supervisor.main))
