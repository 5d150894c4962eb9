"""The QEMU guest agent (qemu-ga): its wire protocol, and what it reports as typed values.

qemu-ga answers JSON commands over a virtio-serial port whose host end is a
unix socket. The agent may hold output nobody read (the answer to a command
whose caller gave up, a stale handshake), so every command starts with
``guest-sync-delimited`` and a random id: the answer is preceded by a 0xFF
byte, and everything before the answer carrying our id is dropped. Each step
has a deadline: an agent that never answers costs a few seconds of the
calling (worker) thread, and the connection is then dropped so that the next
command starts clean. One command runs at a time per agent.

Both drivers report the agent's answers through the same values
(:class:`GuestInterface`, :class:`GuestInfo`, ...): ``qemu:///embed`` parses
qemu-ga's JSON here, the libvirt bridge converts libvirt's typed parameters.
"""
from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from .errors import DriverError, ErrorCode

#: how long the handshake (5 s, as libvirt waits for guest-sync) and a command may take before the
#: agent counts as unresponsive
SYNC_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 5.0
#: freezing waits for every file system to flush its dirty data
FREEZE_TIMEOUT_S = 10.0
#: guest-shutdown answers only when it fails: this long without an answer means it was carried out
SHUTDOWN_ERROR_WAIT_S = 2.0
#: an answer larger than this is no agent's (a guest flooding the channel)
MAX_ANSWER_BYTES = 8 << 20
_DELIMITER = b"\xff"


@dataclass(frozen=True)
class IPAddress:
    """One address of a guest interface: ``type`` is ``ipv4`` or ``ipv6``."""

    type: str
    address: str
    prefix: int


@dataclass(frozen=True)
class GuestInterface:
    """A network interface as the guest sees it: name, MAC and addresses."""

    name: str
    hwaddr: str | None
    addresses: tuple[IPAddress, ...]


@dataclass(frozen=True)
class GuestOS:
    """The guest's operating system (os-release and uname); None where the agent did not say."""

    id: str | None = None
    name: str | None = None
    pretty_name: str | None = None
    version: str | None = None
    kernel_release: str | None = None
    machine: str | None = None

    @property
    def text(self) -> str:
        """``Debian GNU/Linux 12 (bookworm), kernel 6.1.0-28-amd64`` or as much of it as is known."""
        name = self.pretty_name or " ".join(p for p in (self.name, self.version) if p) or self.id or ""
        kernel = f"kernel {self.kernel_release}" if self.kernel_release else ""
        return ", ".join(p for p in (name, kernel) if p) or "unknown"


@dataclass(frozen=True)
class GuestFilesystem:
    """A mounted file system of the guest on one of its disks."""

    mountpoint: str
    name: str
    type: str
    disks: tuple[str, ...] = ()
    used_bytes: int | None = None
    total_bytes: int | None = None


@dataclass(frozen=True)
class GuestInfo:
    """What ``Domain.guest_info`` returns: None for what was not asked or not answered."""

    hostname: str | None = None
    os: GuestOS | None = None
    filesystems: tuple[GuestFilesystem, ...] | None = None


def unresponsive(name: str, why: str) -> DriverError:
    return DriverError(ErrorCode.AGENT_UNRESPONSIVE, f"the guest agent of '{name}' {why}")


def not_connected(name: str) -> DriverError:
    return unresponsive(name, "is not connected: the guest has not started qemu-ga (package qemu-guest-agent) "
                              "or is still booting")


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and str(value) else None


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_interfaces(answer: Any) -> list[GuestInterface]:
    """guest-network-get-interfaces -> interfaces; malformed entries are skipped, never guessed at."""
    out = []
    for item in answer if isinstance(answer, list) else []:
        if not isinstance(item, dict) or not _text(item.get("name")):
            continue
        addresses = []
        for addr in item.get("ip-addresses") or []:
            if isinstance(addr, dict) and _text(addr.get("ip-address")) and _count(addr.get("prefix")) is not None:
                addresses.append(IPAddress(str(addr.get("ip-address-type") or "ipv4"), str(addr["ip-address"]),
                                           int(addr["prefix"])))
        out.append(GuestInterface(str(item["name"]), _text(item.get("hardware-address")), tuple(addresses)))
    return out


def parse_osinfo(answer: Any) -> GuestOS:
    info = answer if isinstance(answer, dict) else {}
    return GuestOS(_text(info.get("id")), _text(info.get("name")), _text(info.get("pretty-name")),
                   _text(info.get("version")), _text(info.get("kernel-release")), _text(info.get("machine")))


def parse_fsinfo(answer: Any) -> tuple[GuestFilesystem, ...]:
    out = []
    for item in answer if isinstance(answer, list) else []:
        if not isinstance(item, dict) or not _text(item.get("mountpoint")):
            continue
        disks = tuple(str(d.get("dev") or d.get("target") or "") for d in item.get("disk") or []
                      if isinstance(d, dict) and (d.get("dev") or d.get("target") is not None))
        out.append(GuestFilesystem(str(item["mountpoint"]), _text(item.get("name")) or "",
                                   _text(item.get("type")) or "", disks, _count(item.get("used-bytes")),
                                   _count(item.get("total-bytes"))))
    return tuple(out)


class AgentClient:
    """The host end of one VM's agent channel (a unix socket QEMU serves); thread-safe, one command at a time."""

    def __init__(self, path: str, name: str) -> None:
        self.path = path
        self.name = name
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._buffer = b""
        #: the command under way, named when another caller finds the agent busy
        self._doing = ""

    def close(self) -> None:
        """Drop the connection (the next command connects and synchronises again)."""
        sock, self._sock, self._buffer = self._sock, None, b""
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def disconnect(self) -> None:
        """The guest closed the agent's port (another thread): a command under way ends at once with
        "closed the channel" and closes the connection itself; otherwise it is closed here."""
        if self._lock.acquire(blocking=False):
            try:
                self.close()
            finally:
                self._lock.release()
            return
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def execute(self, command: str, arguments: dict[str, Any] | None = None,
                timeout: float = COMMAND_TIMEOUT_S, answers: bool = True) -> Any:
        """Run ``command`` and return its ``return`` value.

        AGENT_UNRESPONSIVE when the agent is busy with another caller's command, cannot be reached,
        or misses a deadline; OPERATION_FAILED with the agent's own reason when it refuses.
        ``answers=False`` is for guest-shutdown, which answers only when it fails: silence
        for :data:`SHUTDOWN_ERROR_WAIT_S` means it is being carried out.
        """
        if not self._lock.acquire(timeout=timeout):
            raise unresponsive(self.name, f"is still busy with {self._doing or 'another command'}")
        try:
            self._doing = command
            try:
                sock = self._connection()
                sock.settimeout(SYNC_TIMEOUT_S)
                self._sync(sock, time.monotonic() + SYNC_TIMEOUT_S)
                request: dict[str, Any] = {"execute": command}
                if arguments:
                    request["arguments"] = arguments
                sock.sendall(json.dumps(request).encode() + b"\n")
                if not answers:
                    return self._failure_within(sock, command, time.monotonic() + SHUTDOWN_ERROR_WAIT_S)
                reply = self._read_object(sock, time.monotonic() + timeout, command)
            except OSError as exc:
                self.close()
                raise unresponsive(self.name, f"cannot be reached ({exc.strerror or exc})") from None
            except DriverError:
                self.close()
                raise
            return self._result(reply, command)
        finally:
            self._doing = ""
            self._lock.release()

    def _connection(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            sock.settimeout(SYNC_TIMEOUT_S)
            try:
                sock.connect(self.path)
            except OSError:
                sock.close()
                raise
            self._sock, self._buffer = sock, b""
        return self._sock

    def _sync(self, sock: socket.socket, deadline: float) -> None:
        """guest-sync-delimited with a fresh id; drops whatever the agent said before our answer."""
        ident = secrets.randbelow(2**31 - 1) + 1
        # 0xFF resets the agent's JSON parser, should a half command be pending in it
        sock.sendall(_DELIMITER + json.dumps({"execute": "guest-sync-delimited",
                                              "arguments": {"id": ident}}).encode() + b"\n")
        while True:
            at = self._buffer.find(_DELIMITER)
            if at < 0:
                self._buffer = b""
                self._receive(sock, deadline, "guest-sync-delimited")
                continue
            self._buffer = self._buffer[at + 1:]
            line = self._line(sock, deadline, "guest-sync-delimited")
            if _DELIMITER in line:  # another handshake's delimiter: look again from there
                self._buffer = line[line.index(_DELIMITER):] + b"\n" + self._buffer
                continue
            try:
                reply = json.loads(line)
            except ValueError:
                continue
            if isinstance(reply, dict) and reply.get("return") == ident:
                return

    def _read_object(self, sock: socket.socket, deadline: float, command: str) -> dict[str, Any]:
        while True:
            line = self._line(sock, deadline, command).strip(_DELIMITER + b" \r\t")
            if not line:
                continue
            try:
                reply = json.loads(line)
            except ValueError:
                raise unresponsive(self.name, f"answered {command} with something that is not JSON") from None
            if isinstance(reply, dict) and ("return" in reply or "error" in reply):
                return reply

    def _failure_within(self, sock: socket.socket, command: str, deadline: float) -> None:
        """Wait for the error a command that answers only on failure might send; None once it did not."""
        try:
            reply = self._read_object(sock, deadline, command)
        except DriverError:
            self.close()  # no answer (or the guest went away at once): the command is under way
            return None
        self._result(reply, command)
        return None

    def _result(self, reply: dict[str, Any], command: str) -> Any:
        if "error" in reply:
            err = reply.get("error") or {}
            desc = err.get("desc") if isinstance(err, dict) else None
            raise DriverError(ErrorCode.OPERATION_FAILED,
                              f"the guest agent of '{self.name}' refused {command}: {desc or err}")
        return reply.get("return")

    def _line(self, sock: socket.socket, deadline: float, command: str) -> bytes:
        while b"\n" not in self._buffer:
            self._receive(sock, deadline, command)
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _receive(self, sock: socket.socket, deadline: float, command: str) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise unresponsive(self.name, f"did not answer {command} in time")
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            raise unresponsive(self.name, f"did not answer {command} in time") from None
        if not data:
            raise unresponsive(self.name, f"closed the channel during {command}")
        self._buffer += data
        if len(self._buffer) > MAX_ANSWER_BYTES:
            raise unresponsive(self.name, f"sent more than {MAX_ANSWER_BYTES >> 20} MiB for {command}")
