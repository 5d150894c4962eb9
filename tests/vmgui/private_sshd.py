"""A private OpenSSH server on 127.0.0.1 for remote-host tests: its own config, host key and
authorized key in a temporary directory, run as the current user on a free port (never the
system sshd, never port 22), and the matching client side for libvirt's ``qemu+ssh://``.

The client runs ``ssh`` through a wrapper (libvirt's ``command=`` parameter) that reads only
this directory's ssh_config: the host key is checked against a known_hosts file written here,
and nothing is added to the user's ~/.ssh.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
SSH = shutil.which("ssh")
SSH_KEYGEN = shutil.which("ssh-keygen")
NETCAT = shutil.which("nc")
#: sshd started by root needs its privilege separation directory (made by the system's unit otherwise)
PRIVSEP_DIR = Path("/run/sshd")


def unavailable_reason() -> str | None:
    """Why a private sshd cannot run here (None when it can)."""
    if SSHD is None:
        return "sshd is not installed (Debian: apt-get install openssh-server)"
    if SSH is None or SSH_KEYGEN is None:
        return "ssh/ssh-keygen are not installed (Debian: apt-get install openssh-client)"
    if NETCAT is None:
        return "nc is not installed; libvirt's ssh transport runs it on the host (Debian: netcat-openbsd)"
    return None


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc), deepest last."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class PrivateSshd:
    def __init__(self, root: str | None = None, forwarding: str = "local") -> None:
        #: sshd's AllowTcpForwarding: "local" lets a client reach the host's displays (-W, -L), "no" refuses
        self.forwarding = forwarding
        self.root = Path(root or tempfile.mkdtemp(prefix="vmgui-sshd-", dir="/tmp"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        self.key = self.root / "id_ed25519"
        self.ssh_wrapper = self.root / "ssh"
        self.proc: subprocess.Popen | None = None

    def _prepare(self) -> None:
        assert SSHD is not None and SSH is not None and SSH_KEYGEN is not None, unavailable_reason()
        os.chmod(self.root, 0o700)
        host_key = self.root / "host_ed25519"
        for path in (host_key, self.key):
            if not path.exists():
                subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
        (self.root / "authorized_keys").write_text((self.root / "id_ed25519.pub").read_text())
        (self.root / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {self.root}/sshd.pid\n"
            f"AuthorizedKeysFile {self.root}/authorized_keys\nStrictModes no\nUsePAM no\n"
            "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            f"PermitRootLogin prohibit-password\nAllowTcpForwarding {self.forwarding}\nX11Forwarding no\nPrintMotd no\n"
            "ClientAliveInterval 0\nLogLevel VERBOSE\n")
        host_pub = (self.root / "host_ed25519.pub").read_text().split()
        (self.root / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        (self.root / "ssh_config").write_text(
            f"Host *\n  UserKnownHostsFile {self.root}/known_hosts\n  GlobalKnownHostsFile /dev/null\n"
            "  StrictHostKeyChecking yes\n  BatchMode yes\n  IdentitiesOnly yes\n"
            f"  IdentityFile {self.key}\n  ConnectTimeout 10\n")
        self.ssh_wrapper.write_text(f'#!/bin/sh\nexec {SSH} -F {self.root}/ssh_config "$@"\n')
        os.chmod(self.ssh_wrapper, 0o755)

    def start(self, timeout: float = 30.0) -> None:
        self._prepare()
        assert SSHD is not None
        if os.geteuid() == 0:
            PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        log = open(self.root / "sshd.log", "ab")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.root / "sshd_config")],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private sshd did not start: {self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join((self.root / "sshd.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        """The host goes away: the server and every session it serves (the tunnels) die at once."""
        if self.proc is None:
            return
        self._signal_all(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def freeze(self) -> None:
        """The host stops answering but nothing closes: server and sessions stopped, TCP still open."""
        self._signal_all(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal_all(signal.SIGCONT)

    def _signal_all(self, signum: int) -> None:
        if self.proc is not None:
            for pid in [self.proc.pid, *_children(self.proc.pid)]:
                try:
                    os.kill(pid, signum)
                except ProcessLookupError:
                    pass

    def stop(self) -> None:
        self.thaw()
        self.kill()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def libvirt_uri(self, socket_path: Path, path: str = "/session") -> str:
        """``qemu+ssh://`` to the libvirt daemon listening on ``socket_path`` on this "host"."""
        params = {"socket": str(socket_path), "command": str(self.ssh_wrapper), "keyfile": str(self.key),
                  "proxy": "netcat"}
        query = "&".join(f"{name}={quote(value, safe='/')}" for name, value in params.items())
        return f"qemu+ssh://{self.user}@127.0.0.1:{self.port}{path}?{query}"
