"""The lock manager (drivers.locking, issue 4) as the QEMU driver uses it.

Every VM runs under a supervisor holding its disk leases: writable disks
EXCLUSIVE, ``<shareable/>`` SHARED, ``<readonly/>`` and CD-ROMs READONLY.
Each root passes its own supervisor runtime directory and holder host name,
so two roots on one machine behave as two hosts sharing one lockspace.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DriverError, ErrorCode
from .cmdline import BlockNode


def _api() -> Any:
    try:
        import drivers.locking as locking
    except ImportError as exc:
        raise DriverError(ErrorCode.NO_SUPPORT, f"the lock manager (drivers.locking) is not available: {exc}") \
            from None
    return locking


def lockspace() -> Any:
    return _api().Lockspace()


def mode_of(disk: BlockNode) -> Any:
    modes = _api().LeaseMode
    if disk.readonly:
        return modes.READONLY
    if disk.shareable:
        return modes.SHARED
    return modes.EXCLUSIVE


def manager(uuid: str, name: str, disks: list[BlockNode], space: Any, host: str, runtime: Path) -> Any:
    mgr = _api().LockManager(uuid, name, space, host=host, runtime_dir=runtime)
    for disk in disks:
        mgr.add_resource(disk.path, mode_of(disk))
    return mgr


def attach(uuid: str, runtime: Path) -> Any:
    return _api().attach(uuid, runtime_dir=runtime)


def hold(sup: Any, name: str) -> None:
    """Have the supervisor hold every lease of the VM before its vCPUs run (nothing to do if it does).

    A supervisor lets its leases go at a migration's switch-over; if the
    process driving the migration dies there, the guest must not run again
    until they are back. RESOURCE_BUSY (naming the holder) when another VM
    took them meanwhile, e.g. the migration's destination: the guest stays
    paused.
    """
    try:
        sup.acquire_state("")
    except DriverError as exc:
        if exc.code is not ErrorCode.RESOURCE_BUSY:
            raise
        raise DriverError(ErrorCode.RESOURCE_BUSY, f"'{name}' stays paused without its disk leases: "
                                                   f"{exc.message}") from None


def exit_status(uuid: str, runtime: Path) -> Any:
    from drivers.locking.runfiles import RunFiles
    return RunFiles(runtime, uuid).exit_status()


class FastLauncher:
    """Starts lock supervisors by forking a pre-loaded helper (see zygote.py).

    Same result as ``LockManager.launch`` (same supervisor code and
    arguments, same report, same errors) in milliseconds instead of an
    interpreter start. Falls back to ``LockManager.launch`` if the helper
    cannot be used.
    """

    READY_TIMEOUT = 10.0

    def __init__(self) -> None:
        import threading
        self._lock = threading.Lock()
        self._sock: Any = None
        self._proc: Any = None
        self._ready = False
        self._broken = False

    def start(self) -> None:
        """Start the helper in the background (it imports while we do other work)."""
        import socket
        import subprocess
        import sys
        with self._lock:
            if self._sock is not None or self._broken:
                return
            try:
                ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                script = Path(__file__).with_name("zygote.py")
                root = Path(__file__).resolve().parent.parent.parent
                self._proc = subprocess.Popen(
                    [sys.executable, "-S", str(script), str(theirs.fileno()), str(root)], pass_fds=(theirs.fileno(),),
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    start_new_session=True, cwd="/")
                theirs.close()
                self._sock = ours
                self._ready = False
            except OSError:
                self._broken = True

    def close(self) -> None:
        with self._lock:
            sock, proc, self._sock, self._proc = self._sock, self._proc, None, None
        if sock is not None:
            sock.close()  # the helper exits on EOF
        if proc is not None:
            try:
                proc.wait(2)
            except Exception:  # noqa: BLE001
                proc.kill()

    def _readline(self, timeout: float) -> bytes:
        self._sock.settimeout(timeout)
        data = b""
        while not data.endswith(b"\n"):
            chunk = self._sock.recv(4096)
            if not chunk:
                raise OSError("helper closed")
            data += chunk
        return data

    def launch(self, mgr: Any, argv: list[str], *, register_only: bool, stdout_path: str, cwd: str,
               runtime: Path, timeout: float = 30.0) -> Any:
        """Start the supervisor: forked by the helper, else by ``LockManager.launch``."""
        try:
            return self._fast(mgr, argv, register_only=register_only, stdout_path=stdout_path, cwd=cwd,
                              runtime=runtime, timeout=timeout)
        except _Fallback:
            return mgr.launch(argv, register_only=register_only, stdout_path=stdout_path, cwd=cwd)

    def _fast(self, mgr: Any, argv: list[str], *, register_only: bool, stdout_path: str, cwd: str,
              runtime: Path, timeout: float) -> Any:
        import array
        import json
        import os
        import select
        import socket
        import time
        try:
            api = _api()
            from drivers.locking import protocol
            cmd = mgr.supervisor_command(argv, register_only=register_only, notify_fd=987654, cwd=cwd)
            at = cmd.index("--notify-fd") + 1
            if cmd[1:3] != ["-m", "drivers.locking.supervisor"] or cmd[at] != "987654":
                raise _Fallback()
            cmd[at] = "{notify}"
            args = cmd[3:]
            mgr.lockspace.ensure()
        except _Fallback:
            raise
        except DriverError:
            raise
        except Exception:  # noqa: BLE001 - the lock manager changed shape: take its own way
            raise _Fallback() from None
        if self._sock is None:
            self.start()
        r_fd, w_fd = os.pipe2(os.O_CLOEXEC)
        try:
            with self._lock:
                if self._sock is None or self._broken:
                    raise OSError("no helper")
                if not self._ready:
                    if self._readline(self.READY_TIMEOUT) != b"ready\n":
                        raise OSError("helper not ready")
                    self._ready = True
                req = json.dumps({"args": args, "stdout": stdout_path, "cwd": "/"}).encode()
                self._sock.sendmsg([req], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w_fd]))])
                pid = json.loads(self._readline(10.0)).get("pid")
                if not pid:
                    raise OSError("helper refused the request")
        except (OSError, ValueError):
            os.close(r_fd)
            os.close(w_fd)
            with self._lock:
                self._broken = True
            self.close()
            raise _Fallback() from None
        os.close(w_fd)
        try:
            deadline = time.monotonic() + timeout
            data = b""
            while not data.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([r_fd], [], [], left)[0]:
                    break
                chunk = os.read(r_fd, 65536)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(r_fd)
        if not data.endswith(b"\n"):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
            raise DriverError(ErrorCode.INTERNAL_ERROR,
                              f"the supervisor of VM '{mgr.name}' exited or hung before reporting")
        result = protocol.parse_reply(data)  # raises the start's DriverError (RESOURCE_BUSY, ...)
        return api.Supervisor({"uuid": mgr.uuid, "name": mgr.name, **result}, runtime)


class _Fallback(Exception):
    """The fast path cannot be used: launch the lock manager's way."""
