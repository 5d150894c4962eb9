"""Real QEMU behind the details pane and console: edited memory, the screen thumbnail, the serial console.

The private-root fixtures (``env``, ``guest_kernel``) are tests/e2e/conftest.py's (borrowed_fixtures);
the window is this directory's offscreen one.
"""
from __future__ import annotations

import pytest
from borrowed_fixtures import borrow
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QLabel
from test_details import INACTIVE, open_form
from test_window import select

from drivers.domxml import DomainXML
from vmgui.models.editing import changed_lines

_e2e = borrow("e2e")  # also puts tests/e2e on sys.path
env, guest_kernel = _e2e.env, _e2e.guest_kernel
import e2e_helpers as h  # noqa: E402

pytestmark = [pytest.mark.qemu,
              pytest.mark.skipif(not (h.QEMU and h.QEMU_IMG), reason="qemu-system-x86_64 / qemu-img are not installed")]


def test_memory_edited_in_the_form_is_what_qemu_reports_after_start(env, open_window, qtbot):
    conn = env.open()
    conn.define_xml(env.xml("sized", memory_mib=32))
    window = open_window(env.uri())
    dialog = open_form(window, qtbot, "sized")
    dialog.memory.setValue(48)
    dialog.ok.click()
    qtbot.waitUntil(lambda: window.details.flow.diff is not None and window.details.flow.diff.isVisible())
    diff = window.details.flow.diff
    assert any("49152" in line for line in changed_lines(diff.lines) if line.startswith("+"))
    diff.findChild(type(dialog.ok), "diffApply").click()
    qtbot.waitUntil(lambda: DomainXML.parse(conn.lookup_by_name("sized").xml_desc(INACTIVE)).memory_kib == 48 * 1024,
                    timeout=10000)
    dom = conn.lookup_by_name("sized")
    dom.create()
    h.wait_heartbeat(env.serial("sized"), 1)
    summary = dom._dom().live.execute("query-memory-size-summary")  # QEMU's own figure, over QMP
    assert summary["base-memory"] == 48 * 1024 * 1024
    qtbot.waitUntil(lambda: window.details.values["Memory"].text().startswith("48.0 MiB"), timeout=10000)


def test_the_thumbnail_shows_qemus_screen_and_follows_the_guest(env, open_window, qtbot):
    conn = env.open()
    dom = conn.define_xml(env.xml("screen", extra_devices="<graphics type='vnc'/>"))
    dom.create()
    h.wait_heartbeat(env.serial("screen"), 1)
    window = open_window(env.uri())
    thumb = window.findChild(QLabel, "screenThumbnail")
    thumb._timer.setInterval(200)
    select(window, "screen")
    qtbot.waitUntil(lambda: thumb.has_picture, timeout=15000)  # a QMP screendump, scaled
    first = thumb.frames
    assert thumb.pixmap().width() > 0 and thumb.pixmap().height() > 0
    qtbot.waitUntil(lambda: thumb.frames > first, timeout=15000)  # it keeps refreshing while shown
    dom.destroy()
    qtbot.waitUntil(lambda: not thumb.has_picture and "not running" in thumb.text(), timeout=15000)


def running_in_window(env, open_window, name: str):
    """A running test guest, selected in a window on its root: (connection, window)."""
    conn = env.open()
    conn.define_xml(env.xml(name)).create()
    h.wait_heartbeat(env.serial(name), 1)
    window = open_window(env.uri())
    select(window, name)
    return conn, window


def type_line(qtbot, dialog, text: str) -> None:
    """Paste ``text`` into the console's terminal (one write, so the guest's heartbeat never splits its
    echo) and press Return."""
    QGuiApplication.clipboard().setText(text)
    paste = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(dialog.terminal, Qt.Key.Key_V, paste)
    qtbot.keyClick(dialog.terminal, Qt.Key.Key_Return)


def echoed(env, name: str, text: str) -> bool:
    """The guest echoed ``text`` on its serial port (its log: the toy guest ends lines with a bare LF, so
    the terminal rightly draws its next heartbeat over an echo that ended with the CR of Return)."""
    return text in h.without_heartbeats(env.serial(name).read_text(encoding="utf-8", errors="replace"))


def test_the_console_window_streams_the_guest_and_types_into_it(env, open_window, qtbot):
    conn, window = running_in_window(env, open_window, "talk")
    window.findChild(QAction, "actionConsole").trigger()
    dialog = window.commands.last_dialog
    qtbot.waitUntil(lambda: "HB " in dialog.model.text(), timeout=15000)  # history, then live
    type_line(qtbot, dialog, "ping-gui-7")
    qtbot.waitUntil(lambda: echoed(env, "talk", "ping-gui-7"), timeout=15000)  # the guest's echo
    conn.lookup_by_name("talk").destroy()
    status = dialog.findChild(QLabel, "consoleStatus")
    qtbot.waitUntil(lambda: "VM stopped" in status.text(), timeout=15000)  # hung up, and says so
    dialog.close()


def test_a_line_typed_as_the_console_window_opens_reaches_the_guest_every_time(env, open_window, qtbot):
    conn, window = running_in_window(env, open_window, "eager")
    for i in range(30):  # typed before the console is connected; the previous window's client just left
        window.findChild(QAction, "actionConsole").trigger()
        dialog = window.commands.last_dialog
        assert not dialog.model.open
        type_line(qtbot, dialog, f"eager-{i:02d}")
        qtbot.waitUntil(lambda i=i: echoed(env, "eager", f"eager-{i:02d}"), timeout=15000)
        dialog.close()
    conn.lookup_by_name("eager").destroy()
