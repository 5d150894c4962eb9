"""The first serial port as an interactive console of a running domain, and screenshots.

The console's plumbing (one socket connection per VM shared by its consoles)
is :mod:`serialhub`; here a running domain's hub is found or connected, and
QMP ``screendump`` is read back as a PPM.
"""
from __future__ import annotations

import itertools
import os
from pathlib import Path

from ..base import Screenshot
from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode
from ..lifecycle import not_running
from .cmdline import has_display
from .serialhub import QemuConsole, SerialHub
from .state import QDom
from .store import DomainStore

PPM_MIME = "image/x-portable-pixmap"


def parse_ppm(data: bytes) -> tuple[int, int]:
    """Width and height of a binary PPM (P6) as QEMU's screendump writes it."""
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        start = pos
        while pos < len(data) and not data[pos:pos + 1].isspace():
            pos += 1
        if start == pos:
            break
        fields.append(data[start:pos])
    if len(fields) < 4 or fields[0] != b"P6":
        raise DriverError(ErrorCode.OPERATION_FAILED, "QEMU wrote a screenshot that is not a PPM image")
    return int(fields[1]), int(fields[2])


def read_screendump(path: Path) -> Screenshot:
    """Read (and remove) the PPM QEMU wrote to ``path``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot read the screenshot {path}: {exc.strerror}") from None
    finally:
        try:
            path.unlink()
        except OSError:
            pass
    width, height = parse_ppm(data)
    return Screenshot(PPM_MIME, data, width, height)


_shots = itertools.count(1)


def open_console(host: DomainStore, dom: QDom) -> QemuConsole:
    """A console on serial port 0 of a running domain (connecting the VM's hub if needed).

    The connect happens without the host lock; when two callers race, the
    first hub installed wins and the other one disconnects again.
    """
    with host.lock:
        vm = dom.live
        if vm is None:
            raise not_running(dom.name)
        if vm.console_socket is None:
            raise DriverError(ErrorCode.NO_SUPPORT, _no_console_reason(dom.name, vm.definition))
        console = _join(vm.hub)
        if console is not None:
            return console
        path, log = vm.console_socket, vm.serial_log
    hub = SerialHub(dom.name, path, log)
    with host.lock:
        if dom.live is not vm:
            hub.hang_up()
            raise not_running(dom.name)
        console = _join(vm.hub)
        if console is not None:
            hub.hang_up()
            return console
        vm.hub = hub
        console = _join(hub)
        assert console is not None
        return console


def _join(hub: SerialHub | None) -> QemuConsole | None:
    pos = hub.acquire() if hub is not None else None
    return QemuConsole(hub, pos) if hub is not None and pos is not None else None


def _no_console_reason(name: str, definition: DomainXML) -> str:
    chars = definition.char_devices()
    if not chars:
        return f"domain '{name}' has no serial port; add <serial type='pty'/> to its XML"
    first = chars[0]
    if first.type in ("file", "pty"):
        return (f"'{name}' was started without a console socket (by an older vmgui); "
                "restart the domain to get its console")
    if first.type == "unix":
        return (f"serial port 0 of '{name}' is a unix socket of its own ({first.path}); connect to it "
                "directly, or use <serial type='pty'/> or type='file' for the console")
    return (f"serial port 0 of '{name}' is of type {first.type!r}, which has no console; "
            "use <serial type='pty'/> or type='file'")


def screenshot(host: DomainStore, dom: QDom) -> Screenshot:
    """The display of a running domain as a PPM (QMP screendump into the runtime directory)."""
    with host.lock:
        vm = dom.live
        if vm is None:
            raise not_running(dom.name)
        if not has_display(vm.definition):
            raise DriverError(ErrorCode.NO_SUPPORT,
                              f"domain '{dom.name}' has no display; add <graphics type='vnc'/> or "
                              "<video><model type='vga'/></video> to its XML")
    path = host.layout.runtime / f"{dom.uuid.replace('-', '')[:16]}-{os.getpid()}-{next(_shots)}.ppm"
    try:
        vm.execute("screendump", {"filename": str(path)}, timeout=15)
    except DriverError as exc:
        try:
            path.unlink()
        except OSError:
            pass
        with host.lock:
            if dom.live is not vm:
                raise not_running(dom.name) from None
        raise DriverError(ErrorCode.OPERATION_FAILED, f"QEMU could not take a screenshot of '{dom.name}': "
                                                      f"{exc.message}") from None
    return read_screendump(path)
