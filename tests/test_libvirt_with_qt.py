"""libvirt (>= 6.1) iterates GLib's global default context on its event thread; Qt's GLib
dispatcher iterates the same context on the GUI thread, and the two race until the process
crashes (seen in the full suite: a segfault in virEventRunDefaultImpl). vmgui.app prepares Qt
to use its own dispatcher; this proves that environment keeps both working."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.libvirt
ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import os, sys, threading, time
import drivers
from drivers import EventType
from PySide6.QtWidgets import QApplication
from vmgui.app import prepare_qt_environment

prepare_qt_environment()
conn = drivers.open("libvirt:test:///default")
seen = []
conn.register_event_callback(lambda c, d, e: seen.append(e.type))
app = QApplication([])                 # Qt's GLib dispatcher iterates the default GMainContext
dom = conn.lookup_by_name("test")
end = time.monotonic() + 3
while time.monotonic() < end:
    app.processEvents()
    dom.suspend()
    dom.resume()
time.sleep(0.5)
print(seen.count(EventType.SUSPENDED), seen.count(EventType.RESUMED))
conn.close()
"""


def test_libvirt_events_and_the_gui_event_loop_coexist():
    pytest.importorskip("libvirt")
    pytest.importorskip("PySide6")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    env.pop("QT_NO_GLIB", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "GLib-CRITICAL" not in proc.stderr, proc.stderr[-3000:]
    suspended, resumed = (int(x) for x in proc.stdout.split())
    assert suspended > 10 and resumed > 10  # events flowed through our loop meanwhile
