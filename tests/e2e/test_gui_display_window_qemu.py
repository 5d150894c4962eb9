"""The display window on a real Linux guest: QEMU's screen pixel for pixel, full screen and back, Send Key
reaching the guest's keyboard driver, the screenshot file, reconnecting after the VM starts again, and the
USB tablet QEMU reports as an absolute pointer.

The guest runs a shell on its VGA console (workload ``tty1``); Ctrl+Alt+F2 makes its kernel switch to
virtual terminal 2, which holds one line, so QEMU's screendump changes.
"""
from __future__ import annotations

import time

import pytest
from borrowed_fixtures import borrow
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QImage
from rfbwatch import differing_pixels, ppm_rgb, qimage_rgb, wait_until_equal

from drivers.domxml import DomainXML, Input

_gui = borrow("vmgui")
aloop, settings, open_window = _gui.aloop, _gui.settings, _gui.open_window
private_settings, collect_qt_objects_here = _gui.private_settings, _gui.collect_qt_objects_here

pytestmark = [pytest.mark.qemu, pytest.mark.slow, pytest.mark.qt_log_ignore(_gui.OFFSCREEN_NOISE)]


def _wait(qtbot, ok, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ok() and time.monotonic() < deadline:
        qtbot.wait(100)
    assert ok(), what


def test_the_display_window_shows_sends_keys_saves_and_reconnects(env, linux_guest, open_window, qtbot, tmp_path):
    conn = env.open()
    definition = DomainXML.parse(env.linux_xml("win", "tty1", extra_devices="<graphics type='vnc'/>"))
    definition.add_device(Input("tablet", "usb"))  # as the New VM wizard adds it
    dom = conn.define_xml(definition.to_string())
    dom.create()
    serial = env.guest("win")
    serial.wait_for(b"VMGUI READY", timeout=90)
    mice = dom._dom().live.mon.execute("query-mice")
    assert [m["absolute"] for m in mice if "Tablet" in m["name"]] == [True], mice

    window = open_window(env.uri())
    key = (env.uri(), dom.uuid)
    qtbot.waitUntil(lambda: window.session.domains.get(key) is not None, timeout=10000)
    window.table.clearSelection()
    assert window.table.select_key(key)
    window.refresh_selection_state()
    window.findChild(QAction, "actionGraphicalConsole").trigger()
    win = window.commands.display_windows[key]
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    pane = win.pane
    qtbot.waitUntil(lambda: pane.model is not None and pane.model.open
                    and not pane.view.framebuffer_image().isNull(), timeout=30000)
    assert not pane.notice.isVisible(), "nothing is said over a live picture"
    pane.actual_action.trigger()
    last_frame = [time.monotonic()]
    pane.model.frameChanged.connect(lambda _r: last_frame.__setitem__(0, time.monotonic()))

    def shown() -> tuple[int, int, bytes]:
        return qimage_rgb(pane.view.framebuffer_image())

    def settle() -> None:
        wait_until_equal(shown, dom.screenshot, lambda: last_frame[0], sleep=lambda s: qtbot.wait(int(s * 1000)))
    settle()
    width, height, rgb = shown()
    assert (width, height) == (720, 400) and rgb.count(b"\xa8\xa8\xa8") > 1000, "the console's text is on screen"

    # full screen and back, the picture still QEMU's
    pane.view.setFocus()
    qtbot.keyClick(pane.view, Qt.Key.Key_F11)
    qtbot.waitUntil(win.isFullScreen)
    assert win.hint.isVisible()
    qtbot.keyClick(pane.view, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: not win.isFullScreen())
    assert pane.model.open
    settle()

    # the screenshot is the framebuffer at 1:1
    frame = pane.view.framebuffer_image()
    path = tmp_path / "shot.png"
    pane.save_screenshot(str(path))
    qtbot.waitUntil(lambda: "Saved a screenshot" in pane.status.text(), timeout=10000)
    assert pane.status.text() == f"Saved a screenshot of win to {path}"
    assert qimage_rgb(QImage(str(path))) == qimage_rgb(frame)
    assert not list(tmp_path.glob(".shot.png.*")), "no temporary file is left"

    # Send Key: Ctrl+Alt+F2 switches the guest to virtual terminal 2 (opened by a line typed here: the kernel
    # switches only to a terminal in use), F1 back to the shell. Terminal 2's cursor is hidden as the shell's
    # is: a blinking one changes 18 pixels at QEMU's pace, and a screendump and the frame then never agree.
    pane.view.setFocus()
    qtbot.keyClicks(pane.view, r"printf '\033[?25lVMGUI TTY2' >/dev/tty2; echo VMGUI OPENED >/dev/ttyS0")
    qtbot.keyClick(pane.view, Qt.Key.Key_Return)
    _wait(qtbot, lambda: b"VMGUI OPENED" in serial.text(), 30, "the line typed into the window ran")
    settle()
    before = ppm_rgb(dom.screenshot())
    pane.send_key_actions["Ctrl+Alt+F2"].trigger()
    _wait(qtbot, lambda: differing_pixels(ppm_rgb(dom.screenshot()), before) > 2000, 30,
          "Ctrl+Alt+F2 reached the guest: its screen changed to another terminal")
    settle()  # the window shows terminal 2 too: a screendump equal to its frame, pixel for pixel
    pane.send_key_actions["Ctrl+Alt+F1"].trigger()
    _wait(qtbot, lambda: ppm_rgb(dom.screenshot()).count(b"\xa8\xa8\xa8") > 1000, 30, "back on the shell's terminal")
    settle()

    # the VM stops and starts again: the window says so, then connects by itself
    dom.destroy()
    qtbot.waitUntil(lambda: pane.notice.text.text() == "win is not running.", timeout=30000)
    assert pane.notice.button.text() == "Start"
    dom.create()
    qtbot.waitUntil(lambda: pane.model.open, timeout=60000)
    serial.wait_for(b"VMGUI READY", count=2, timeout=90)
    settle()
    assert not pane.notice.isVisible()
    win.close()


def test_a_vm_with_only_a_mouse_gets_the_pointer_on_a_click_and_ctrl_alt_takes_it_back(env, linux_guest,
                                                                                       open_window, qtbot):
    conn = env.open()
    dom = conn.define_xml(env.linux_xml("mouse", "tty1", extra_devices="<graphics type='vnc'/>"))
    dom.create()
    env.guest("mouse").wait_for(b"VMGUI READY", timeout=90)
    window = open_window(env.uri())
    key = (env.uri(), dom.uuid)
    qtbot.waitUntil(lambda: window.session.domains.get(key) is not None, timeout=10000)
    win = window.commands.open_display(key)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    pane, view = win.pane, win.pane.view
    qtbot.waitUntil(lambda: pane.model is not None and pane.model.open, timeout=30000)
    qtbot.waitUntil(lambda: pane.model.absolute_pointer is False, timeout=10000)  # QEMU: a PS/2 mouse only
    assert pane.pointer_hint.isVisible()
    assert pane.pointer_hint.text() == ("This VM has no tablet: click into the screen to move its pointer; "
                                        "Ctrl+Alt releases it.")
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=view.rect().center())
    assert view.grabbed and pane.pointer_hint.text() == "The VM has the pointer: press Ctrl+Alt to release it."
    qtbot.mouseMove(view, view.rect().center() + QPoint(30, 10))
    assert pane.model.open, "motion of a held pointer keeps the session open"
    qtbot.keyClick(view, Qt.Key.Key_Alt, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    assert not view.grabbed and pane.pointer_hint.text().startswith("This VM has no tablet")
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=view.rect().center())
    assert view.grabbed
    dom.destroy()
    qtbot.waitUntil(lambda: pane.notice.isVisible() and "not running" in pane.notice.text.text(), timeout=30000)
    assert not view.grabbed, "a VM that stopped gives the pointer back"
    assert not pane.pointer_hint.text().startswith("The VM has the pointer")
    win.close()
