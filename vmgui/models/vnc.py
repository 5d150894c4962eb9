"""The graphical console in an external VNC or SPICE viewer: which viewer, which address, which argv.

The Display window draws VNC itself; for the rest (SPICE, or a user's preference)
where a viewer is installed vmgui starts one, detached,
pointed at the address the *live* domain XML gives (``<graphics type='vnc'>``
with a port or a unix socket). Viewers differ in what they accept, so each has
a small argv builder that returns None when it cannot reach that address (no
unix sockets in gvncviewer, xtightvncviewer and krdc). Domains of a remote
libvirt host are reached through virt-viewer's ``--connect`` (libvirt tunnels
the display); a raw address of another machine would not be reachable. A
SPICE-only domain goes to remote-viewer or virt-viewer, the ones that speak SPICE.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from drivers import DriverError, ErrorCode
from drivers.domxml import DomainXML

from ..textmark import N_
from .domains import Key
from .hosts import LIBVIRT_PREFIX, remote_host

if TYPE_CHECKING:
    from .session import Session

#: Preference order: virt-viewer's tools first (they also speak SPICE and libvirt), then plain VNC viewers.
VIEWERS = ("remote-viewer", "virt-viewer", "vncviewer", "gvncviewer", "xtightvncviewer", "krdc")


@dataclass(frozen=True)
class VncAddress:
    """Where a domain's VNC server listens: a unix socket, or host and TCP port."""

    socket: str | None = None
    host: str = "127.0.0.1"
    port: int | None = None

    def describe(self) -> str:
        return self.socket if self.socket else f"{_bracket(self.host)}:{self.port}"


@dataclass(frozen=True)
class Target:
    """What to connect a viewer to: the address, and for libvirt the URI and domain name."""

    address: VncAddress | None
    libvirt_uri: str | None = None  # set for domains of a libvirt connection
    remote: bool = False  # that libvirt host is another machine
    domain: str = ""


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _connect_host(host: str) -> str:
    """A wildcard listen address is reached on loopback."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def vnc_address(xml: str) -> VncAddress | None:
    """The first ``<graphics type='vnc'>`` of live XML; None when it has none or its port is not known yet."""
    for g in DomainXML.parse(xml).graphics():
        if g.type != "vnc":
            continue
        if g.socket:
            return VncAddress(socket=g.socket)
        if g.port is not None and g.port > 0:
            return VncAddress(host=_connect_host(g.listen or "127.0.0.1"), port=g.port)
        return None
    return None


def has_vnc(xml: str) -> bool:
    return any(g.type == "vnc" for g in DomainXML.parse(xml).graphics())


def spice_uri(xml: str) -> str | None:
    """remote-viewer's URI of the first ``<graphics type='spice'>`` (None: none, or its port not known yet)."""
    for g in DomainXML.parse(xml).graphics():
        if g.type != "spice":
            continue
        if g.socket:
            return f"spice+unix://{g.socket}"
        if g.port is not None and g.port > 0:
            return f"spice://{_bracket(_connect_host(g.listen or '127.0.0.1'))}:{g.port}"
        return None
    return None


def plan_spice(xml: str, uri: str, name: str, viewers: Sequence[tuple[str, str]]) -> tuple[list[str] | None, str]:
    """The argv of a SPICE viewer for ``name`` (remote-viewer at its address, virt-viewer through libvirt)."""
    libvirt_uri, remote = libvirt_target(uri)
    address = spice_uri(xml)
    for viewer, exe in viewers:
        if viewer == "remote-viewer" and address is not None and not remote:
            return [exe, address], viewer
        if viewer == "virt-viewer" and libvirt_uri is not None:
            return [exe, "--connect", libvirt_uri, name], viewer
    return None, N_("{name}'s display is SPICE: only remote-viewer or virt-viewer opens it (install virt-viewer)",
                    name=name)


def libvirt_target(uri: str) -> tuple[str | None, bool]:
    """(the libvirt URI behind a vmgui connection URI, whether it names another machine)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme == "test" or (parts.scheme == "qemu" and parts.path == "/embed" and not parts.netloc):
        return None, False
    inner = uri[len(LIBVIRT_PREFIX):] if uri.startswith(LIBVIRT_PREFIX) else uri
    return inner, remote_host(inner) is not None


# -- one argv builder per viewer: None = it cannot reach this target ---------------------------
def _remote_viewer(exe: str, t: Target) -> list[str] | None:
    a = t.address
    if a is None or t.remote:
        return None
    if a.socket:
        return [exe, f"vnc+unix://{a.socket}"]
    return [exe, f"vnc://{_bracket(a.host)}:{a.port}"]


def _virt_viewer(exe: str, t: Target) -> list[str] | None:
    if t.libvirt_uri is None:  # it only speaks libvirt; an embedded host is not one
        return None
    return [exe, "--connect", t.libvirt_uri, t.domain]


def _vncviewer(exe: str, t: Target) -> list[str] | None:
    a = t.address
    if a is None or t.remote:
        return None
    if a.socket:  # TigerVNC takes a socket path as the server
        return [exe, a.socket]
    return [exe, f"{_bracket(a.host)}::{a.port}"]


def _display_number(exe: str, t: Target) -> list[str] | None:
    """gvncviewer: host:display (port 5900 + n); no sockets, no other ports."""
    a = t.address
    if a is None or t.remote or a.socket or a.port is None or not 5900 <= a.port < 5900 + 10000:
        return None
    return [exe, f"{_bracket(a.host)}:{a.port - 5900}"]


def _host_port(exe: str, t: Target) -> list[str] | None:
    a = t.address
    if a is None or t.remote or a.socket:
        return None
    return [exe, f"{_bracket(a.host)}::{a.port}"]


def _krdc(exe: str, t: Target) -> list[str] | None:
    a = t.address
    if a is None or t.remote or a.socket:
        return None
    return [exe, f"vnc://{_bracket(a.host)}:{a.port}"]


BUILDERS: dict[str, Callable[[str, Target], list[str] | None]] = {
    "remote-viewer": _remote_viewer, "virt-viewer": _virt_viewer, "vncviewer": _vncviewer,
    "gvncviewer": _display_number, "xtightvncviewer": _host_port, "krdc": _krdc,
}


@lru_cache(maxsize=8)
def _installed(path: str) -> tuple[tuple[str, str], ...]:
    found = ((name, shutil.which(name, path=path)) for name in VIEWERS)
    return tuple((name, exe) for name, exe in found if exe)


def installed_viewers() -> tuple[tuple[str, str], ...]:
    """(name, executable) of every known viewer on PATH, in preference order (cached per PATH)."""
    return _installed(os.environ.get("PATH", os.defpath))


def choose(viewers: Sequence[tuple[str, str]], target: Target) -> tuple[list[str] | None, str]:
    """The argv of the first viewer that can reach ``target``, or (None, why not)."""
    if not viewers:
        return None, N_("no VNC viewer is installed (install virt-viewer or TigerVNC)")
    for name, exe in viewers:
        argv = BUILDERS[name](exe, target)
        if argv is not None:
            return argv, name
    names = ", ".join(name for name, _exe in viewers)
    if target.remote:
        return None, N_("{name} runs on another machine: only virt-viewer reaches its display (found {viewers})",
                        name=target.domain, viewers=names)
    if target.address is None:
        return None, N_("{name} has no VNC address to connect to", name=target.domain)
    return None, N_("none of the installed viewers ({viewers}) can open {address}", viewers=names,
                    address=target.address.describe())


#: (uri, uuid) of domains whose live XML had no VNC graphics when last read: the action says so.
_WITHOUT_VNC: set[Key] = set()


def known_without_vnc(key: Key) -> bool:
    return key in _WITHOUT_VNC


def _remember(key: Key, vnc: bool) -> None:
    if vnc:
        _WITHOUT_VNC.discard(key)
    elif len(_WITHOUT_VNC) < 10000:
        _WITHOUT_VNC.add(key)


def _probe(uri: str) -> Target:
    """A typical target of ``uri`` before its XML is read: embedded QEMU uses a socket, libvirt a port."""
    libvirt_uri, remote = libvirt_target(uri)
    address = VncAddress(socket="/probe.vnc") if libvirt_uri is None else VncAddress(port=5900)
    return Target(address, libvirt_uri, remote, "")


def viewer_for(uri: str, viewers: Sequence[tuple[str, str]]) -> str:
    """The name of the viewer a domain of ``uri`` would most likely open in."""
    target = _probe(uri)
    return next((name for name, exe in viewers if BUILDERS[name](exe, target) is not None),
                viewers[0][0] if viewers else N_("a VNC viewer"))


def why_no_viewer(uri: str, viewers: Sequence[tuple[str, str]], key: Key) -> str | None:
    """Why the graphical console cannot open for ``key`` of ``uri`` (before its XML is read), or None.

    Phrased to follow the domain's name, as the other action tooltips are.
    """
    if not viewers:
        return N_("cannot be shown: no VNC viewer is installed (install virt-viewer or TigerVNC)")
    if known_without_vnc(key):
        return N_("has no VNC graphics (add <graphics type='vnc'/> to its definition)")
    return _viewer_problem(uri, tuple(viewers))


@lru_cache(maxsize=64)
def _viewer_problem(uri: str, viewers: tuple[tuple[str, str], ...]) -> str | None:
    """Per connection, not per domain: a selection of thousands asks once."""
    target = _probe(uri)
    if any(BUILDERS[n](exe, target) is not None for n, exe in viewers):
        return None
    if target.remote:
        return N_("runs on another machine: only virt-viewer reaches its display (install virt-viewer)")
    return N_("cannot be shown: {viewers} cannot open a display of {uri} (install remote-viewer or TigerVNC)",
              viewers=", ".join(n for n, _exe in viewers), uri=uri)


def plan(xml: str, uri: str, name: str, viewers: Sequence[tuple[str, str]]) -> tuple[list[str] | None, str]:
    """The viewer argv for ``name``'s live XML on ``uri``, or (None, why not)."""
    if not has_vnc(xml):
        if any(g.type == "spice" for g in DomainXML.parse(xml).graphics()):
            return plan_spice(xml, uri, name, viewers)
        return None, N_("{name} has no VNC graphics (add <graphics type='vnc'/> to its definition)", name=name)
    libvirt_uri, remote = libvirt_target(uri)
    return choose(viewers, Target(vnc_address(xml), libvirt_uri, remote, name))


def launch(argv: list[str]) -> None:
    """Start the viewer in its own session: it outlives a closing vmgui and gets no terminal signals."""
    try:
        subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot start {argv[0]}: {exc.strerror or exc}") from None


async def open_graphical_console(session: Session, key: Key) -> list[str] | None:
    """Read ``key``'s live XML through the bridge and start a viewer on it; failures go to the messages."""
    name = session.domains.name_of(key)
    try:
        xml = await session.domain_xml(key)
    except DriverError as exc:
        session.messages.error(exc, N_("Opening the graphical console of {name}", name=name))
        return None
    _remember(key, has_vnc(xml) or spice_uri(xml) is not None)
    argv, why = plan(xml, key[0], name, installed_viewers())
    if argv is None:
        # the reason as it follows the heading ("… — vm1 has no VNC graphics …"): a domain name keeps its case
        session.messages.add("warning", N_("Cannot open the graphical console of {name}", name=name),
                             N_("{sentence}.", sentence=why))
        return None
    try:
        launch(argv)
    except DriverError as exc:
        session.messages.error(exc, N_("Opening the graphical console of {name}", name=name))
        return None
    session.status.emit(N_("Opened the graphical console of {name} in {viewer}", name=name, viewer=why))
    return argv
