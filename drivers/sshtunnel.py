"""A display stream through ssh: how a remote host's VNC server is reached when no descriptor can be passed.

libvirt hands over a display as a file descriptor (virDomainOpenGraphicsFD) only on a local unix
connection to its daemon; over ``qemu+ssh://`` it cannot. The VNC endpoint named in the domain's live
XML is reached instead through ssh, with the connection's own user, host, port, key file and ssh
command from its URI: a TCP address with ``ssh -W`` (ssh's standard input and output are one end of a
socket pair, the other end is the caller's stream), a unix socket with ``ssh -L`` to a socket of our
own (a stream-local forward). Either way the caller gets a socket an RFB client reads like any other,
and closing it ends the ssh process. Everything runs as argv lists;
nothing passes through a shell.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import parse_qs, unquote, urlsplit

from .domxml import Graphics
from .errors import DriverError, ErrorCode

log = logging.getLogger(__name__)

#: how long ssh may take to log in and reach the display before the server's first bytes arrive
CONNECT_TIMEOUT = 30.0
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


@dataclass(frozen=True)
class SshTarget:
    """Who ssh logs in as, where, and how, as a libvirt ``+ssh`` URI says."""

    host: str
    user: str | None = None
    port: int | None = None
    keyfile: str | None = None
    command: str = "ssh"  # libvirt's ``command=``: the ssh binary (or a wrapper) to run
    no_verify: bool = False  # libvirt's ``no_verify=1``: accept a host key not yet known

    @classmethod
    def from_uri(cls, uri: str) -> SshTarget | None:
        """The target of a ``driver+ssh://[user@]host[:port]/...`` URI; None for any other transport."""
        parts = urlsplit(uri)
        if not parts.scheme.endswith("+ssh") or not parts.hostname:
            return None
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            port = parts.port
        except ValueError:
            raise DriverError(ErrorCode.INVALID_ARG, f"the port in {uri} is not a number") from None
        return cls(host=parts.hostname, user=unquote(parts.username) if parts.username else None, port=port,
                   keyfile=query.get("keyfile"), command=query.get("command") or "ssh",
                   no_verify=query.get("no_verify", "0") not in ("", "0"))

    def argv(self, endpoint: str) -> list[str]:
        """ssh forwarding its standard input and output to ``endpoint`` (host:port) on the host, asking nothing."""
        return self._options() + ["-W", endpoint, "--", self.host]

    def forward_argv(self, local: str, remote: str) -> list[str]:
        """ssh forwarding connections to the unix socket ``local`` here to ``remote`` on the host."""
        return self._options() + ["-N", "-o", "ExitOnForwardFailure=yes", "-L", f"{local}:{remote}",
                                  "--", self.host]

    def _options(self) -> list[str]:
        argv = [self.command, "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={int(CONNECT_TIMEOUT)}"]
        if self.port is not None:
            argv += ["-p", str(self.port)]
        if self.user:
            argv += ["-l", self.user]
        if self.keyfile:
            argv += ["-i", self.keyfile]
        if self.no_verify:
            argv += ["-o", "StrictHostKeyChecking=no"]
        return argv


def vnc_endpoint(graphics: Graphics, name: str) -> str:
    """What ``ssh -W`` connects to on the host for a running VNC display: its socket, else host:port.

    A server listening on every address is reached on the host's loopback.
    """
    if graphics.type != "vnc":
        raise DriverError(ErrorCode.NO_SUPPORT, f"the display of '{name}' is {graphics.type}, not VNC: "
                                                "open it in an external viewer")
    if graphics.socket:
        return graphics.socket
    if graphics.port is None or graphics.port <= 0:
        raise DriverError(ErrorCode.OPERATION_FAILED,
                          f"the live XML of '{name}' names no VNC port or socket to reach its display by")
    listen = _WILDCARDS.get(graphics.listen or "", graphics.listen or "127.0.0.1")
    return f"[{listen}]:{graphics.port}" if ":" in listen else f"{listen}:{graphics.port}"


class TunnelSocket(socket.socket):
    """A stream carried by an ssh process, which ends when the stream is closed (or ends by itself)."""

    def __init__(self, proc: subprocess.Popen[bytes], fileno: int) -> None:
        super().__init__(fileno=fileno)
        self._proc = proc
        weakref.finalize(self, _terminate, proc)  # a stream dropped without close() ends its ssh too

    def close(self) -> None:
        super().close()
        _terminate(self._proc)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()  # a -L forward would otherwise wait for connections forever


def open_tunnel(target: SshTarget, endpoint: str, name: str, timeout: float = CONNECT_TIMEOUT) -> socket.socket:
    """A stream to ``endpoint`` through ssh, once the server at the far end has sent its first bytes.

    A TCP endpoint goes through ``ssh -W``; a unix socket through ``ssh -L`` to a socket in a fresh 0700
    directory, removed once connected (OpenSSH before 9.3 forwards standard input to TCP only). Blocks up
    to ``timeout`` (a worker thread's call). A failure (ssh missing, login refused, forwarding not
    allowed, nothing listening) is OPERATION_FAILED with ssh's own last words.
    """
    if endpoint.startswith("/"):
        return _local_forward(target, endpoint, name, timeout)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        proc = _spawn(target, target.argv(endpoint), name, stdio=theirs)
    except DriverError:
        ours.close()
        raise
    finally:
        theirs.close()
    return _first_bytes(TunnelSocket(proc, ours.detach()), proc, target, name, timeout)


def _local_forward(target: SshTarget, remote: str, name: str, timeout: float) -> socket.socket:
    folder = tempfile.mkdtemp(prefix="vmgui-ssh-display-", dir=os.environ.get("XDG_RUNTIME_DIR") or None)
    local = os.path.join(folder, "vnc.sock")
    try:
        proc = _spawn(target, target.forward_argv(local, remote), name, stdio=None)
        deadline = time.monotonic() + timeout
        while not os.path.exists(local) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        sock = TunnelSocket(proc, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).detach())
        try:
            sock.connect(local)
        except OSError:
            sock.close()
            _fail(proc, target, name, timeout)
        return _first_bytes(sock, proc, target, name, timeout)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # connected (or failed): nobody else may use the forward


def _spawn(target: SshTarget, argv: list[str], name: str, stdio: socket.socket | None) -> subprocess.Popen[bytes]:
    try:
        fd = stdio.fileno() if stdio is not None else subprocess.DEVNULL
        return subprocess.Popen(argv, stdin=fd, stdout=fd, stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED,
                          f"cannot run {target.command} to reach the display of '{name}': "
                          f"{exc.strerror or exc}") from None


def _first_bytes(sock: TunnelSocket, proc: subprocess.Popen[bytes], target: SshTarget, name: str,
                 timeout: float) -> socket.socket:
    """``sock`` once the far end spoke (an RFB server speaks first); else the failure in ssh's words."""
    try:
        sock.settimeout(timeout)
        first = sock.recv(1, socket.MSG_PEEK)
        sock.settimeout(None)
    except OSError:
        first = b""
    if not first:
        sock.close()
        _fail(proc, target, name, timeout)
    threading.Thread(target=_reap, args=(proc,), name=f"vmgui-ssh-display-{name}", daemon=True).start()
    return sock


def _fail(proc: subprocess.Popen[bytes], target: SshTarget, name: str, timeout: float) -> NoReturn:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    said = _last_words(proc)
    raise DriverError(ErrorCode.OPERATION_FAILED,
                      f"ssh to {target.host} could not reach the display of '{name}'"
                      + (f": {said}" if said else f" (nothing answered within {timeout:.0f} s)"))


def _last_words(proc: subprocess.Popen[bytes]) -> str:
    assert proc.stderr is not None
    try:
        text = proc.stderr.read().decode("utf-8", "replace")
    finally:
        proc.stderr.close()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Wait for ssh (it ends with the stream) so it leaves no zombie; log what it said if it failed."""
    said = _last_words(proc)
    code = proc.wait()
    if code not in (0, -signal.SIGTERM) and said:
        log.info("ssh display tunnel ended with %s: %s", code, said)
