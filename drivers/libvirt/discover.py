"""Which of this machine's libvirt QEMU daemons to open at start, and why.

Someone who used virt-manager has their VMs in libvirt's per-user session
daemon or in the system daemon. :func:`discover` names the ones that are
running, that this user may talk to and that answer within a few seconds.

It looks for each daemon's socket before opening anything. An open of plain
``qemu:///session`` by an unprivileged user *autostarts* a session daemon when
none runs (libvirt's ``remoteGetURIDaemonInfo``): merely starting vmgui would
then spawn virtqemud/libvirtd for people who never used libvirt, leaving a
daemon and its config and cache directories behind. So a session daemon is
opened through the socket that was found (``?socket=``), which libvirt never
autostarts: the connection is the daemon that answered the probe, and a daemon
that exits later (session daemons quit when idle) is just not there, not
respawned. (A socket that systemd holds for a daemon it starts on demand is
there because that unit is enabled: connecting starting it is what it is for.)
It also reaches a session daemon when running as root, where libvirt
maps ``/session`` to the system daemon.

The socket names and their order are libvirt's own (``remoteGetUNIXSocket`` in
auto mode): the modular daemon's ``virtqemud-sock`` first, then the monolithic
``libvirt-sock``; the session ones under ``$XDG_RUNTIME_DIR/libvirt`` (GLib's
user runtime dir, which falls back to the user cache dir ``~/.cache``), the
system ones under ``/var/run/libvirt``.

Who may use the system daemon: connecting to a UNIX socket needs write
permission on it, which the kernel checks and root always has. The daemon
grants that with ``unix_sock_group``/``unix_sock_rw_perms`` (Debian: group
``libvirt``, 0770); where the socket is world-writable, its ``auth_unix_rw``
(polkit) decides. libvirt-python opens without an authentication agent (only
virsh starts one), so a polkit refusal is an open that fails the probe at
once, never a password prompt.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from ..discovery import Candidate
from ..errors import DriverError
from .connection import concurrently
from .runtime import lv, open_with_timeout

#: Seconds a daemon gets to answer the probe; one that is slower is not opened at start.
PROBE_TIMEOUT = 3.0
#: Where plain qemu:///system connects (libvirt: $LOCALSTATEDIR/run/libvirt).
LIBVIRT_SYSTEM_DIR = Path("/var/run/libvirt")
#: Where discovery looks for the system daemons' sockets.
SYSTEM_SOCKET_DIR = LIBVIRT_SYSTEM_DIR
#: Socket file names in the order libvirt prefers them.
SOCKET_NAMES = ("virtqemud-sock", "libvirt-sock")
SESSION_URI = "qemu:///session"
SYSTEM_URI = "qemu:///system"


def session_socket_dir(env: Mapping[str, str]) -> Path:
    """``$XDG_RUNTIME_DIR/libvirt``, else ``~/.cache/libvirt``: where the session daemons listen."""
    runtime = env.get("XDG_RUNTIME_DIR", "").strip()
    if runtime:
        return Path(runtime) / "libvirt"
    home = env.get("HOME", "").strip() or str(Path.home())
    cache = env.get("XDG_CACHE_HOME", "").strip() or os.path.join(home, ".cache")
    return Path(cache) / "libvirt"


def find_socket(directory: Path) -> Path | None:
    """The socket libvirt would use in ``directory`` (the modular daemon's first), if any is there."""
    for name in SOCKET_NAMES:
        path = directory / name
        try:
            if stat.S_ISSOCK(path.stat().st_mode):
                return path
        except OSError:
            continue
    return None


def probe(uri: str, timeout: float) -> DriverError | None:
    """Open and close ``uri``; the error when it fails or does not answer within ``timeout`` s."""
    try:
        conn = open_with_timeout(uri, timeout)
    except DriverError as exc:
        return exc
    try:
        conn.close()
    except lv().libvirtError:
        pass
    return None


def _aliases(uri: str) -> frozenset[str]:
    return frozenset({uri, f"libvirt:{uri}"})


def _session(env: Mapping[str, str], euid: int, timeout: float) -> Candidate | None:
    sock = find_socket(session_socket_dir(env))
    if sock is None:
        return None
    uri = f"{SESSION_URI}?socket={quote(str(sock), safe='/')}"
    same = _aliases(uri) | (_aliases(SESSION_URI) if euid > 0 else frozenset())
    error = probe(uri, timeout)
    if error is not None:
        return Candidate(SESSION_URI, uri, False, f"the session daemon at {sock} could not be opened "
                         f"({error.message})", same)
    return Candidate(SESSION_URI, uri, True, f"libvirt's session daemon answered ({sock})", same)


def _system(directory: Path, euid: int, timeout: float) -> Candidate | None:
    sock = find_socket(directory)
    if sock is None:
        return None
    # the usual place is what plain qemu:///system reaches; another one is named
    uri = SYSTEM_URI if directory == LIBVIRT_SYSTEM_DIR else f"{SYSTEM_URI}?socket={quote(str(sock), safe='/')}"
    same = _aliases(uri)
    if euid != 0 and not os.access(sock, os.W_OK):
        return Candidate(SYSTEM_URI, uri, False, f"{sock} is not writable for this user (libvirt "
                         "lets the members of its socket's group in, on Debian the group libvirt)", same)
    error = probe(uri, timeout)
    if error is not None:
        return Candidate(SYSTEM_URI, uri, False, f"the system daemon at {sock} could not be opened "
                         f"({error.message})", same)
    who = "running as root" if euid == 0 else "this user may write to its socket"
    return Candidate(SYSTEM_URI, uri, True, f"libvirt's system daemon answered ({who})", same)


def discover(timeout: float = PROBE_TIMEOUT, env: Mapping[str, str] | None = None,
             system_dir: Path | None = None, euid: int | None = None) -> list[Candidate]:
    """The session and system daemons found (session first), each probed at the same time.

    A daemon without a socket is not listed; one found but refused or silent is
    listed with ``usable=False`` and the reason. Without libvirt-python there is
    nothing to discover: NO_SUPPORT (:func:`drivers.libvirt.runtime.lv`).
    """
    lv()
    env = os.environ if env is None else env
    system = SYSTEM_SOCKET_DIR if system_dir is None else system_dir
    uid = os.geteuid() if euid is None else euid
    found = concurrently([lambda: _session(env, uid, timeout), lambda: _system(system, uid, timeout)])
    return [candidate for candidate in found if candidate is not None]
