"""The simulated guest's serial console and screen."""
from __future__ import annotations

import re
import time

import pytest

import drivers
from drivers import ErrorCode


def read_until(console, needle: bytes, limit: int = 50) -> bytes:
    out = b""
    for _ in range(limit):
        out += console.read(timeout=0.1)
        if needle in out:
            return out
    raise AssertionError(f"{needle!r} never came; got {out!r}")


def test_console_echoes_and_runs_commands(conn):
    dom = conn.lookup_by_name("test")
    with dom.open_console() as console:
        assert b"root@test:~# " in console.history()
        console.write(b"hostnamx\x7fe\r")
        out = read_until(console, b"# ")
        assert b"hostname\r\ntest\r\nroot@test:~# " in out.replace(b"x\b \b", b"")
        console.write(b"reboot-the-world\n")
        assert b"command not found" in read_until(console, b"found")


def test_uptime_counts_from_the_guest_start_not_from_the_first_console(conn):
    dom = conn.lookup_by_name("test")
    dom.destroy()
    dom.create()
    time.sleep(1.2)
    with dom.open_console() as console, dom.open_console() as second:
        assert b"(vmgui simulated guest) ttyS0" in console.history()  # the boot banner, printed at the start
        console.write(b"uptime\r")
        out = read_until(console, b" s\r\n")
        assert b"uptime" in read_until(second, b" s\r\n")  # one port: both consoles see the command
    assert re.search(rb"up [1-9]\d* s", out), out


def test_console_hangs_up_when_the_domain_stops(conn):
    dom = conn.lookup_by_name("test")
    console = dom.open_console()
    assert console.read(timeout=0.01) == b""
    dom.destroy()
    with pytest.raises(drivers.DriverError) as info:
        console.read(timeout=0.01)
    assert info.value.code is ErrorCode.OPERATION_FAILED
    with pytest.raises(drivers.DriverError) as info:
        dom.open_console()
    assert info.value.code is ErrorCode.OPERATION_INVALID


def test_closed_console_and_bad_input(conn):
    console = conn.lookup_by_name("test").open_console()
    with pytest.raises(drivers.DriverError) as info:
        console.write("text, not bytes")
    assert info.value.code is ErrorCode.INVALID_ARG
    console.close()
    console.close()
    with pytest.raises(drivers.DriverError):
        console.read(0)


def test_screenshot_is_a_ppm_that_follows_the_state(conn):
    dom = conn.lookup_by_name("test")
    shot = dom.screenshot()
    assert shot.mime == "image/x-portable-pixmap" and shot.data.startswith(b"P6\n320 200\n255\n")
    assert len(shot.data) == len(b"P6\n320 200\n255\n") + 320 * 200 * 3
    dom.suspend()
    assert dom.screenshot().data != shot.data  # dimmed while paused
    with pytest.raises(drivers.DriverError) as info:
        conn.lookup_by_name("win11").screenshot()
    assert info.value.code is ErrorCode.OPERATION_INVALID
