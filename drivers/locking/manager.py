"""LockManager: a VM's resources before start, and the launch of its supervisor.

Shaped like libvirt's virLockManager: create one per VM (uuid, name), register
resources before start, get the supervisor's argv, launch. After launch the
returned :class:`Supervisor` handle does acquire/release/inquire.
"""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
import uuid as uuidlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from drivers.errors import DriverError, ErrorCode
from drivers.locking import protocol
from drivers.locking.client import Supervisor
from drivers.locking.leases import Resource
from drivers.locking.lockspace import Lockspace, default_host
from drivers.locking.lockspace import runtime_dir as _runtime_dir
from drivers.locking.modes import LeaseMode

#: The directory holding the ``drivers`` package: the supervisor's working
#: directory, so ``python -m drivers.locking.supervisor`` imports this very copy.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent

#: Longest a launch waits for the supervisor to report (lock calls never block).
START_TIMEOUT_S = 30.0


def check_uuid(value: object) -> str:
    """The canonical lower-case form of a VM uuid; INVALID_ARG if it is not one."""
    try:
        return str(uuidlib.UUID(str(value))) if isinstance(value, (str, uuidlib.UUID)) else _bad_uuid(value)
    except ValueError:
        return _bad_uuid(value)


def _bad_uuid(value: object) -> str:
    raise DriverError(ErrorCode.INVALID_ARG, f"invalid VM uuid {value!r}")


def _check_argv(vm_argv: object) -> list[str]:
    if isinstance(vm_argv, (str, bytes)) or not isinstance(vm_argv, Sequence) or not vm_argv:
        raise DriverError(ErrorCode.INVALID_ARG, "VM command must be a non-empty list of strings (no shell)")
    argv = [os.fspath(a) if isinstance(a, os.PathLike) else a for a in vm_argv]
    if not all(isinstance(a, str) and "\0" not in a for a in argv):
        raise DriverError(ErrorCode.INVALID_ARG, f"VM command has a non-string or NUL argument: {vm_argv!r}")
    return argv


class LockManager:
    """Leases of one VM: add resources, then launch the VM under a supervisor.

    ``uuid``/``name`` identify the VM in holder records and error messages
    (INVALID_ARG if malformed). ``host`` (default: the host name) and
    ``runtime_dir`` (default: see lockspace.default_runtime_dir) rarely need
    setting; tests use them to play two hosts sharing one lockspace.
    """

    def __init__(self, uuid: str, name: str, lockspace: Lockspace | None = None, *,
                 host: str | None = None, runtime_dir: str | os.PathLike[str] | None = None) -> None:
        self.uuid = check_uuid(uuid)
        if not isinstance(name, str) or not name.strip() or any(ord(c) < 32 for c in name):
            raise DriverError(ErrorCode.INVALID_ARG, f"invalid VM name {name!r}")
        if lockspace is not None and not isinstance(lockspace, Lockspace):
            raise DriverError(ErrorCode.INVALID_ARG, f"lockspace must be a Lockspace, not {lockspace!r}")
        self.name = name
        self.lockspace = lockspace or Lockspace()
        self.host = host or default_host()
        self._runtime_arg = runtime_dir
        self._resources: list[Resource] = []
        self._launched = False

    @property
    def resources(self) -> list[Resource]:
        return list(self._resources)

    def add_resource(self, path: str | os.PathLike[str], mode: LeaseMode | str | int = LeaseMode.EXCLUSIVE,
                     kind: str = "disk") -> Resource:
        """Register a resource the VM needs from its start; takes nothing yet.

        ``mode``: a LeaseMode, its name, or libvirt flags (READONLY 1, SHARED 2).
        INVALID_ARG: empty/relative path, unknown kind, flags out of range,
        READONLY|SHARED, or the same resource already added in another mode
        (adding it again in the same mode is a no-op). NO_SUPPORT: a known
        kind not implemented ("lease"). OPERATION_INVALID after launch (use
        ``Supervisor.acquire`` for hot-plug). Nothing else changes on failure.
        """
        if self._launched:
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              "resources can only be added before the VM starts; use Supervisor.acquire to hot-plug")
        res = Resource.make(path, mode, kind)
        names = {k.name for k in res.keys}
        for old in self._resources:
            if old.path == res.path or names.intersection(k.name for k in old.keys):
                if old.mode is res.mode:
                    return old
                raise DriverError(ErrorCode.INVALID_ARG,
                                  f"{res.path} is already added as {old.mode.value} (same file as {old.path})")
        self._resources.append(res)
        return res

    def supervisor_command(self, vm_argv: Sequence[str], *, register_only: bool = False,
                           notify_fd: int | None = None, cwd: str | os.PathLike[str] | None = None,
                           pass_fds: Sequence[int] = ()) -> list[str]:
        """The supervisor's path and arguments, ending in ``-- VM ARGV``.

        Run it with the working directory :data:`PACKAGE_ROOT` (or with
        ``drivers`` importable). ``register_only``: start without taking the
        leases (paused migration destination). INVALID_ARG for a bad argv.
        """
        argv = _check_argv(vm_argv)
        cmd = [sys.executable, "-m", "drivers.locking.supervisor", "--uuid", self.uuid, "--name", self.name,
               "--lockspace", str(self.lockspace.path), "--runtime-dir", str(_runtime_dir(self._runtime_arg)),
               "--host", self.host]
        for res in self._resources:
            cmd += ["--resource", f"{res.mode.value}:{res.kind}:{res.path}"]
        if register_only:
            cmd.append("--register-only")
        if notify_fd is not None:
            cmd += ["--notify-fd", str(int(notify_fd))]
        cmd += ["--cwd", os.fspath(cwd) if cwd is not None else os.getcwd()]
        for fd in pass_fds:
            cmd += ["--pass-fd", str(int(fd))]
        return cmd + ["--"] + argv

    def launch(self, vm_argv: Sequence[str], *, register_only: bool = False, env: Mapping[str, str] | None = None,
               cwd: str | os.PathLike[str] | None = None, stdout_path: str | os.PathLike[str] | None = None,
               pass_fds: Sequence[int] = (), timeout: float = START_TIMEOUT_S) -> Supervisor:
        """Start the detached supervisor; return once it holds the leases and the VM runs.

        The supervisor runs in a new session and outlives this process. The VM
        gets ``env``, ``cwd``, ``pass_fds``, and stdout/stderr appended to
        ``stdout_path`` (else /dev/null). Errors, and in each case no VM process
        is left running and no lease held:
        INVALID_ARG (bad argv, program not found), RESOURCE_BUSY (a lease or the
        VM uuid is held elsewhere; holder named), OPERATION_FAILED (exec failed),
        INTERNAL_ERROR (I/O, or the supervisor died or did not report in time).
        """
        argv = _check_argv(vm_argv)
        search = (env or os.environ).get("PATH", os.defpath)
        if os.sep not in argv[0] and shutil.which(argv[0], path=search) is None:
            raise DriverError(ErrorCode.INVALID_ARG, f"VM program {argv[0]!r} not found in PATH")
        self.lockspace.ensure()
        runtime = _runtime_dir(self._runtime_arg)
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        cmd = self.supervisor_command(argv, register_only=register_only, notify_fd=write_fd,
                                      cwd=cwd, pass_fds=pass_fds)
        out = open(stdout_path, "ab") if stdout_path is not None else subprocess.DEVNULL
        try:
            popen = subprocess.Popen(cmd, cwd=PACKAGE_ROOT, env=dict(env) if env is not None else None,
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                                     pass_fds=(write_fd, *pass_fds))
        except OSError as exc:
            os.close(read_fd)
            raise DriverError(ErrorCode.INTERNAL_ERROR, f"cannot start the VM supervisor: {exc}") from None
        finally:
            os.close(write_fd)
            if out is not subprocess.DEVNULL:
                out.close()  # type: ignore[union-attr]
        try:
            line = self._read_report(read_fd, timeout)
        finally:
            os.close(read_fd)
        if not line:
            if popen.poll() is None:
                popen.kill()  # hung in start-up: its death drops whatever it took, and its VM
            popen.wait()
            raise DriverError(ErrorCode.INTERNAL_ERROR,
                              f"the supervisor of VM '{self.name}' exited or hung before reporting "
                              f"(status {popen.returncode})")
        try:
            result = protocol.parse_reply(line)
        except DriverError:
            popen.wait()
            raise
        self._launched = True
        info = {"uuid": self.uuid, "name": self.name, **result}
        return Supervisor(info, runtime, popen)

    @staticmethod
    def _read_report(fd: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        data = b""
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return b""
            chunk = os.read(fd, 65536)
            if not chunk:
                return b""
            data += chunk
        return data
