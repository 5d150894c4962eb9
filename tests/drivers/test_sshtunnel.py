"""The ssh argv of a display tunnel, from a libvirt URI and a live XML's <graphics> (argv lists, no shell).

The tunnel itself runs against a private sshd and libvirtd in tests/vmgui/test_remote_ssh.py.
"""
from __future__ import annotations

import shutil
import socket

import pytest

from drivers import DriverError, ErrorCode
from drivers.domxml import Graphics
from drivers.sshtunnel import SshTarget, open_tunnel, vnc_endpoint


def test_the_uri_gives_user_host_port_key_and_the_ssh_command() -> None:
    target = SshTarget.from_uri("qemu+ssh://ann%40corp@vm-host.example:2222/system?keyfile=/home/a/.ssh/k"
                                "&command=/opt/ssh&no_verify=1&socket=/run/libvirt/sock")
    assert target == SshTarget(host="vm-host.example", user="ann@corp", port=2222, keyfile="/home/a/.ssh/k",
                               command="/opt/ssh", no_verify=True)
    assert target.argv("127.0.0.1:5900") == [
        "/opt/ssh", "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30", "-p", "2222", "-l", "ann@corp",
        "-i", "/home/a/.ssh/k", "-o", "StrictHostKeyChecking=no", "-W", "127.0.0.1:5900", "--", "vm-host.example"]
    assert target.forward_argv("/run/user/1/v/vnc.sock", "/var/lib/libvirt/qemu/d/vnc.sock")[-6:] == [
        "-o", "ExitOnForwardFailure=yes", "-L", "/run/user/1/v/vnc.sock:/var/lib/libvirt/qemu/d/vnc.sock",
        "--", "vm-host.example"]


def test_a_plain_uri_leaves_everything_to_ssh_and_other_transports_have_no_target() -> None:
    assert SshTarget.from_uri("qemu+ssh://host/system").argv("h:1") == [
        "ssh", "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30", "-W", "h:1", "--", "host"]
    for uri in ("qemu:///system", "qemu+tcp://host/system", "qemu+tls://host/system", "test:///default"):
        assert SshTarget.from_uri(uri) is None


def test_a_host_that_looks_like_an_option_stays_a_host() -> None:
    argv = SshTarget.from_uri("qemu+ssh://-oProxyCommand=x/system").argv("h:1")
    assert argv[-2:] == ["--", "-oproxycommand=x"], "after --, ssh takes it as the host name"


@pytest.mark.parametrize(("graphics", "endpoint"), [
    (Graphics("vnc", socket="/var/lib/libvirt/qemu/d/vnc.sock", port=5900), "/var/lib/libvirt/qemu/d/vnc.sock"),
    (Graphics("vnc", listen="127.0.0.1", port=5901), "127.0.0.1:5901"),
    (Graphics("vnc", listen="0.0.0.0", port=5902), "127.0.0.1:5902"),  # every address: the host's loopback
    (Graphics("vnc", listen="::", port=5903), "[::1]:5903"),
    (Graphics("vnc", listen="192.168.1.4", port=5904), "192.168.1.4:5904"),
    (Graphics("vnc", port=5905), "127.0.0.1:5905"),
])
def test_the_endpoint_is_the_live_xmls_socket_or_address(graphics: Graphics, endpoint: str) -> None:
    assert vnc_endpoint(graphics, "d") == endpoint


def test_a_display_without_an_address_or_of_another_kind_is_refused() -> None:
    with pytest.raises(DriverError) as err:
        vnc_endpoint(Graphics("vnc", port=-1), "d")
    assert err.value.code is ErrorCode.OPERATION_FAILED and "names no VNC port or socket" in err.value.message
    with pytest.raises(DriverError) as err:
        vnc_endpoint(Graphics("spice", port=5930), "d")
    assert err.value.code is ErrorCode.NO_SUPPORT and "external viewer" in err.value.message


def test_an_ssh_that_cannot_run_is_a_sentence(tmp_path) -> None:
    target = SshTarget(host="h", command=str(tmp_path / "no-such-ssh"))
    with pytest.raises(DriverError) as err:
        open_tunnel(target, "127.0.0.1:5900", "d")
    assert err.value.code is ErrorCode.OPERATION_FAILED
    assert err.value.message.startswith(f"cannot run {tmp_path / 'no-such-ssh'} to reach the display of 'd': ")


@pytest.mark.skipif(shutil.which("ssh") is None, reason="ssh is not installed")
def test_a_host_where_nothing_listens_is_ssh_s_own_sentence() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(DriverError) as err:
        open_tunnel(SshTarget(host="127.0.0.1", port=port), "127.0.0.1:5900", "d")
    assert err.value.code is ErrorCode.OPERATION_FAILED
    assert err.value.message == ("ssh to 127.0.0.1 could not reach the display of 'd': "
                                 f"ssh: connect to host 127.0.0.1 port {port}: Connection refused")
