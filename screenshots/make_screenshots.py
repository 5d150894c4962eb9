"""Regenerate the screenshots: ``python screenshots/make_screenshots.py``.

Starts Xvfb (it picks a free display itself, ``-displayfd``), runs the real
application (``vmgui.app.main``) on ``test:///default`` plus a private second
host, starts a backup and a live migration (and a few short jobs) through the
window's own actions, and writes PNGs of the real window at 1366x768 next to
this script: main-window.png and jobs.png (the two AppStream screenshots listed
in vmgui/desktop.py), filters-and-xml.png, connection-error.png, details.png, and
the snapshot, backup, delete, migration, new-VM, edit and XML-diff dialogs
(the console and the display, with a real guest, are display_shot.py's).
Steps run one after another; a dialog is grabbed once it has appeared
and settled. Needs the Debian packages ``xvfb libxcb-icccm4 libxcb-keysyms1
libxcb-cursor0 libxkbcommon-x11-0`` and ``xorriso`` (the installer image the New VM wizard reads).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
SIZE = (1366, 768)

from isoimages import DEBIAN_11, MICROSOFT, WINDOWS_11, build_iso  # noqa: E402, F401 - on sys.path from here on; the other shot scripts import them from here
from PySide6.QtWidgets import QApplication  # noqa: E402

from vmgui.app import main as vmgui_main  # noqa: E402

LAB_HOST = """<node>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>build01</name><uuid>8a1f0c3e-1d2b-4c5d-8e6f-0a1b2c3d4e01</uuid><title>Build server</title>
    <memory unit='MiB'>4096</memory><vcpu>4</vcpu><os><type arch='x86_64'>hvm</type></os>
    <devices><disk type='file' device='disk'><source file='/srv/build01.qcow2'/><target dev='vda'/></disk></devices>
    <test:runstate>1</test:runstate><test:autostart/>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>staging</name><uuid>8a1f0c3e-1d2b-4c5d-8e6f-0a1b2c3d4e02</uuid>
    <memory unit='MiB'>2048</memory><vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os>
    <devices><disk type='file' device='disk'><source file='/srv/staging.qcow2'/><target dev='vda'/></disk></devices>
    <test:runstate>5</test:runstate>
  </domain>
</node>
"""


def private_base(prefix: str) -> Path:
    """A fresh 0700 folder for one script's hosts, with its own runtime folder and lockspace."""
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(base, 0o700)
    (base / "run").mkdir(mode=0o700)
    os.environ.update(XDG_RUNTIME_DIR=str(base / "run"), VMGUI_LOCKSPACE=str(base / "lockspace"))
    return base


def run_app(display: str, settings: Path, scenario: Callable[[], None], uris: list[str]) -> int:
    """The real application on ``display`` connected to ``uris``, driven by ``scenario``'s timers."""
    os.environ.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", VMGUI_SINGLE_INSTANCE="0",
                      VMGUI_SETTINGS=str(settings))
    app = QApplication([sys.argv[0]])
    app.setStyle("Fusion")
    scenario()
    return vmgui_main([arg for uri in uris for arg in ("--connect", uri)])


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{SIZE[0]}x{SIZE[1]}x24",
                             "-nolisten", "tcp"], pass_fds=(write_fd,), stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        display = pipe.readline().strip()
    if not display:
        proc.kill()
        raise SystemExit("Xvfb did not start (is the xvfb package installed?)")
    return proc, f":{display}"


def scenario(tmp: Path, lab_uri: str) -> None:
    """Drive the running app with timers, grab PNGs, then close it."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from vmgui.actions import ActionId
    from vmgui.actions.requests import Backup, Migrate, Snapshot

    app = QApplication.instance()

    def window():
        return next(w for w in app.topLevelWidgets() if w.objectName() == "mainWindow")

    def key(uri: str, name: str):
        conn = window().session.bridge.connection(uri)
        return uri, conn.lookup_by_name(name).uuid

    def select(*names: str) -> None:
        table = window().table
        table.clearSelection()
        model = table.model()
        for row in range(model.rowCount()):
            if model.index(row, 0).data() in names:
                table.selectionModel().select(model.index(row, 0), table.selectionModel().SelectionFlag.Select
                                              | table.selectionModel().SelectionFlag.Rows)

    def shoot(name: str) -> None:
        w = window()
        w.repaint()
        w.grab().save(str(HERE / name))
        print("wrote", HERE / name)

    def ready() -> bool:
        conns = window().session.connections
        return all(conns.get(u) is not None and conns.get(u).ready for u in ("test:///default", lab_uri))

    def start_jobs() -> None:
        w = window()
        folder = tmp / "backups"
        folder.mkdir(exist_ok=True)
        w.commands.backup.folder = str(folder)
        w.commands.run(Snapshot("pre-deploy"), [key("test:///default", "web01")])
        w.commands.run(Backup(folder=str(folder)), [key("test:///default", "ci-runner-7")])
        w.commands.run(Backup(folder=str(folder)), [key("test:///default", "db01")])
        w.commands.run(Migrate(lab_uri, flags=1 | 8), [key("test:///default", "test")])

    def cancel_one() -> None:
        jobs = window().session.jobs
        for row in jobs.rows():
            if row.info.domain == "ci-runner-7" and not row.info.finished:
                window().session.cancel_job(*row.key)

    def jobs_shot() -> None:
        w = window()
        select("web01")
        w.refresh_selection_state()
        w.resizeDocks([w.job_panel], [330], Qt.Orientation.Vertical)
        QTimer.singleShot(200, lambda: shoot("jobs.png"))

    def main_shot() -> None:
        w = window()
        w.resizeDocks([w.job_panel], [240], Qt.Orientation.Vertical)
        for name in ("filter_running", "filter_paused", "filter_persistent"):
            w.findChild(object, name).click()
        select("db01")
        w.refresh_selection_state()
        QTimer.singleShot(200, lambda: shoot("main-window.png"))

    def dark_shot() -> None:
        """The main window as View ▸ Colours ▸ Dark shows it, then back to the desktop's colours."""
        from vmgui.views.theme import Scheme
        w = window()
        w.set_colour_scheme(Scheme.DARK)

        def back() -> None:
            shoot("main-window-dark.png")
            w.set_colour_scheme(Scheme.SYSTEM)
        QTimer.singleShot(400, back)

    def xml_shot() -> None:
        w = window()
        select("web01")
        w.refresh_selection_state()
        w.details.setCurrentWidget(w.details.xml)
        QTimer.singleShot(600, lambda: shoot("filters-and-xml.png"))

    def error_shot() -> None:
        w = window()
        for name in ("filter_running", "filter_paused", "filter_persistent"):
            w.findChild(object, name).click()
        w.details.setCurrentIndex(0)
        w.connect_uri("qemu+ssh://admin@db-host.example/system")
        select("kernel-dev")
        w.refresh_selection_state()
        QTimer.singleShot(1500, lambda: shoot("connection-error.png"))

    def snapshots_shot() -> None:
        w = window()
        dialog = w.commands.open_snapshots(key("test:///default", "web01"))
        dialog.move(w.x() + 300, w.y() + 160)
        QTimer.singleShot(500, lambda: save(dialog, "snapshots.png"))

        def create() -> None:
            dialog.create_button.click()
            new = dialog.last_dialog
            new.description.setPlainText("Before the PHP 8.3 upgrade")
            QTimer.singleShot(200, lambda: (save(new, "snapshot-create.png"), new.reject(), dialog.close()))
        QTimer.singleShot(600, create)

    def save(widget, name: str) -> None:
        widget.repaint()
        widget.grab().save(str(HERE / name))
        print("wrote", HERE / name)

    def dialog_shot(open_it, name: str, done, settle_ms: int = 300, prepare=None) -> None:
        """Open a dialog through the window's own flow, wait until it is there and settled, grab it, close it."""
        w = window()
        before = w.commands.last_dialog
        open_it(w)
        waited = [0]

        def poll() -> None:
            dialog = w.commands.last_dialog
            if dialog is None or dialog is before:
                waited[0] += 50
                if waited[0] > 10000:
                    print("no dialog for", name)
                    done()
                else:
                    QTimer.singleShot(50, poll)
                return
            dialog.move(w.x() + 250, w.y() + 110)
            if prepare is not None:
                prepare(dialog)

            def grab() -> None:
                save(dialog, name)
                dialog.close()
                done()
            QTimer.singleShot(settle_ms, grab)
        poll()

    def backup_shot(done) -> None:
        dialog_shot(lambda w: w.commands.backup.ask([key("test:///default", "web01")]), "backup.png", done)

    def delete_shot(done) -> None:
        dialog_shot(lambda w: w.commands.delete.ask([key("test:///default", "web01")]), "delete.png", done)

    def migrate_shot(done) -> None:
        dialog_shot(lambda w: w.commands.migrate.ask([key("test:///default", n) for n in ("web01", "db01",
                                                                                         "legacy-app")]),
                    "migrate.png", done, settle_ms=1200,  # the compatibility check fills in meanwhile
                    prepare=lambda dialog: dialog.resize(dialog.width(), 620))

    def newvm_shot(done) -> None:
        iso = build_iso(tmp / "debian-11.6.0-amd64-netinst.iso", DEBIAN_11)

        def prepare(dialog) -> None:
            dialog.name.setText("web03")
            dialog.iso.setText(str(iso))

            def advance() -> None:  # once a worker has looked at the ISO and the new disk's file
                if dialog.checker.busy():
                    QTimer.singleShot(50, advance)
                    return
                dialog.next()  # memory, vCPUs, disk
                dialog.next()  # the summary with the XML preview
            advance()
        dialog_shot(lambda w: w.commands.trigger(ActionId.NEW_VM), "new-vm.png", done, settle_ms=900, prepare=prepare)

    def details_shot() -> None:
        w = window()
        select("web01")
        w.refresh_selection_state()
        w.details.setCurrentWidget(w.details.overview)
        QTimer.singleShot(4000, lambda: shoot("details.png"))  # a few graph points by then

    def edit_shot() -> None:
        w = window()
        select("win11")
        w.refresh_selection_state()
        w.details.edit()

        def form() -> None:
            d = w.details.flow.dialog
            d.move(w.x() + 250, w.y() + 60)
            d.memory.setValue(6144)
            QTimer.singleShot(200, lambda: (save(d, "edit.png"), d.ok.click()))
        QTimer.singleShot(700, form)
        QTimer.singleShot(1400, lambda: (save(w.details.flow.diff, "xml-diff.png"), w.details.flow.diff.reject()))

    def at_once(step):
        """A step that is over when it returns (its own timers finish before the next step's delay)."""
        return lambda done: (step(), done())

    steps = [  # (ms to wait before the step, step(done)): one after another, never overlapping
        (900, at_once(cancel_one)), (1700, at_once(jobs_shot)), (1000, at_once(main_shot)), (800, at_once(dark_shot)),
        (800, at_once(xml_shot)), (1200, at_once(error_shot)),
        (1200, at_once(snapshots_shot)), (1200, backup_shot), (300, delete_shot), (300, migrate_shot),
        (300, newvm_shot), (300, at_once(details_shot)), (4600, at_once(edit_shot)),
        (2000, at_once(lambda: window().close())),
    ]

    def run(index: int) -> None:
        if index < len(steps):
            delay, step = steps[index]
            QTimer.singleShot(delay, lambda: step(lambda: run(index + 1)))

    def wait_ready() -> None:
        if not ready():
            QTimer.singleShot(50, wait_ready)
            return
        window().activateWindow()  # the user is watching: no "ended while you were away" notices
        start_jobs()
        run(0)

    QTimer.singleShot(100, wait_ready)


def main() -> int:
    xvfb, display = start_xvfb()
    try:
        tmp = Path(tempfile.mkdtemp(prefix="vmgui-shots-"))
        node = tmp / "lab-host.xml"
        node.write_text(LAB_HOST, encoding="utf-8")
        lab_uri = f"test://{node}"
        return run_app(display, tmp / "settings.ini", lambda: scenario(tmp, lab_uri), ["test:///default", lab_uri])
    finally:
        xvfb.terminate()
        xvfb.wait(10)


if __name__ == "__main__":
    sys.exit(main())
