"""The details pane with what the guest agent reports: ``python screenshots/guest_agent_shot.py`` writes
guest-agent.png.

Boots the Linux test guest (tests/linuxguest) with Debian's qemu-ga, a NIC with
an address and a mounted data disk on a private ``qemu:///embed`` host, runs the
real application under Xvfb (as make_screenshots.py does), selects the guest and
grabs the main window once the details pane shows the agent's answers. Needs
qemu-system-x86_64, qemu-img and the Xvfb packages make_screenshots.py names.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from display_shot import run_on_guest
from make_screenshots import HERE, ROOT

sys.path.insert(0, str(ROOT / "tests"))

import linuxguest

import drivers
from drivers.domxml import GUEST_AGENT_CHANNEL, Channel, CharDevice, Disk, DomainXML, Interface

NAME = "debian-agent"


def boot_guest(base: Path) -> str:
    """Define and start the guest on a private embedded host; its URI once its agent is connected."""
    guest = linuxguest.build()
    serial = base / "serial.log"
    data = base / "data.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(data), "64M"], check=True)
    uri = f"qemu:///embed?root={base / 'root'}"
    dom = DomainXML.new(NAME, 256 * 1024)
    dom.set_direct_boot(guest.kernel, guest.initrd, guest.cmdline("agent", extra="vmgui.fs=/dev/vda"))
    for device in (Disk("vda", source=str(data), format="qcow2"), Interface("user", model="virtio"),
                   CharDevice("serial", "file", path=str(serial), target_port=0), Channel(name=GUEST_AGENT_CHANNEL)):
        dom.add_device(device)
    conn = drivers.open(uri)
    running = conn.define_xml(dom.to_string())
    running.create()
    deadline = time.monotonic() + 120
    while not running.agent_connected():
        if time.monotonic() > deadline:
            raise SystemExit("the guest agent did not connect")
        time.sleep(0.2)
    conn.close()
    return uri


def scenario() -> None:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()

    def main_window():
        return next(w for w in app.topLevelWidgets() if w.objectName() == "mainWindow")

    def select() -> None:
        w = main_window()
        rows = [k for k in w.session.domains.visible_keys() if w.session.domains.name_of(k) == NAME]
        if not rows:
            QTimer.singleShot(100, select)
            return
        w.resize(1300, 740)
        w.resizeDocks([w.job_panel], [90], Qt.Orientation.Vertical)  # room for the details
        w.table.select_key(rows[0])
        w.refresh_selection_state()
        wait_for_report(time.monotonic() + 60)

    def wait_for_report(deadline: float) -> None:
        w = main_window()
        if "Host name" not in dict(w.details.guest.rows) and time.monotonic() < deadline:
            QTimer.singleShot(200, lambda: wait_for_report(deadline))
            return
        w.details.overview.ensureWidgetVisible(w.details.guest)
        QTimer.singleShot(500, shoot)

    def shoot() -> None:
        w = main_window()
        w.grab().save(str(HERE / "guest-agent.png"))
        print("wrote", HERE / "guest-agent.png", dict(w.details.guest.rows))
        for d in w.session.bridge.connection(w.session.uris()[0]).list_all_domains():
            if d.is_active():
                d.destroy()
        w.close()

    QTimer.singleShot(500, select)


def main() -> int:
    return run_on_guest("vmgui-agent-", boot_guest, lambda _uri: scenario())


if __name__ == "__main__":
    sys.exit(main())
