"""The guest agent client against agents that misbehave on a real unix socket.

qemu-ga itself is tested in tests/e2e/test_qemu_guest_agent.py; here the peer
is a small server that plays the agent's wire protocol badly on purpose: stale
output from an earlier caller, silence, a refusal.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drivers import DriverError, ErrorCode
from drivers.guestagent import SYNC_TIMEOUT_S, AgentClient, parse_fsinfo, parse_interfaces


class Peer:
    """A unix socket server answering each request line with ``reply(request)`` (None: silence)."""

    def __init__(self, path: Path, reply: Callable[[dict], bytes | None], greeting: bytes = b"") -> None:
        self.requests: list[dict] = []
        self._reply, self._greeting = reply, greeting
        self._srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._srv.bind(str(path))
        self._srv.listen(4)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._srv.accept()
            except OSError:
                return
            conn.sendall(self._greeting)
            buf = b""
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    line, _, buf = buf.partition(b"\n")
                    request = json.loads(line.lstrip(b"\xff"))
                    self.requests.append(request)
                    answer = self._reply(request)
                    if answer is not None:
                        conn.sendall(answer)

    def close(self) -> None:
        self._srv.close()


def well_behaved(request: dict) -> bytes | None:
    if request["execute"] == "guest-sync-delimited":
        return b"\xff" + json.dumps({"return": request["arguments"]["id"]}).encode() + b"\n"
    if request["execute"] == "guest-get-host-name":
        return b'{"return": {"host-name": "web01"}}\n'
    if request["execute"] == "guest-fsfreeze-freeze":
        return b'{"error": {"class": "GenericError", "desc": "freeze hook failed"}}\n'
    return None


@pytest.fixture
def sock(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "qga.sock"


def test_stale_output_before_the_handshake_answer_is_dropped(sock):
    stale = (b'{"return": {"host-name": "stale"}}\n\xff{"return": 12345}\n'
             b'\xff{"return": {"host-name": "half')
    peer = Peer(sock, well_behaved, greeting=stale)
    try:
        client = AgentClient(str(sock), "web01")
        assert client.execute("guest-get-host-name") == {"host-name": "web01"}
        assert client.execute("guest-get-host-name") == {"host-name": "web01"}, "the connection stays usable"
        syncs = [r["arguments"]["id"] for r in peer.requests if r["execute"] == "guest-sync-delimited"]
        assert len(syncs) == 2 and syncs[0] != syncs[1], "each command synchronises with a fresh id"
    finally:
        peer.close()


def test_an_agent_that_never_answers_costs_a_few_seconds_and_a_typed_error(sock):
    peer = Peer(sock, lambda request: None)
    try:
        client = AgentClient(str(sock), "web01")
        began = time.monotonic()
        with pytest.raises(DriverError) as err:
            client.execute("guest-ping")
        took = time.monotonic() - began
        assert err.value.code == ErrorCode.AGENT_UNRESPONSIVE
        assert err.value.message == "the guest agent of 'web01' did not answer guest-sync-delimited in time"
        assert SYNC_TIMEOUT_S - 0.5 < took < SYNC_TIMEOUT_S + 2
    finally:
        peer.close()


def test_a_second_caller_waits_its_deadline_then_hears_the_agent_is_busy(sock):
    peer = Peer(sock, lambda request: None)
    try:
        client = AgentClient(str(sock), "web01")
        first = threading.Thread(target=lambda: pytest.raises(DriverError, client.execute, "guest-ping"))
        first.start()
        time.sleep(0.3)
        with pytest.raises(DriverError) as err:
            client.execute("guest-get-osinfo", timeout=0.5)
        assert err.value.code == ErrorCode.AGENT_UNRESPONSIVE
        assert err.value.message == "the guest agent of 'web01' is still busy with guest-ping"
        first.join()
    finally:
        peer.close()


def test_the_port_closing_during_a_command_ends_it_at_once(sock):
    peer = Peer(sock, lambda request: None)
    try:
        client = AgentClient(str(sock), "web01")
        threading.Timer(0.5, client.disconnect).start()  # the guest closed its port (QEMU's event thread)
        began = time.monotonic()
        with pytest.raises(DriverError) as err:
            client.execute("guest-ping")
        assert err.value.code == ErrorCode.AGENT_UNRESPONSIVE
        assert err.value.message == "the guest agent of 'web01' closed the channel during guest-sync-delimited"
        assert time.monotonic() - began < SYNC_TIMEOUT_S - 1
    finally:
        peer.close()


def test_a_refusal_is_the_agents_reason(sock):
    peer = Peer(sock, well_behaved)
    try:
        with pytest.raises(DriverError) as err:
            AgentClient(str(sock), "web01").execute("guest-fsfreeze-freeze")
        assert err.value.code == ErrorCode.OPERATION_FAILED
        assert err.value.message == "the guest agent of 'web01' refused guest-fsfreeze-freeze: freeze hook failed"
    finally:
        peer.close()


def test_no_socket_is_unresponsive_not_a_traceback(sock):
    with pytest.raises(DriverError) as err:
        AgentClient(str(sock), "web01").execute("guest-ping")
    assert err.value.code == ErrorCode.AGENT_UNRESPONSIVE and "cannot be reached" in err.value.message


def test_malformed_answers_are_skipped_not_guessed_at():
    found = parse_interfaces([
        {"name": "eth0", "hardware-address": "52:54:00:12:34:56",
         "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "10.0.2.15", "prefix": 24},
                          {"ip-address-type": "ipv6", "ip-address": "fe80::1"}]},
        {"hardware-address": "no name"}, "junk"])
    assert [(i.name, i.hwaddr, [(a.type, a.address, a.prefix) for a in i.addresses]) for i in found] == [
        ("eth0", "52:54:00:12:34:56", [("ipv4", "10.0.2.15", 24)])]
    fs = parse_fsinfo([{"mountpoint": "/", "name": "vda1", "type": "ext4", "total-bytes": -1,
                        "disk": [{"dev": "/dev/vda"}]}, {"name": "no mountpoint"}])
    assert [(f.mountpoint, f.type, f.disks, f.total_bytes) for f in fs] == [("/", "ext4", ("/dev/vda",), None)]
