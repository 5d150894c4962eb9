"""The app's handle on a running supervisor: control over its socket, waiting, shutdown.

A handle comes from ``LockManager.launch`` or, in a later process (the app
restarted), from :func:`attach`. Every method is thread-safe.
"""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from drivers.errors import DriverError, ErrorCode
from drivers.locking import protocol
from drivers.locking.lockspace import runtime_dir as _runtime_dir
from drivers.locking.modes import LeaseMode
from drivers.locking.runfiles import ExitStatus, RunFiles

#: Longest a supervisor may take to answer one request (lock calls never wait,
#: but naming a holder can retry for up to a second, and NFS can be slow).
CALL_TIMEOUT_S = 30.0


class Supervisor:
    """A VM's supervisor process, seen from the app."""

    def __init__(self, info: dict[str, Any], runtime: Path, popen: subprocess.Popen[bytes] | None = None) -> None:
        self.uuid: str = info["uuid"]
        self.name: str = info["name"]
        self.supervisor_pid: int = int(info["supervisor_pid"])
        self.vm_pid: int | None = info.get("vm_pid")
        self.files = RunFiles(runtime, self.uuid)
        self._popen = popen
        self._lock = threading.Lock()
        self._conn: socket.socket | None = None
        self._rfile: Any = None

    def __repr__(self) -> str:
        return f"<Supervisor {self.name} uuid={self.uuid} pid={self.supervisor_pid} vm_pid={self.vm_pid}>"

    # -- liveness -------------------------------------------------------------------------------
    def alive(self) -> bool:
        """Whether the supervisor (and so the VM and its leases) still runs."""
        if self._popen is not None and self._popen.poll() is not None:
            return False
        return self.files.alive()

    def exit_status(self) -> ExitStatus | None:
        """How the VM ended: None while it runs; ``lost=True`` if the supervisor died without saying."""
        if self.alive():
            return None
        status = self.files.exit_status()
        return status if status is not None else ExitStatus(None, None, lost=True)

    def wait(self, timeout: float | None = None) -> ExitStatus | None:
        """Wait for the supervisor to end; its ExitStatus, or None if still running at timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._popen is not None:
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
            return self.exit_status()
        try:
            pidfd: int | None = os.pidfd_open(self.supervisor_pid)
        except OSError:
            pidfd = None
        try:
            while self.alive():
                left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
                if left <= 0:
                    return None
                if pidfd is None or select.select([pidfd], [], [], left)[0]:
                    time.sleep(min(left, 0.002))  # exited: its locks drop within the exit itself
        finally:
            if pidfd is not None:
                os.close(pidfd)
        return self.exit_status()

    # -- control --------------------------------------------------------------------------------
    def _call(self, op: str, **args: Any) -> Any:
        """One request/reply; OPERATION_INVALID if the supervisor is gone."""
        with self._lock:
            for attempt in (0, 1):
                try:
                    if self._conn is None:
                        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                        conn.settimeout(CALL_TIMEOUT_S)
                        conn.connect(str(self.files.sock))
                        self._conn, self._rfile = conn, conn.makefile("rb")
                    self._conn.sendall(protocol.request(op, **args))
                    line = self._rfile.readline(protocol.MAX_LINE)
                    if not line:
                        raise ConnectionResetError("supervisor closed the connection")
                    break
                except OSError as exc:
                    self._close()
                    if not self.alive():
                        raise DriverError(ErrorCode.OPERATION_INVALID,
                                          f"VM '{self.name}' is not running (its supervisor is gone)") from None
                    if attempt or isinstance(exc, TimeoutError):
                        raise DriverError(ErrorCode.INTERNAL_ERROR,
                                          f"cannot talk to the supervisor of VM '{self.name}': {exc}") from None
        return protocol.parse_reply(line)

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._rfile.close()
                self._conn.close()
            finally:
                self._conn = self._rfile = None

    def close(self) -> None:
        """Drop the control connection (the supervisor and VM keep running)."""
        with self._lock:
            self._close()

    def info(self) -> dict[str, Any]:
        """uuid, name, host, pids, lockspace, ``active`` (leases held), leases, registered."""
        reply: dict[str, Any] = self._call("info")
        return reply

    def holders(self) -> list[dict[str, Any]]:
        """The leases this VM holds now: dicts of path, mode, kind, keys."""
        return list(self.info()["leases"])

    def acquire(self, path: str | os.PathLike[str], mode: LeaseMode | str | int = LeaseMode.EXCLUSIVE,
                kind: str = "disk") -> None:
        """Hot-plug: take one more lease for the running VM.

        INVALID_ARG for a bad path, mode or flags; NO_SUPPORT for an unsupported
        kind or a mode change of a held resource; RESOURCE_BUSY (holder named) if
        held elsewhere; INTERNAL_ERROR on I/O. On failure the VM and its other
        leases are untouched: refuse the hot-plug. Acquiring what is already held
        in the same mode does nothing. While released (paused) it only registers.
        """
        from drivers.locking.leases import Resource
        res = Resource.make(path, mode, kind)  # validate here: errors carry no socket round trip
        self._call("acquire", path=res.path, mode=res.mode.value, kind=res.kind)

    def release(self, path: str | os.PathLike[str] | None = None) -> str:
        """Release one resource (hot-unplug), or all (pause; migration switch-over).

        Returns the state string to re-acquire with :meth:`acquire_state`.
        Idempotent: releasing what is not held does nothing.
        """
        return str(self._call("release", path=None if path is None else os.fspath(path)))

    def acquire_state(self, state: str = "") -> None:
        """Re-acquire leases before the vCPUs run: those of ``state`` or, with "", the registered ones.

        All or nothing: RESOURCE_BUSY (holder named) leaves the VM without
        leases, so it must stay paused; INVALID_ARG for a malformed state or
        one of another VM.
        """
        self._call("acquire_state", state=state)

    def inquire(self) -> str:
        """The state string of this VM's leases (for a migration destination)."""
        return str(self._call("inquire"))

    # -- ending ---------------------------------------------------------------------------------
    def _vm_is_ours(self) -> bool:
        """Whether vm_pid is still our child (guards against pid reuse before a kill)."""
        if not self.vm_pid:
            return False
        try:
            with open(f"/proc/{self.vm_pid}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            return False
        return fields[0] != "Z" and int(fields[1]) == self.supervisor_pid

    def _signal(self, pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def shutdown(self, timeout: float = 10.0) -> ExitStatus:
        """Stop the VM and its supervisor; returns how the VM ended. Idempotent.

        SIGTERM to the supervisor (forwarded to the VM); after 60 % of
        ``timeout`` the VM is SIGKILLed; if the supervisor still hangs (VM gone,
        supervisor stuck, e.g. on a dead NFS server) it is SIGKILLed too, and the
        kernel drops its leases with it. Never raises for an already ended VM.
        """
        status = self.exit_status()
        if status is not None:
            self.close()
            return status
        if self.files.alive():
            self._signal(self.supervisor_pid, signal.SIGTERM)
        status = self.wait(timeout * 0.6)
        if status is None:
            if self._vm_is_ours():
                self._signal(self.vm_pid or 0, signal.SIGKILL)
            status = self.wait(timeout * 0.2)
        if status is None:
            self._signal(self.supervisor_pid, signal.SIGKILL)
            status = self.wait(max(timeout * 0.2, 1.0))
        self.close()
        if status is None:
            raise DriverError(ErrorCode.INTERNAL_ERROR,
                              f"supervisor pid {self.supervisor_pid} of VM '{self.name}' survived SIGKILL")
        if status.lost:
            status = ExitStatus(None, None, requested=True, lost=True)
        return status


def attach(uuid: str, lockspace: object = None, *, runtime_dir: str | os.PathLike[str] | None = None
           ) -> Supervisor | None:
    """The running supervisor of VM ``uuid`` on this host, or None (e.g. after an app restart).

    ``lockspace`` is accepted for symmetry; the runtime directory is what names
    a host's supervisors. INVALID_ARG for a malformed uuid.
    """
    from drivers.locking.manager import check_uuid
    files = RunFiles(_runtime_dir(runtime_dir), check_uuid(uuid))
    if not files.alive():
        return None
    info = files.read_json(files.info)
    if not info:
        return None  # still starting up, or ending
    return Supervisor(info, files.dir)


def running(*, runtime_dir: str | os.PathLike[str] | None = None) -> list[Supervisor]:
    """Handles of every supervisor of this user on this host."""
    root = _runtime_dir(runtime_dir)
    out = []
    for name in sorted(os.listdir(root)):
        if name.endswith(".json") and not name.startswith("."):
            sup = attach(name[:-5], runtime_dir=root)
            if sup is not None:
                out.append(sup)
    return out
