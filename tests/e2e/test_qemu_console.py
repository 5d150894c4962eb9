"""Serial console and screenshots of real QEMU guests (the test guest echoes COM1 input)."""
from __future__ import annotations

import time

import e2e_helpers as h
import pytest

from drivers import DriverError, ErrorCode, Feature

pytestmark = pytest.mark.qemu


def read_until(console, needle: bytes, timeout: float = 15.0) -> bytes:
    """Read until ``needle`` came (an echo may have heartbeat lines between its bytes)."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out += console.read(timeout=0.2)
        if needle in out or needle.decode() in h.without_heartbeats(out.decode(errors="replace")):
            return out
    raise AssertionError(f"{needle!r} never came on the console; got {out[-200:]!r}")


def test_console_streams_the_guest_takes_input_and_hangs_up(env):
    conn = env.open()
    assert conn.supports_feature(Feature.SERIAL_CONSOLE) and conn.supports_feature(Feature.SCREENSHOT)
    dom = conn.define_xml(env.xml("con"))
    serial = env.serial("con")
    with h.refused(ErrorCode.OPERATION_INVALID):
        dom.open_console()
    dom.create()
    h.wait_heartbeat(serial, 1)
    assert dom.serial_log() == str(serial)
    first = dom.open_console()
    assert b"BOOT mem=" in first.history()  # scrollback: printed before the console was opened
    hb = int(read_until(first, b"HB ").split(b"HB ")[-1].split(b"\n")[0] or 0)
    second = dom.open_console()  # two views share QEMU's one socket
    first.write(b"ping-42\r")
    assert b"ping-42" in read_until(first, b"ping-42")
    assert b"ping-42" in read_until(second, b"ping-42")
    first.close()
    first.close()
    with pytest.raises(DriverError):
        first.read(0)
    read_until(second, b"HB ")
    # QEMU itself keeps logging: the heartbeat checks on the file still work, echo included
    assert h.wait_heartbeat(serial, hb) > hb
    assert b"ping-42" in serial.read_bytes()
    dom.destroy()
    with h.refused(ErrorCode.OPERATION_FAILED):
        for _ in range(100):  # buffered output first, then the hang-up
            second.read(timeout=0.05)
    second.close()


def test_input_written_right_after_opening_reaches_the_guest_every_time(env):
    conn = env.open()
    dom = conn.define_xml(env.xml("quick"))
    dom.create()
    h.wait_heartbeat(env.serial("quick"), 1)
    for i in range(30):  # each open is a new client of QEMU's socket, the previous one just hung up
        with dom.open_console() as console:
            console.write(b"typed-%02d\r" % i)
            read_until(console, b"typed-%02d" % i)

    def echoed() -> list[str]:  # QEMU writes its log just after the socket: the last byte may lag
        text = h.without_heartbeats(env.serial("quick").read_text(errors="replace"))
        return [w for w in text.replace("\r", "\n").split() if w.startswith("typed-")]
    deadline = time.monotonic() + 10
    while echoed()[-1:] != ["typed-29"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert echoed() == [f"typed-{i:02d}" for i in range(30)], "every line whole, in order, nothing lost"


def test_console_after_reattach_and_pty_serial(env):
    conn = env.open()
    xml = env.xml("ptyc").replace(f"<serial type='file'><source path='{env.serial('ptyc')}'/></serial>",
                                  "<serial type='pty'><target port='0'/></serial>")
    dom = conn.define_xml(xml)
    dom.create()
    log = dom.serial_log()
    assert log and log.endswith("/logs/ptyc.serial.log")
    h.wait_heartbeat(log, 1)
    conn.close()  # the VM keeps running; a new connection re-attaches
    conn = env.open()
    dom = conn.lookup_by_name("ptyc")
    with dom.open_console() as console:
        assert b"BOOT mem=" in console.history()
        read_until(console, b"HB ")
        console.write(b"again\n")
        read_until(console, b"again")
    with dom.open_console() as console:  # a new hub after the last console closed
        read_until(console, b"HB ")


def test_screenshot_is_a_vga_ppm(env):
    conn = env.open()
    dom = conn.create_xml(env.xml("shot", extra_devices="<graphics type='vnc'/>"))
    h.wait_heartbeat(env.serial("shot"), 1)
    shot = dom.screenshot()
    header = f"P6\n{shot.width} {shot.height}\n255\n".encode()
    assert shot.mime == "image/x-portable-pixmap" and shot.data.startswith(header)
    assert (shot.width, shot.height) == (720, 400)  # VGA text mode
    assert len(shot.data) == len(header) + shot.width * shot.height * 3
    dom.suspend()
    assert dom.screenshot().width == 720  # a paused guest still has a picture
    runtime = env.base / "run"
    assert not list(runtime.rglob("*.ppm")), "the screendump file is removed"


def test_no_display_no_console_port(env):
    conn = env.open()
    sock = str(env.base / "own.sock")
    xml = env.xml("bare").replace(f"<serial type='file'><source path='{env.serial('bare')}'/></serial>",
                                  f"<serial type='unix'><source mode='bind' path='{sock}'/></serial>")
    dom = conn.create_xml(xml)
    with pytest.raises(DriverError) as err:
        dom.screenshot()
    assert err.value.code == ErrorCode.NO_SUPPORT and "no display" in err.value.message
    with pytest.raises(DriverError) as err:
        dom.open_console()
    assert err.value.code == ErrorCode.NO_SUPPORT and sock in err.value.message
    dom.destroy()
    dom = conn.define_xml(env.xml("off"))
    with h.refused(ErrorCode.OPERATION_INVALID):
        dom.screenshot()


def test_consoles_opened_and_closed_concurrently_and_across_restore(env):
    import threading
    conn = env.open()
    dom = conn.define_xml(env.xml("busy"))
    dom.create()
    h.wait_heartbeat(env.serial("busy"), 1)
    problems: list[BaseException] = []

    def viewer(i: int) -> None:
        try:
            for j in range(5):
                with dom.open_console() as console:
                    console.write(f"[{i}.{j}]".encode())
                    read_until(console, f"[{i}.{j}]".encode(), timeout=10)
        except BaseException as exc:  # noqa: BLE001
            problems.append(exc)

    threads = [threading.Thread(target=viewer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not problems, problems
    console = dom.open_console()
    dom.managed_save()  # the QEMU process ends: the console hangs up
    with h.refused(ErrorCode.OPERATION_FAILED):
        for _ in range(100):
            console.read(timeout=0.05)
    dom.create()  # restored: the log goes on, a new console works
    with dom.open_console() as console:
        assert b"[3.4]" in console.history() and console.history().count(b"BOOT mem=") == 1
        console.write(b"back\n")
        read_until(console, b"back")
