"""The Backups screenshots: ``python screenshots/backups_shot.py`` writes backups.png and backup-restore.png.

Makes a chain of catalogued backups of web01 (a full one and two incrementals,
real qcow2 images whose backing files are the parents', built with
``qemu-img create -b``; the full one verified) and a weekly schedule, runs the
real application under Xvfb (as make_screenshots.py does) on ``test:///default``,
opens Domain ▸ Backups, grabs the dialog, restores the full backup to a new VM
through the dialog's own flow and grabs the window with the restore job in the
job panel. Needs qemu-img, qemu-io and the Xvfb packages make_screenshots.py names.
"""
from __future__ import annotations

import calendar
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from make_screenshots import HERE, ROOT, start_xvfb

sys.path.insert(0, str(ROOT))

import drivers
from drivers import backupcatalog
from vmgui.models.backupschedule import FILE as SCHEDULES_FILE
from vmgui.models.backupschedule import Schedule

MIB = 1 << 20
DOMAIN = "web01"


def make_chain(folder: Path) -> None:
    """Three backups of web01 a day apart: full, then two incrementals, each writing data of its own."""
    with drivers.open("test:///default") as conn:
        dom = conn.lookup_by_name(DOMAIN)
        uuid, xml = dom.uuid, dom.xml_desc()
    parent: str | None = None
    day = calendar.timegm((2026, 12, 4, 2, 0, 0, 0, 0, 0))
    for n, (stamp, mib) in enumerate((("20261204-020000", 96), ("20261205-020000", 24), ("20261206-020000", 16))):
        home = folder / f"{DOMAIN}-{stamp}"
        home.mkdir(parents=True)
        image = home / "vda.qcow2"
        argv = ["qemu-img", "create", "-q", "-f", "qcow2"]
        if parent:
            argv += ["-b", f"../{parent}/vda.qcow2", "-F", "qcow2"]
        subprocess.run([*argv, str(image), "2G"], check=True)
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P {n + 1} {n * 128 * MIB} {mib * MIB}", str(image)],
                       check=True, capture_output=True)
        [entry] = backupcatalog.describe([backupcatalog.Written("vda", str(image), str(image), "qcow2")])
        if parent:
            entry = dataclasses.replace(entry, backing=f"../{parent}/vda.qcow2")
        backup = backupcatalog.write_manifest(str(home), DOMAIN, uuid, xml, day + n * 86400, [entry],
                                              kind="incremental" if parent else "full", parent=parent)
        if parent is None:
            backupcatalog.record_verification(backup, backupcatalog.verify(backup))
        parent = backup.id


def write_schedule(settings: Path, folder: Path) -> None:
    with drivers.open("test:///default") as conn:
        uuid = conn.lookup_by_name(DOMAIN).uuid
    schedule = Schedule("weekly", 2, 0, weekday=6, folder=str(folder), keep_last=8, keep_days=30,
                        last_run=time.time(), since=time.time())
    (settings.parent / SCHEDULES_FILE).write_text(
        json.dumps({f"test:///default {uuid}": dataclasses.asdict(schedule)}), encoding="utf-8")


def scenario(folder: Path) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()

    def main_window():
        return next(w for w in app.topLevelWidgets() if w.objectName() == "mainWindow")

    def open_backups() -> None:
        w = main_window()
        keys = [k for k in w.session.domains.visible_keys() if w.session.domains.name_of(k) == DOMAIN]
        if not keys:
            QTimer.singleShot(100, open_backups)
            return
        w.table.select_key(keys[0])
        w.refresh_selection_state()
        dialog = w.commands.open_backups(keys[0], [str(folder)])
        dialog.move(w.x() + 200, w.y() + 150)
        QTimer.singleShot(800, lambda: shoot_dialog(dialog))

    def shoot_dialog(dialog) -> None:
        dialog.list.topLevelItem(2).setSelected(True)  # the full backup (newest first)
        dialog.repaint()
        dialog.grab().save(str(HERE / "backups.png"))
        print("wrote", HERE / "backups.png")
        dialog.flow.restore_new(dialog.flow.rows[2], f"{DOMAIN}-restored")
        QTimer.singleShot(2500, lambda: shoot_window(dialog))

    def shoot_window(dialog) -> None:
        dialog.close()
        w = main_window()
        w.repaint()
        w.grab().save(str(HERE / "backup-restore.png"))
        print("wrote", HERE / "backup-restore.png")
        w.close()

    QTimer.singleShot(500, open_backups)


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="vmgui-backups-", dir="/tmp"))
    os.chmod(base, 0o700)
    folder = base / "backups"
    settings = base / "settings.ini"
    make_chain(folder)
    write_schedule(settings, folder)
    xvfb, display = start_xvfb()
    try:
        os.environ.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", VMGUI_SINGLE_INSTANCE="0",
                          VMGUI_SETTINGS=str(settings), XDG_DATA_HOME=str(base / "data"))
        from PySide6.QtWidgets import QApplication
        app = QApplication([sys.argv[0]])
        app.setStyle("Fusion")
        scenario(folder)
        from vmgui.app import main as vmgui_main
        return vmgui_main(["--connect", "test:///default"])
    finally:
        xvfb.terminate()
        xvfb.wait(10)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
