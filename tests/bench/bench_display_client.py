#!/usr/bin/env python3
"""The display client alone, fed faster than any guest draws: frames/s the window paints and its CPU.

    python tests/bench/bench_display_client.py [--seconds S] [--size 1024x768]

A guest under TCG draws 12-22 frames/s, so it cannot show whether the client keeps up with 30. Here a
small RFB server in a process of its own answers every FramebufferUpdateRequest at once with a
full-screen update that changes every pixel (random pixels; Raw, or ZRLE as 64x64 raw tiles in one
zlib stream, compressed once before the run and replayed). The real app runs offscreen on
test:///default with its display window open on the running domain "test"; only the function that
asks the driver for the stream (``vmgui.bridge.open_vnc``) is pointed at the local server. Printed:
frames the model handed to the window and paint events of the screen widget, a second each, the
app process's CPU (the server's is its own) and that CPU per frame, which says what one core would
paint on a machine busy with nothing else (the frames/s drop when other processes share the cores:
the load average is printed beside them). Target: at least 30 frames/s painted within one core.
Not collected by pytest.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")  # the offscreen platform's "does not support"
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import qasync  # noqa: E402
from PySide6.QtCore import QEvent, QObject, QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import drivers  # noqa: E402
import vmgui.bridge  # noqa: E402
from vmgui.app import start  # noqa: E402
from vmgui.rfb import Encoding  # noqa: E402
from vmgui.rfb.protocol import PIXEL_FORMAT  # noqa: E402

FRAMES = 8  # distinct random screens the server cycles through
TILE = 64


# -- the server (run as its own process: ``--serve PATH ENCODING WxH``) ----------------------------------
def raw_updates(width: int, height: int) -> list[bytes]:
    head = struct.pack(">BxH", 0, 1) + struct.pack(">HHHHi", 0, 0, width, height, Encoding.RAW)
    return [head + os.urandom(width * height * 4) for _ in range(FRAMES)]


def zrle_updates(width: int, height: int) -> tuple[bytes, list[bytes]]:
    """The first update (it carries the zlib header) and updates that can follow each other forever:
    each ends in a full flush, so none refers to bytes of another."""
    z = zlib.compressobj(1)
    out = []
    for _ in range(FRAMES + 1):
        tiles = bytearray()
        for ty in range(0, height, TILE):
            for tx in range(0, width, TILE):
                tw, th = min(TILE, width - tx), min(TILE, height - ty)
                tiles += b"\x00" + os.urandom(tw * th * 3)  # subencoding 0: raw CPIXELs
        data = z.compress(bytes(tiles)) + z.flush(zlib.Z_FULL_FLUSH)
        out.append(struct.pack(">BxH", 0, 1) + struct.pack(">HHHHi", 0, 0, width, height, Encoding.ZRLE)
                   + struct.pack(">I", len(data)) + data)
    return out[0], out[1:]


def serve(path: str, encoding: str, width: int, height: int) -> None:
    if encoding == "raw":
        first, updates = b"", raw_updates(width, height)
    else:
        first, updates = zrle_updates(width, height)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    print("ready", flush=True)
    conn, _ = listener.accept()
    conn.sendall(b"RFB 003.008\n\x01\x01")
    rfile = conn.makefile("rb")
    rfile.read(12 + 1)  # version, security type
    conn.sendall(b"\x00\x00\x00\x00" + struct.pack(">HH", width, height) + PIXEL_FORMAT
                 + struct.pack(">I", 5) + b"bench")
    rfile.read(1)  # ClientInit
    sent = 0
    try:
        while True:
            kind = rfile.read(1)
            if not kind:
                return
            if kind == b"\x00":
                rfile.read(19)
            elif kind == b"\x02":
                (count,) = struct.unpack(">xH", rfile.read(3))
                rfile.read(4 * count)
            elif kind == b"\x03":
                rfile.read(9)
                conn.sendall(first if sent == 0 and first else updates[sent % len(updates)])
                sent += 1
            elif kind == b"\x04":
                rfile.read(7)
            elif kind == b"\x05":
                rfile.read(5)
            elif kind == b"\xff":
                rfile.read(11)
            else:
                raise SystemExit(f"the bench server got client message {kind!r}")
    except (BrokenPipeError, ConnectionResetError):
        return


# -- the app --------------------------------------------------------------------------------------------
class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


async def run_app(window, uri: str, seconds: float, label: str, size: str, server_pid: int) -> None:
    conn = drivers.open(uri)
    dom = conn.lookup_by_name("test")
    key = (uri, dom.uuid)
    while window.session.domains.get(key) is None:
        await asyncio.sleep(0.05)
    win = window.commands.open_display(key)
    win.resize(1100, 880)
    pane = win.pane
    while not (pane.model is not None and pane.model.open and not pane.view.framebuffer_image().isNull()):
        await asyncio.sleep(0.05)
    counter = PaintCounter()
    pane.view.installEventFilter(counter)
    await asyncio.sleep(1.0)
    frames0, paints0, cpu0, t0 = pane.model.frames, counter.paints, time.process_time(), time.monotonic()
    server0 = process_cpu_s(server_pid)
    await asyncio.sleep(seconds)
    wall = time.monotonic() - t0
    frames, paints, cpu = pane.model.frames - frames0, counter.paints - paints0, time.process_time() - cpu0
    server_cpu = process_cpu_s(server_pid) - server0
    image = pane.view.framebuffer_image()
    print(f"{label:5} {size}  {frames / wall:6.1f} frames/s taken  {paints / wall:6.1f} paints/s  "
          f"app CPU {100 * cpu / wall:5.1f} % ({1000 * cpu / max(paints, 1):4.1f} ms a frame: one core paints "
          f"{paints / max(cpu, 1e-9):5.0f}/s)  server CPU {100 * server_cpu / wall:5.1f} %  "
          f"load {load_average()}  (window {win.width()}x{win.height()}, screen {image.width()}x{image.height()} "
          "scaled to fit)")
    win.close()


def measure(encoding: str, width: int, height: int, seconds: float, base: Path) -> None:
    path = str(base / f"{encoding}.sock")
    server = subprocess.Popen([sys.executable, __file__, "--serve", path, encoding, f"{width}x{height}"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"

        def local_stream(_dom: drivers.Domain) -> socket.socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            return sock
        vmgui.bridge.open_vnc = local_stream  # the one call that would ask the driver
        app = QApplication.instance() or QApplication([sys.argv[0]])
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        uri = "test:///default"
        window = start([uri], QSettings(str(base / f"{encoding}.ini"), QSettings.Format.IniFormat))
        window.show()
        try:
            with loop:
                loop.run_until_complete(run_app(window, uri, seconds, encoding, f"{width}x{height}", server.pid))
        finally:
            window.session.stop()
            window.close()
    finally:
        server.kill()
        server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--size", default="1024x768")
    parser.add_argument("--encoding", choices=("raw", "zrle", "both"), default="both")
    parser.add_argument("--serve", nargs=3, metavar=("PATH", "ENCODING", "WxH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        path, encoding, size = args.serve
        w, h = map(int, size.split("x"))
        serve(path, encoding, w, h)
        return 0
    width, height = map(int, args.size.split("x"))
    base = Path(tempfile.mkdtemp(prefix="vbc-", dir="/tmp"))
    os.chmod(base, 0o700)
    print(f"{os.cpu_count()} cores; {args.seconds:.0f} s a figure; full-screen updates of random pixels, "
          "each sent as soon as the client asks")
    for encoding in (("raw", "zrle") if args.encoding == "both" else (args.encoding,)):
        measure(encoding, width, height, args.seconds, base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
