"""The RFB client against server byte strings written from RFC 6143: the handshake (7.1-7.3) and updates (7.6).

The server side is a socket pair end: the test writes what a server of each version
sends and reads back what the client answered.
"""
from __future__ import annotations

import socket
import struct
import threading

import pytest

from vmgui.rfb import Encoding, PasswordRequired, Rect, RfbClient, RfbError, RfbListener
from vmgui.rfb.protocol import PIXEL_FORMAT

SERVER_INIT = struct.pack(">HH", 640, 480) + PIXEL_FORMAT + struct.pack(">I", 4) + b"demo"


def handshake(server_bytes: bytes, password: str | None = None) -> tuple[object, bytes]:
    """Run the client's handshake against ``server_bytes``; (result or RfbError, what the client sent)."""
    ours, theirs = socket.socketpair()
    theirs.sendall(server_bytes)
    theirs.shutdown(socket.SHUT_WR)
    result: list[object] = []
    client = RfbClient(ours, password=password)

    def run() -> None:
        try:
            result.append(client.handshake())
        except RfbError as exc:
            result.append(exc)
    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    client.close()
    theirs.settimeout(5)
    sent = b""
    while chunk := theirs.recv(65536):
        sent += chunk
    theirs.close()
    return result[0], sent


def test_version_3_8_security_none_then_result_and_server_init() -> None:
    init, sent = handshake(b"RFB 003.008\n" + b"\x02\x02\x01" + b"\x00\x00\x00\x00" + SERVER_INIT)
    assert not isinstance(init, RfbError), init
    assert (init.width, init.height, init.name, init.version) == (640, 480, "demo", (3, 8))
    # our version, the None type chosen, ClientInit shared, then SetPixelFormat + SetEncodings + a full request
    assert sent.startswith(b"RFB 003.008\n" + b"\x01" + b"\x01" + b"\x00\x00\x00\x00" + PIXEL_FORMAT + b"\x02\x00")
    assert sent.endswith(struct.pack(">BBHHHH", 3, 0, 0, 0, 640, 480))


def test_version_3_7_has_no_security_result_for_none() -> None:
    init, sent = handshake(b"RFB 003.007\n" + b"\x01\x01" + SERVER_INIT)
    assert not isinstance(init, RfbError), init
    assert init.version == (3, 7) and sent.startswith(b"RFB 003.007\n\x01\x01")


@pytest.mark.parametrize("banner", [b"RFB 003.003\n", b"RFB 003.005\n", b"RFB 003.889\n"])
def test_older_and_unknown_minor_versions_speak_3_3_where_the_server_picks_the_type(banner: bytes) -> None:
    init, sent = handshake(banner + b"\x00\x00\x00\x01" + SERVER_INIT)
    assert not isinstance(init, RfbError), init
    assert init.version == (3, 3) and sent.startswith(b"RFB 003.003\n\x01")  # no type chosen: ClientInit next


def test_a_newer_server_is_spoken_to_in_3_8() -> None:
    init, sent = handshake(b"RFB 004.001\n" + b"\x01\x01" + b"\x00\x00\x00\x00" + SERVER_INIT)
    assert not isinstance(init, RfbError) and sent.startswith(b"RFB 003.008\n")


def test_refusals_carry_the_servers_reason() -> None:
    why = b"too many clients"
    err, _ = handshake(b"RFB 003.008\n" + b"\x00" + struct.pack(">I", len(why)) + why)
    assert isinstance(err, RfbError) and str(err) == "the VNC server refused the connection: too many clients"
    err, _ = handshake(b"RFB 003.008\n" + b"\x01\x01" + b"\x00\x00\x00\x01" + struct.pack(">I", 6) + b"denied")
    assert isinstance(err, RfbError) and str(err).endswith("refused the connection: denied")


def test_a_password_protected_server_without_a_password_given_asks_for_one() -> None:
    err, sent = handshake(b"RFB 003.008\n" + b"\x01\x02")
    assert isinstance(err, PasswordRequired) and not err.refused
    assert str(err) == "the VNC server asks for a password"
    assert sent == b"RFB 003.008\n", "nothing is chosen"


def test_an_authentication_vmgui_does_not_speak_is_refused_with_a_sentence() -> None:
    err, sent = handshake(b"RFB 003.008\n" + b"\x02\x12\x13")
    assert isinstance(err, RfbError) and not isinstance(err, PasswordRequired)
    assert "authentication vmgui does not speak (security types 18, 19)" in str(err)
    assert sent == b"RFB 003.008\n"


CHALLENGE = bytes(range(16))
#: vnc_response("secret12", CHALLENGE), computed with OpenSSL's DES (tests/rfb/test_des.py)
RESPONSE = bytes.fromhex("adcd997f8e16fee575e973f93c2b62b4")


@pytest.mark.parametrize(("banner", "offer", "chosen"), [
    (b"RFB 003.008\n", b"\x02\x10\x02", b"\x02"),  # 3.8 and 3.7: the client picks type 2 from a list
    (b"RFB 003.007\n", b"\x01\x02", b"\x02"),
    (b"RFB 003.003\n", b"\x00\x00\x00\x02", b""),  # 3.3: the server decides, nothing is chosen
])
def test_vnc_authentication_answers_the_challenge_with_des_of_the_password(banner: bytes, offer: bytes,
                                                                            chosen: bytes) -> None:
    init, sent = handshake(banner + offer + CHALLENGE + b"\x00\x00\x00\x00" + SERVER_INIT, "secret12")
    assert not isinstance(init, RfbError), init
    assert init.name == "demo"
    version = b"RFB 003.003\n" if banner == b"RFB 003.003\n" else banner
    assert sent.startswith(version + chosen + RESPONSE + b"\x01"), "version, type, answer, then ClientInit"


def test_a_wrong_password_is_refused_with_the_servers_reason() -> None:
    why = b"Authentication failed"
    err, sent = handshake(b"RFB 003.008\n\x01\x02" + CHALLENGE + b"\x00\x00\x00\x01"
                                        + struct.pack(">I", len(why)) + why, "secret12")
    assert isinstance(err, PasswordRequired) and err.refused
    assert str(err) == "the VNC server refused the password: Authentication failed"
    assert sent == b"RFB 003.008\n\x02" + RESPONSE


def test_a_server_offering_none_too_is_joined_without_the_password() -> None:
    init, sent = handshake(b"RFB 003.008\n\x02\x02\x01\x00\x00\x00\x00" + SERVER_INIT, "x")
    assert not isinstance(init, RfbError), init
    assert sent.startswith(b"RFB 003.008\n\x01\x01")


@pytest.mark.parametrize("banner", [b"SSH-2.0-OpenSSH\n", b"RFB 003.00x\n", b"RFB 002.000\n", b""])
def test_something_that_is_not_an_rfb_server(banner: bytes) -> None:
    err, _ = handshake(banner)
    assert isinstance(err, RfbError)


class Recorder(RfbListener):
    def __init__(self) -> None:
        self.updates: list[list[Rect]] = []
        self.resizes: list[tuple[int, int]] = []

    def on_update(self, damage: list[Rect]) -> None:
        self.updates.append(damage)

    def on_resize(self, width: int, height: int) -> None:
        self.resizes.append((width, height))


def rect(x: int, y: int, w: int, h: int, encoding: int) -> bytes:
    return struct.pack(">HHHHi", x, y, w, h, encoding)


def update(*rects: bytes) -> bytes:
    return struct.pack(">BxH", 0, len(rects)) + b"".join(rects)


def session(messages: bytes) -> tuple[RfbClient, Recorder, bytes]:
    """A 3.8 server that sends ServerInit of 2x1, then ``messages``, then hangs up."""
    ours, theirs = socket.socketpair()
    theirs.sendall(b"RFB 003.008\n\x01\x01\x00\x00\x00\x00" + struct.pack(">HH", 2, 1) + PIXEL_FORMAT
                   + b"\x00\x00\x00\x00" + messages)
    theirs.shutdown(socket.SHUT_WR)
    client, recorder = RfbClient(ours), Recorder()
    client.handshake()
    with pytest.raises(RfbError, match="closed the connection"):
        client.run(recorder)
    client.close()
    theirs.settimeout(5)
    sent = b""
    while chunk := theirs.recv(65536):
        sent += chunk
    theirs.close()
    return client, recorder, sent


def test_a_same_size_desktop_answer_is_no_resize_and_asks_for_nothing_in_full_again() -> None:
    same = rect(0, 0, 2, 1, Encoding.EXTENDED_DESKTOP_SIZE) + b"\x01\x00\x00\x00" + bytes(16)
    pixels = rect(0, 0, 2, 1, Encoding.RAW) + b"\x01\x02\x03\x00\x04\x05\x06\x00"
    client, rec, sent = session(update(same) + update(pixels))
    assert rec.resizes == [] and rec.updates == [[], [Rect(0, 0, 2, 1)]]
    assert client.framebuffer.region(Rect(0, 0, 2, 1)) == b"\x01\x02\x03\x00\x04\x05\x06\x00"
    requests = [sent[i:i + 10] for i in range(len(sent)) if sent[i:i + 2] in (b"\x03\x00", b"\x03\x01")
                and sent[i + 2:i + 10] == struct.pack(">HHHH", 0, 0, 2, 1)]
    assert [r[1] for r in requests] == [0, 1, 1], "one full request at the start, incremental ones after"


def test_a_desktop_resize_gives_a_new_black_screen_of_the_new_size() -> None:
    resize = rect(0, 0, 3, 2, Encoding.DESKTOP_SIZE)
    copy = rect(1, 1, 2, 1, Encoding.COPY_RECT) + struct.pack(">HH", 0, 0)
    client, rec, _ = session(update(resize) + update(rect(0, 0, 1, 1, Encoding.RAW) + b"\x09\x09\x09\x00", copy))
    assert rec.resizes == [(3, 2)] and rec.updates[0] == [Rect(0, 0, 3, 2)]
    assert (client.framebuffer.width, client.framebuffer.height) == (3, 2)
    assert client.framebuffer.region(Rect(0, 0, 3, 2)) == (b"\x09\x09\x09\x00" + bytes(8)
                                                           + bytes(4) + b"\x09\x09\x09\x00" + bytes(4))


def test_a_rectangle_outside_the_screen_ends_the_session_with_a_sentence() -> None:
    ours, theirs = socket.socketpair()
    theirs.sendall(b"RFB 003.008\n\x01\x01\x00\x00\x00\x00" + struct.pack(">HH", 2, 1) + PIXEL_FORMAT
                   + b"\x00\x00\x00\x00" + update(rect(1, 0, 2, 1, Encoding.RAW) + bytes(8)))
    client = RfbClient(ours)
    client.handshake()
    with pytest.raises(RfbError, match="outside its 2x1 screen"):
        client.run(RfbListener())
    theirs.close()
