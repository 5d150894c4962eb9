"""The New VM wizard's firmware and TPM page: ``python screenshots/newvm_firmware_shot.py`` writes newvm-firmware.png.

Runs the real application under Xvfb (as make_screenshots.py does) on a private
``qemu:///embed`` host, so the firmware and TPM offered are this machine's
(OVMF with Secure Boot, swtpm), opens the New VM wizard with its own action,
chooses a Windows 11 installer image (made by xorriso with the volume id
Microsoft's ISOs carry), waits until osinfo-db has named it and goes to the
page with memory, firmware, TPM, devices and disk. No VM is started. Needs
osinfo-db, ovmf, swtpm, xorriso and the Xvfb packages make_screenshots.py names.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from make_screenshots import HERE, MICROSOFT, WINDOWS_11, build_iso, private_base, run_app, start_xvfb

NAME = "newvm-firmware.png"


def scenario(iso: Path) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from vmgui.actions import ActionId

    app = QApplication.instance()

    def main_window():
        return next((w for w in app.topLevelWidgets() if w.objectName() == "mainWindow"), None)

    def open_wizard() -> None:
        w = main_window()
        if w is None or not w.session.connections.definers():
            QTimer.singleShot(100, open_wizard)
            return
        w.commands.trigger(ActionId.NEW_VM)
        QTimer.singleShot(100, fill)

    def fill() -> None:
        dialog = main_window().commands.last_dialog
        if dialog is None:
            QTimer.singleShot(100, fill)
            return
        dialog.move(main_window().x() + 250, main_window().y() + 60)
        dialog.name.setText("win11-desktop")
        dialog.iso.setText(str(iso))
        QTimer.singleShot(100, lambda: advance(dialog, 0))

    def advance(dialog, waited: int) -> None:  # once the ISO is named and the disk file looked at
        detected = dialog.detected.text()
        if (not detected or dialog.checker.busy()) and waited < 20000:
            QTimer.singleShot(100, lambda: advance(dialog, waited + 100))
            return
        if not detected:
            print("osinfo-db did not name the ISO (is osinfo-db installed?)")
        dialog.next()
        QTimer.singleShot(600, lambda: shoot(dialog))

    def shoot(dialog) -> None:
        dialog.grab().save(str(HERE / NAME))
        print("wrote", HERE / NAME)
        dialog.close()
        main_window().close()

    QTimer.singleShot(300, open_wizard)


def main() -> int:
    base = private_base("vmgui-newvm-")
    xvfb, display = start_xvfb()
    try:
        iso = build_iso(base / "Win11_23H2_English_x64.iso", WINDOWS_11, MICROSOFT)
        return run_app(display, base / "settings.ini", lambda: scenario(iso), [f"qemu:///embed?root={base / 'root'}"])
    finally:
        xvfb.terminate()
        xvfb.wait(10)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
