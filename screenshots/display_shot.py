"""Screenshots with a real guest: ``python screenshots/display_shot.py`` writes display.png,
display-tab.png and console.png.

Boots the Linux test guest (tests/linuxguest; a shell on its VGA console and one on
its serial port) on a private ``qemu:///embed`` host, runs the real application
under Xvfb (as make_screenshots.py does), opens the guest's display window with the
Display action, types a command into it and grabs the window; then the main window
with the details pane's Display tab; then the serial console (the terminal) with a
few commands run in the guest's shell. Needs qemu-system-x86_64 and the Xvfb
packages make_screenshots.py names.
"""
from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from make_screenshots import HERE, ROOT, private_base, run_app, start_xvfb

sys.path.insert(0, str(ROOT / "tests"))

import linuxguest

import drivers
from drivers.domxml import CharDevice, DomainXML, Graphics, Input, Video

NAME = "debian-console"


def boot_guest(base: Path) -> str:
    """Define and start the guest on a private embedded host; its URI once the shell is up."""
    guest = linuxguest.build()
    serial = base / "root" / "logs" / f"{NAME}.serial.log"  # where the driver logs a pty serial port
    uri = f"qemu:///embed?root={base / 'root'}"
    dom = DomainXML.new(NAME, 256 * 1024)
    dom.set_direct_boot(guest.kernel, guest.initrd, guest.cmdline("tty1"))
    for device in (CharDevice("serial", "pty", target_port=0), Graphics("vnc"), Video("vga"),
                   Input("tablet", "usb")):
        dom.add_device(device)
    conn = drivers.open(uri)
    conn.define_xml(dom.to_string()).create()
    deadline = time.monotonic() + 120
    while b"VMGUI READY" not in (serial.read_bytes() if serial.exists() else b""):
        if time.monotonic() > deadline:
            raise SystemExit("the guest did not boot")
        time.sleep(0.2)
    conn.close()
    return uri


def scenario(uri: str) -> None:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QSplitter

    from vmgui.actions import ActionId

    app = QApplication.instance()

    def main_window():
        return next(w for w in app.topLevelWidgets() if w.objectName() == "mainWindow")

    def open_display() -> None:
        w = main_window()
        rows = [k for k in w.session.domains.visible_keys() if w.session.domains.name_of(k) == NAME]
        if not rows:
            QTimer.singleShot(100, open_display)
            return
        w.table.select_key(rows[0])
        w.refresh_selection_state()
        w.commands.trigger(ActionId.GRAPHICAL_CONSOLE)
        win = w.commands.display_windows[rows[0]]
        win.resize(760, 500)
        win.move(300, 120)
        QTimer.singleShot(3000, lambda: type_into(win))

    def type_into(win) -> None:
        view = win.pane.view
        view.setFocus()
        QTest.keyClicks(view, "uname -sr; free -m; ls /")
        QTest.keyClick(view, Qt.Key.Key_Return)
        QTimer.singleShot(2500, lambda: shoot(win))

    def shoot(win) -> None:
        win.grab().save(str(HERE / "display.png"))
        print("wrote", HERE / "display.png")
        win.close()
        QTimer.singleShot(500, display_tab)

    def display_tab() -> None:
        w = main_window()
        w.resize(1280, 720)
        w.job_panel.hide()  # no jobs: the screen gets the height
        w.findChild(QSplitter, "mainSplitter").setSizes([500, 780])
        w.details.setCurrentWidget(w.details.display)
        QTimer.singleShot(4000, lambda: grab(w, "display-tab.png", console))

    def console() -> None:
        w = main_window()
        key = next(k for k in w.session.domains.visible_keys() if w.session.domains.name_of(k) == NAME)
        dialog = w.commands.open_console(key)
        dialog.resize(760, 480)
        dialog.move(w.x() + 260, w.y() + 140)

        def type_some() -> None:
            dialog.model.send(b"clear; uname -sr; grep -m1 'model name' /proc/cpuinfo; free -m\r")
            dialog.model.send(b"ls --color=always / /sys/class\r")
        QTimer.singleShot(1500, type_some)
        QTimer.singleShot(4500, lambda: grab(dialog, "console.png", finish))

    def grab(widget, name: str, then) -> None:
        widget.repaint()
        widget.grab().save(str(HERE / name))
        print("wrote", HERE / name)
        QTimer.singleShot(200, then)

    def finish() -> None:
        for d in main_window().session.bridge.connection(uri).list_all_domains():
            if d.is_active():
                d.destroy()
        main_window().close()

    QTimer.singleShot(500, open_display)


def run_on_guest(prefix: str, boot: Callable[[Path], str], drive: Callable[[str], None]) -> int:
    """Boot a guest with ``boot(base)`` on a private host, then run the real app under Xvfb on its
    URI with ``drive(uri)`` scheduling what to grab; the app's exit status."""
    base = private_base(prefix)
    xvfb, display = start_xvfb()
    try:
        uri = boot(base)
        return run_app(display, base / "settings.ini", lambda: drive(uri), [uri])
    finally:
        xvfb.terminate()
        xvfb.wait(10)
        shutil.rmtree(base, ignore_errors=True)


def main() -> int:
    return run_on_guest("vmgui-display-", boot_guest, scenario)


if __name__ == "__main__":
    sys.exit(main())
