"""Finding this machine's libvirt daemons: a socket that answers is opened, none is no news, a
silent one costs the probe timeout and nothing else; libvirt's socket order and directories."""
from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

import drivers
from drivers.libvirt import discover

pytestmark = pytest.mark.libvirt


def silent_socket(path: Path) -> socket.socket:
    """A UNIX socket that accepts connections into its backlog and never answers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(8)
    return sock


def test_a_running_session_daemon_is_found_and_its_domains_are_there(qconn, libvirtd, unique, tmp_path):
    qconn.define_xml(libvirtd.domain_xml(f"found-{unique}"))
    found = discover.discover(env={"XDG_RUNTIME_DIR": str(libvirtd.root / "run")}, system_dir=tmp_path)
    assert [(c.name, c.usable) for c in found] == [("qemu:///session", True)]
    session = found[0]
    assert session.uri == f"qemu:///session?socket={libvirtd.sock}"
    assert session.sentence() == f"qemu:///session: libvirt's session daemon answered ({libvirtd.sock})"
    conn = drivers.open(session.uri)
    try:
        assert f"found-{unique}" in [dom.name for dom in conn.list_all_domains()]
    finally:
        conn.close()


def test_no_daemon_means_nothing_found(tmp_path):
    assert discover.discover(env={"XDG_RUNTIME_DIR": str(tmp_path / "run")}, system_dir=tmp_path / "sys") == []


def test_a_silent_socket_is_not_usable_and_costs_only_the_timeout(tmp_path):
    session = silent_socket(tmp_path / "run/libvirt/virtqemud-sock")
    system = silent_socket(tmp_path / "sys/libvirt-sock")
    try:
        began = time.monotonic()
        found = discover.discover(timeout=1.0, env={"XDG_RUNTIME_DIR": str(tmp_path / "run")},
                                  system_dir=tmp_path / "sys", euid=0)
        elapsed = time.monotonic() - began
    finally:
        session.close()
        system.close()
    assert [(c.name, c.usable) for c in found] == [("qemu:///session", False), ("qemu:///system", False)]
    assert "did not answer within 1 s" in found[0].reason
    assert found[1].uri == f"qemu:///system?socket={tmp_path / 'sys/libvirt-sock'}"
    assert elapsed < 10, f"both probes ran at once with a 1 s timeout, yet discovery took {elapsed:.1f} s"


def test_the_modular_daemons_socket_comes_first_and_only_sockets_count(tmp_path):
    (tmp_path / "virtqemud-sock").write_text("not a socket")
    assert discover.find_socket(tmp_path) is None
    legacy = silent_socket(tmp_path / "libvirt-sock")
    try:
        assert discover.find_socket(tmp_path) == tmp_path / "libvirt-sock"
        (tmp_path / "virtqemud-sock").unlink()
        modular = silent_socket(tmp_path / "virtqemud-sock")
        assert discover.find_socket(tmp_path) == tmp_path / "virtqemud-sock"
        modular.close()
    finally:
        legacy.close()


def test_session_sockets_are_where_libvirt_looks_for_them():
    assert discover.session_socket_dir({"XDG_RUNTIME_DIR": "/run/user/1000"}) == Path("/run/user/1000/libvirt")
    assert discover.session_socket_dir({"HOME": "/home/ann"}) == Path("/home/ann/.cache/libvirt")
    assert discover.session_socket_dir({"HOME": "/home/ann", "XDG_CACHE_HOME": "/c"}) == Path("/c/libvirt")


def test_an_unprivileged_user_also_counts_plain_qemu_session_as_the_same_daemon(libvirtd, tmp_path):
    env = {"XDG_RUNTIME_DIR": str(libvirtd.root / "run")}
    as_user = discover.discover(env=env, system_dir=tmp_path, euid=1000)[0]
    as_root = discover.discover(env=env, system_dir=tmp_path, euid=0)[0]
    assert "qemu:///session" in as_user.same_as and "libvirt:qemu:///session" in as_user.same_as
    # libvirt maps a root user's /session to the system daemon: only the named socket is this one
    assert "qemu:///session" not in as_root.same_as and as_root.uri in as_root.same_as


def test_a_system_socket_whose_daemon_refuses_is_not_opened(libvirtd, tmp_path):
    """Root may use any socket; what answers there still has to accept qemu:///system."""
    system_dir = libvirtd.sock.parent  # an unprivileged daemon, which serves only /session
    found = discover.discover(env={"XDG_RUNTIME_DIR": str(tmp_path)}, system_dir=system_dir, euid=0)
    assert [(c.name, c.usable) for c in found] == [("qemu:///system", False)]
    assert found[0].uri == f"qemu:///system?socket={libvirtd.sock}"  # not where plain qemu:///system goes
    assert found[0].reason.startswith(f"the system daemon at {libvirtd.sock} could not be opened (")
    assert "session" in found[0].reason, found[0].reason  # libvirt's own words say why
