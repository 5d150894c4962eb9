"""The VM supervisor process: ``python -m drivers.locking.supervisor [options] -- VM ARGV``.

It takes the VM's leases, starts the VM process as its child (fork/exec, no
shell), holds the leases for exactly as long as the child lives, then writes
the child's exit to ``<uuid>.status``, releases, and exits with the child's
status (128 + signal for a signal). The child gets PR_SET_PDEATHSIG(SIGKILL):
if the supervisor dies, the VM dies with it, so a VM never runs on after its
leases vanished. SIGTERM is forwarded to the child.

It is single-threaded (the death signal follows the thread that forked): one
selector loop serves the control socket, the child's pidfd and signals.

Start-up reports on ``--notify-fd`` one JSON line: the pids, or the error
that aborted the start. On any start-up failure no VM process has run (or,
if exec itself failed, none is left) and every lease taken is let go.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from drivers.errors import DriverError, ErrorCode
from drivers.locking import ofd, protocol, state
from drivers.locking.leases import LeaseHolder, Resource
from drivers.locking.lockspace import Lockspace, open_lock_file, runtime_dir
from drivers.locking.modes import LeaseMode
from drivers.locking.runfiles import ExitStatus, RunFiles

_PR_SET_PDEATHSIG = 1


class _ArgParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise DriverError(ErrorCode.INVALID_ARG, f"supervisor arguments: {message}")


def _parser() -> argparse.ArgumentParser:
    p = _ArgParser(prog="python -m drivers.locking.supervisor", add_help=False)
    p.add_argument("--uuid", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--lockspace", required=True)
    p.add_argument("--runtime-dir", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--resource", action="append", default=[], help="MODE:KIND:PATH")
    p.add_argument("--register-only", action="store_true")
    p.add_argument("--notify-fd", type=int)
    p.add_argument("--cwd")
    p.add_argument("--pass-fd", type=int, action="append", default=[])
    p.add_argument("vm_argv", nargs=argparse.REMAINDER)
    return p


def parse_resource(text: str) -> Resource:
    mode, _, rest = text.partition(":")
    kind, _, path = rest.partition(":")
    return Resource.make(path, mode, kind)


class _Notifier:
    """The one start-up report to the launcher (then the fd is closed)."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    def send(self, line: bytes) -> None:
        if self.fd is None:
            return
        try:
            os.write(self.fd, line)
        except OSError:
            pass
        finally:
            os.close(self.fd)
            self.fd = None


class Supervisor:
    """State of a running supervisor: its leases, child and clients."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.uuid: str = args.uuid
        self.files = RunFiles(runtime_dir(args.runtime_dir), self.uuid)
        self.holder = LeaseHolder(Lockspace(args.lockspace), self.uuid, args.name, args.host)
        self.registered: list[Resource] = [parse_resource(r) for r in args.resource]
        self.active = False
        self.child: subprocess.Popen[bytes] | None = None
        self.requested = False
        self.sel = selectors.DefaultSelector()
        self.buffers: dict[socket.socket, bytearray] = {}
        self._run_fd: int | None = None
        self._sock: socket.socket | None = None
        # Signals are caught from the very start (a SIGTERM during start-up is acted on
        # once the child runs); handlers, not SIG_IGN, because exec resets handlers.
        self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: None)

    # -- start ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Everything before the VM runs; raises DriverError and leaves nothing held on failure."""
        if not self.args.vm_argv:
            raise DriverError(ErrorCode.INVALID_ARG, "no VM command given after '--'")
        self._claim_runtime()
        self.files.unlink(self.files.status, self.files.sock)
        self.holder.register()
        self.holder.set_registered(self.registered)
        if not self.args.register_only:
            self.holder.acquire(self.registered)
            self.active = True
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.files.sock))
        sock.listen(16)
        sock.setblocking(False)
        self._sock = sock
        self._spawn()
        self.holder.set_vm_pid(self.child.pid if self.child else None)
        self.files.write_json(self.files.info, self.info())

    def _claim_runtime(self) -> None:
        try:
            fd = open_lock_file(self.files.lock)
        except OSError as exc:
            raise DriverError(ErrorCode.INTERNAL_ERROR, f"cannot open {self.files.lock}: {exc.strerror}") from None
        if not ofd.try_lock(fd, LeaseMode.EXCLUSIVE):
            os.close(fd)
            old = self.files.read_json(self.files.info) or {}
            raise DriverError(ErrorCode.RESOURCE_BUSY,
                              f"VM '{old.get('name', self.args.name)}' ({self.uuid}) is already running on this "
                              f"host under supervisor pid {old.get('supervisor_pid', '?')}")
        self._run_fd = fd

    def _spawn(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        me = os.getpid()

        def child_setup() -> None:  # runs in the child between fork and exec
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != me:  # supervisor already gone: never run unguarded
                os._exit(127)

        try:
            self.child = subprocess.Popen(self.args.vm_argv, cwd=self.args.cwd or None, stdin=subprocess.DEVNULL,
                                          pass_fds=tuple(self.args.pass_fd), preexec_fn=child_setup)
        except (OSError, subprocess.SubprocessError) as exc:
            raise DriverError(ErrorCode.OPERATION_FAILED,
                              f"cannot start VM process {self.args.vm_argv[0]!r}: {exc}") from None

    def info(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "name": self.args.name, "host": self.args.host,
                "supervisor_pid": os.getpid(), "vm_pid": self.child.pid if self.child else None,
                "socket": str(self.files.sock), "lockspace": str(self.holder.lockspace.path),
                "active": self.active, "register_only": bool(self.args.register_only),
                "leases": [r.to_json() for r in self.holder.held],
                "registered": [r.to_json() for r in self.registered]}

    # -- requests -------------------------------------------------------------------------------
    def handle(self, op: str, args: dict[str, Any]) -> Any:
        if op == "info":
            return self.info()
        if op == "inquire":
            return state.encode(self.uuid, self.registered, held=self.active)
        if op == "acquire":
            return self.acquire(Resource.make(args.get("path"), args.get("mode", "exclusive"),
                                              args.get("kind", "disk")))
        if op == "release":
            return self.release(args.get("path"))
        if op == "acquire_state":
            return self.acquire_state(args.get("state", ""))
        if op == "terminate":
            self.terminate()
            return None
        raise DriverError(ErrorCode.NO_SUPPORT, f"unknown supervisor operation {op!r}")

    def acquire(self, res: Resource) -> None:
        """Hot-plug: take one more lease (only register it while released)."""
        names = {k.name for k in res.keys}
        for old in self.registered:
            if old.path == res.path or names.intersection(k.name for k in old.keys):
                if old.mode is res.mode:
                    return  # already ours: idempotent
                raise DriverError(ErrorCode.NO_SUPPORT,
                                  f"{res.path} is already held {old.mode.value}; changing the mode of a lease "
                                  "is not supported, release it first")
        before = self.holder.record.registered
        self.holder.set_registered(self.registered + [res], publish=not self.active)
        if self.active:
            try:
                self.holder.acquire([res])  # publishes the record once, with the new resource
            except BaseException:
                self.holder.record.registered = before
                raise
        self.registered.append(res)

    def release(self, path: object) -> str:
        """Release one resource (hot-unplug) or, with no path, all (pause, migration)."""
        if path is None:
            self.holder.release()
            self.active = False
        else:
            gone = self.holder.find(path)
            real = Resource.make(path).path
            self.registered = [r for r in self.registered if r not in gone and r.path != real]
            self.holder.set_registered(self.registered, publish=not gone)
            self.holder.release(gone)  # publishes the record once
        return state.encode(self.uuid, self.registered, held=False)

    def acquire_state(self, text: object) -> None:
        """Re-acquire: the leases of a state string, or with "" those registered."""
        wanted = state.decode(text, self.uuid) if text else list(self.registered)
        missing = [r for r in wanted if r not in self.holder.held]
        registered = list(dict.fromkeys(self.registered + wanted))
        before = self.holder.record.registered
        self.holder.set_registered(registered, publish=not missing)
        try:
            self.holder.acquire(missing)
        except BaseException:
            self.holder.record.registered = before
            raise
        self.registered = registered
        self.active = True

    def terminate(self) -> None:
        self.requested = True
        if self.child is not None and self.child.returncode is None:
            try:
                self.child.send_signal(signal.SIGTERM)
            except OSError:
                pass

    # -- loop -----------------------------------------------------------------------------------
    def serve(self) -> int:
        """Serve until the child exits; returns the exit status to leave with."""
        assert self.child is not None and self._sock is not None
        wake_r = self.wake_r
        try:
            pidfd = os.pidfd_open(self.child.pid)
        except OSError:
            pidfd = None
        self.sel.register(self._sock, selectors.EVENT_READ, "listen")
        self.sel.register(wake_r, selectors.EVENT_READ, "signal")
        if pidfd is not None:
            self.sel.register(pidfd, selectors.EVENT_READ, "child")
        while self.child.poll() is None:
            for key, _ in self.sel.select(timeout=None if pidfd is not None else 0.05):
                if key.data == "listen":
                    self._accept()
                elif key.data == "signal":
                    self._signals(wake_r)
                elif key.data == "child":
                    self.child.poll()
                else:
                    self._readable(key.fileobj)  # type: ignore[arg-type]
        rc = self.child.returncode
        status = ExitStatus(rc if rc >= 0 else None, -rc if rc < 0 else None, self.requested)
        self.files.write_json(self.files.status, {"uuid": self.uuid, "name": self.args.name,
                                                  "vm_pid": self.child.pid, "ended": time.time(),
                                                  **status.to_json()})
        return status.wait_status

    def _signals(self, fd: int) -> None:
        try:
            data = os.read(fd, 64)
        except BlockingIOError:
            return
        if signal.SIGTERM in data:
            self.terminate()

    def _accept(self) -> None:
        assert self._sock is not None
        try:
            conn, _ = self._sock.accept()
        except BlockingIOError:
            return
        conn.setblocking(True)
        conn.settimeout(5.0)  # a client that stops reading must not stall the loop for long
        self.buffers[conn] = bytearray()
        self.sel.register(conn, selectors.EVENT_READ, "client")

    def _readable(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        buf = self.buffers[conn]
        buf += data
        while b"\n" in buf:
            line, _, rest = bytes(buf).partition(b"\n")
            buf[:] = rest
            try:
                op, args = protocol.parse_request(line)
                reply = protocol.reply_ok(self.handle(op, args))
            except DriverError as err:
                reply = protocol.reply_error(err)
            except Exception as exc:  # noqa: BLE001 - never let one request kill the VM's lease holder
                reply = protocol.reply_error(DriverError(ErrorCode.INTERNAL_ERROR, f"supervisor: {exc!r}"))
            try:
                conn.sendall(reply)
            except OSError:
                self._drop(conn)
                return
        if len(buf) > protocol.MAX_LINE:
            self._drop(conn)

    def _drop(self, conn: socket.socket) -> None:
        self.sel.unregister(conn)
        self.buffers.pop(conn, None)
        conn.close()

    # -- end ------------------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Release everything; safe to call after a partial start."""
        if self.child is not None and self.child.poll() is None:
            self.child.kill()  # only reached on a start-up failure after spawn
            self.child.wait()
        if self._sock is not None:
            self.files.unlink(self.files.sock, self.files.info)
            self._sock.close()
        try:
            self.holder.close()
        finally:
            if self._run_fd is not None:
                os.close(self._run_fd)
                self._run_fd = None


def main(argv: Sequence[str] | None = None) -> int:
    """Run a supervisor; the exit status mirrors the VM's (1 if the start failed)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    notify = _Notifier(None)
    sup: Supervisor | None = None
    try:
        args = _parser().parse_args(argv)
        if args.vm_argv and args.vm_argv[0] == "--":
            args.vm_argv = args.vm_argv[1:]
        notify = _Notifier(args.notify_fd)
        sup = Supervisor(args)
        sup.start()
    except DriverError as err:
        if sup is not None:
            sup.cleanup()
        notify.send(protocol.reply_error(err))
        print(f"vmgui-supervisor: {err}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the starter must hear why, whatever it was
        if sup is not None:
            sup.cleanup()
        notify.send(protocol.reply_error(DriverError(ErrorCode.INTERNAL_ERROR, f"supervisor start: {exc!r}")))
        print(f"vmgui-supervisor: {exc!r}", file=sys.stderr)
        return 1
    notify.send(protocol.reply_ok({"supervisor_pid": os.getpid(), "vm_pid": sup.child.pid if sup.child else None}))
    os.chdir("/")
    try:
        return sup.serve()
    finally:
        sup.cleanup()


if __name__ == "__main__":
    sys.exit(main())
