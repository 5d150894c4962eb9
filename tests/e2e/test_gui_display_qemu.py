"""The Display tab on a real Linux guest: its frame is QEMU's screen pixel for pixel, and typing reaches the guest.

The guest runs a shell on its VGA console (workload ``tty1``); what is typed into the
view runs there and writes to the serial port, which the test reads.
"""
from __future__ import annotations

import time

import pytest
from borrowed_fixtures import borrow
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QSplitter
from rfbwatch import qimage_rgb, wait_until_equal

_gui = borrow("vmgui")
aloop, settings, open_window = _gui.aloop, _gui.settings, _gui.open_window
private_settings, collect_qt_objects_here = _gui.private_settings, _gui.collect_qt_objects_here

pytestmark = [pytest.mark.qemu, pytest.mark.slow, pytest.mark.qt_log_ignore(_gui.OFFSCREEN_NOISE)]


def test_the_display_tab_shows_the_screen_and_types_into_the_guest(env, linux_guest, open_window, qtbot):
    conn = env.open()
    dom = conn.define_xml(env.linux_xml("screen", "tty1", extra_devices="<graphics type='vnc'/>"))
    dom.create()
    serial = env.guest("screen")
    serial.wait_for(b"VMGUI READY", timeout=90)
    window = open_window(env.uri())
    key = (env.uri(), dom.uuid)
    qtbot.waitUntil(lambda: window.session.domains.get(key) is not None, timeout=10000)
    window.table.clearSelection()
    assert window.table.select_key(key)
    window.refresh_selection_state()
    details = window.details
    tab = details.display
    assert tab.model is None or not tab.model.busy, "the tab connects only when it is in view"
    splitter = window.findChild(QSplitter, "mainSplitter")
    window.resize(1280, 720)
    splitter.setSizes([900, 380])  # a narrow details pane, as a wide table leaves it
    qtbot.wait(200)
    details.setCurrentWidget(tab)
    qtbot.wait(200)
    sizes = splitter.sizes()
    qtbot.waitUntil(lambda: tab.model is not None and tab.model.open
                    and not tab.view.framebuffer_image().isNull(), timeout=30000)
    qtbot.waitUntil(lambda: tab.model.absolute_pointer is False, timeout=10000)  # the busybox guest: PS/2
    qtbot.waitUntil(tab.pointer_hint.isVisible)
    qtbot.wait(200)
    assert splitter.sizes() == sizes, "the pointer hint wraps in the pane: the table keeps its width"
    assert tab.status.text() == "Connected to the display of screen (720×400)"
    assert tab.status.isVisible() and not tab.notice.isVisible()  # the live picture: the status line says it
    assert all(button.isEnabled() for button in tab.menu_buttons)  # View and Send Key
    tab.fit.setChecked(False)  # 1:1
    last_frame = [time.monotonic()]
    tab.model.frameChanged.connect(lambda _r: last_frame.__setitem__(0, time.monotonic()))

    tab.view.setFocus()
    qtbot.keyClicks(tab.view, "echo VMGUI TYPED $((6*7)) >/dev/ttyS0")
    qtbot.keyClick(tab.view, Qt.Key.Key_Return)
    deadline = time.monotonic() + 30
    while b"VMGUI TYPED 42" not in serial.text() and time.monotonic() < deadline:
        qtbot.wait(100)
    assert b"VMGUI TYPED 42" in serial.text(), "what was typed into the display ran in the guest's shell"

    def shown() -> tuple[int, int, bytes]:
        return qimage_rgb(tab.view.framebuffer_image())
    wait_until_equal(shown, dom.screenshot, lambda: last_frame[0], sleep=lambda s: qtbot.wait(int(s * 1000)))
    width, height, rgb = shown()
    assert (width, height) == (720, 400) and rgb.count(b"\xa8\xa8\xa8") > 1000, "the console's text is on screen"
    drawn = qimage_rgb(tab.view.grab().toImage())  # what the widget paints at 1:1
    assert drawn == shown(), "the view paints the frame unscaled at 1:1"

    tab.fit.setChecked(True)  # scaled: pointer positions map back to framebuffer pixels
    qtbot.waitUntil(lambda: tab.view.size() != tab.view.framebuffer_image().size())
    target = tab.view.target()
    assert target.width() / target.height() == pytest.approx(720 / 400, rel=0.01), "the shape is kept"
    x, y = tab.view.to_framebuffer(target.center().toPoint())
    assert abs(x - 360) <= 2 and abs(y - 200) <= 2
    assert tab.view.to_framebuffer(target.topLeft().toPoint()) == (0, 0)
    assert tab.view.to_framebuffer(QPoint(-5, -5)) is None
    qtbot.mouseClick(tab.view, Qt.MouseButton.LeftButton, pos=target.center().toPoint())
    assert tab.model.open, "pointer events leave the session open"

    details.setCurrentWidget(details.overview)
    assert not tab.model.busy, "leaving the tab closes the display"
    details.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.model.open, timeout=30000)
    window.hide()
    assert not tab.model.busy, "a hidden window closes the display"
