"""LockManager: a VM's resources before start, and the launch of its supervisor.

Shaped like libvirt's virLockManager: create one per VM (uuid, name), register
resources before start, get the supervisor's argv, launch. After launch the
returned :class:`Supervisor` handle does acquire/release/inquire.
"""
from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from drivers.errors import DriverError, ErrorCode
from drivers.locking import protocol
from drivers.locking.client import Supervisor
from drivers.locking.leases import Resource
from drivers.locking.lockspace import Lockspace, default_host
from drivers.locking.lockspace import runtime_dir as _runtime_dir
from drivers.locking.modes import LeaseMode
from drivers.locking.runfiles import check_uuid

#: The directory holding the ``drivers`` package: the supervisor's working
#: directory, so ``python -m drivers.locking.supervisor`` imports this very copy.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent

#: Longest a launch waits for the supervisor to report (lock calls never block).
START_TIMEOUT_S = 30.0

#: The module a supervisor process runs (``python -m``).
SUPERVISOR_MODULE = "drivers.locking.supervisor"


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

    @property
    def runtime_dir(self) -> Path:
        """The runtime directory of this host's supervisors (created 0700; INTERNAL_ERROR if unsafe)."""
        return _runtime_dir(self._runtime_arg)

    def supervisor_args(self, vm_argv: Sequence[str], *, register_only: bool = False,
                        notify_fd: int | None = None, cwd: str | os.PathLike[str] | None = None,
                        pass_fds: Sequence[int] = ()) -> list[str]:
        """The supervisor's arguments (what ``supervisor.main`` takes), ending in ``-- VM ARGV``.

        ``register_only``: start without taking the leases (paused migration
        destination). INVALID_ARG for a bad argv.
        """
        argv = _check_argv(vm_argv)
        args = ["--uuid", self.uuid, "--name", self.name, "--lockspace", str(self.lockspace.path),
                "--runtime-dir", str(self.runtime_dir), "--host", self.host]
        for res in self._resources:
            args += ["--resource", f"{res.mode.value}:{res.kind}:{res.path}"]
        if register_only:
            args.append("--register-only")
        if notify_fd is not None:
            args += ["--notify-fd", str(int(notify_fd))]
        args += ["--cwd", os.fspath(cwd) if cwd is not None else os.getcwd()]
        for fd in pass_fds:
            args += ["--pass-fd", str(int(fd))]
        return args + ["--"] + argv

    def supervisor_command(self, vm_argv: Sequence[str], *, register_only: bool = False,
                           notify_fd: int | None = None, cwd: str | os.PathLike[str] | None = None,
                           pass_fds: Sequence[int] = ()) -> list[str]:
        """The supervisor's path and arguments (see :meth:`supervisor_args`).

        Run it with the working directory :data:`PACKAGE_ROOT` (or with
        ``drivers`` importable).
        """
        return [sys.executable, "-m", SUPERVISOR_MODULE,
                *self.supervisor_args(vm_argv, register_only=register_only, notify_fd=notify_fd, cwd=cwd,
                                      pass_fds=pass_fds)]

    def prepare(self, vm_argv: Sequence[str], env: Mapping[str, str] | None = None) -> list[str]:
        """Check a launch before any process starts: the VM's argv (returned as a list) and the lockspace.

        INVALID_ARG for a bad argv or a program not on ``PATH``; INTERNAL_ERROR
        if the lockspace cannot be made.
        """
        argv = _check_argv(vm_argv)
        search = (env or os.environ).get("PATH", os.defpath)
        if os.sep not in argv[0] and shutil.which(argv[0], path=search) is None:
            raise DriverError(ErrorCode.INVALID_ARG, f"VM program {argv[0]!r} not found in PATH")
        self.lockspace.ensure()
        return argv

    def started(self, report: bytes, supervisor_pid: int, popen: subprocess.Popen[bytes] | None = None
                ) -> Supervisor:
        """The handle of a supervisor whose start-up ``report`` arrived; raises the start's DriverError.

        An empty report means the supervisor died or hung before reporting: it
        is SIGKILLed (its death drops whatever it took, and its VM) and
        INTERNAL_ERROR raised.
        """
        if not report:
            if popen is not None:
                if popen.poll() is None:
                    popen.kill()
                popen.wait()
                why = f" (status {popen.returncode})"
            else:
                _kill(supervisor_pid)
                why = ""
            raise DriverError(ErrorCode.INTERNAL_ERROR,
                              f"the supervisor of VM '{self.name}' exited or hung before reporting{why}")
        try:
            result = protocol.parse_reply(report)
        except DriverError:
            if popen is not None:
                popen.wait()
            raise
        self._launched = True
        return Supervisor({"uuid": self.uuid, "name": self.name, **result}, self.runtime_dir, popen)

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
        argv = self.prepare(vm_argv, env)
        out = open_output(stdout_path)
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        try:
            cmd = self.supervisor_command(argv, register_only=register_only, notify_fd=write_fd,
                                          cwd=cwd, pass_fds=pass_fds)
            popen = subprocess.Popen(cmd, cwd=PACKAGE_ROOT, env=dict(env) if env is not None else None,
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                                     pass_fds=(write_fd, *pass_fds))
        except BaseException as exc:
            os.close(read_fd)
            if isinstance(exc, OSError):
                raise DriverError(ErrorCode.INTERNAL_ERROR, f"cannot start the VM supervisor: {exc}") from None
            raise
        finally:
            os.close(write_fd)
            os.close(out)
        try:
            report = read_report(read_fd, timeout)
        finally:
            os.close(read_fd)
        return self.started(report, popen.pid, popen)


def open_output(path: str | os.PathLike[str] | None) -> int:
    """An fd appending to the file a supervisor and its VM write their output to (/dev/null for None).

    INTERNAL_ERROR if it cannot be opened: the launch stops before any process starts.
    """
    target = os.devnull if path is None else os.fspath(path)
    try:
        return os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise DriverError(ErrorCode.INTERNAL_ERROR, f"cannot open {target} for the VM's output: "
                                                    f"{exc.strerror or exc}") from None


def read_report(fd: int, timeout: float) -> bytes:
    """A supervisor's start-up report line from pipe ``fd``; b"" if it closed or ``timeout`` passed first."""
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


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
