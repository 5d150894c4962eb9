"""The backup dialog: disks and defaults, inline folder checks, a real job and its report."""
from __future__ import annotations

from pathlib import Path

from drivers import JobOperation, JobState
from drivers.domxml import Disk
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel

from vmgui.models.backup import BackupPlan
from vmgui.models.hosts import remote_host
from vmgui.views.dialogs.backup import BackupDialog


def key_of(window, uri: str, name: str):  # noqa: ANN001, ANN201
    return uri, window.session.bridge.connection(uri).lookup_by_name(name).uuid


def open_backup(window, uri: str, name: str, qtbot) -> BackupDialog:  # noqa: ANN001
    window.table.clearSelection()
    assert window.table.select_key(key_of(window, uri, name))
    window.refresh_selection_state()
    window.findChild(QAction, "actionBackup").trigger()
    qtbot.waitUntil(lambda: isinstance(window.commands.last_dialog, BackupDialog))
    return window.commands.last_dialog


def test_disks_listed_with_cdroms_and_readonly_unticked(qtbot, tmp_path: Path):
    disks = [Disk("vda", source="/i/a.qcow2"), Disk("sda", device="cdrom", source="/i/x.iso"),
             Disk("vdb", source="/i/b.qcow2", readonly=True)]
    dialog = BackupDialog([("web01", disks)], str(tmp_path))
    qtbot.addWidget(dialog)
    assert [b.isChecked() for b in dialog.checks.values()] == [True, False, False]
    assert dialog.ok.isEnabled()
    plan = dialog.plans()[0]
    assert plan.targets == ("vda",)
    xml = plan.xml()
    assert xml.startswith("<domainbackup mode='push'><disks><disk name=\"vda\" type='file'><target file=")
    assert f"{tmp_path}/web01-vda-{dialog.stamp}.qcow2" in xml and "<driver type='qcow2'/>" in xml


def test_invalid_folder_keeps_ok_disabled_with_a_reason(qtbot, tmp_path: Path):
    dialog = BackupDialog([("web01", [Disk("vda")])], "relative/dir")
    qtbot.addWidget(dialog)
    assert not dialog.ok.isEnabled() and "absolute" in dialog.error.text()
    dialog.folder.setText(str(tmp_path / "missing"))
    assert not dialog.ok.isEnabled() and "No such folder" in dialog.error.text()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    dialog.folder.setText(str(a_file))
    assert not dialog.ok.isEnabled()
    dialog.folder.setText(str(tmp_path))
    Path(BackupPlan("web01", str(tmp_path), dialog.stamp, ("vda",)).paths()[0]).write_text("old")
    dialog.validate()
    assert not dialog.ok.isEnabled() and "already exists" in dialog.error.text()
    dialog.checks[("web01", "vda")].setChecked(False)
    assert not dialog.ok.isEnabled() and "Tick at least one disk" in dialog.error.text()


def test_a_remote_hosts_folder_is_not_checked_on_this_machine(qtbot):
    dialog = BackupDialog([("db01", [Disk("vda")])], "/srv/backups/not-here", remote={"db01": "db-host.example"})
    qtbot.addWidget(dialog)
    assert dialog.ok.isEnabled()  # /srv/backups/not-here lives on db-host, not here
    assert "db01 on db-host.example" in dialog.findChild(QLabel, "backupRemoteNote").text()
    dialog.folder.setText("relative")
    assert not dialog.ok.isEnabled() and "absolute" in dialog.error.text()


def test_remote_host_names_only_other_machines():
    assert remote_host("qemu+ssh://admin@db-host.example/system") == "db-host.example"
    assert remote_host("libvirt:qemu+tcp://10.0.0.7/system") == "10.0.0.7"
    for local in ("test:///default", "qemu:///embed?root=/x", "qemu:///system", "qemu+ssh://localhost/system",
                  "libvirt:test:///default"):
        assert remote_host(local) is None, local


def test_backup_job_writes_the_file_and_reports_it(open_window, tmp_path: Path, qtbot):
    from drivers.test import DEFAULT_NODE_XML
    node = tmp_path / "node.xml"
    node.write_text(DEFAULT_NODE_XML, encoding="utf-8")
    uri = f"test://{node}?rate=4096"
    window = open_window(uri)
    dialog = open_backup(window, uri, "db01", qtbot)
    assert [t for (_n, t) in dialog.checks] == ["vda", "vdb"]
    out = tmp_path / "out"
    out.mkdir()
    dialog.folder.setText(str(out))
    assert dialog.ok.isEnabled(), dialog.error.text()
    paths = dialog.plans()[0].paths()
    dialog.ok.click()
    qtbot.waitUntil(lambda: any(r.info.operation is JobOperation.BACKUP and r.info.state is JobState.COMPLETED
                                for r in window.session.jobs.rows()), timeout=10000)
    assert all(Path(p).is_file() for p in paths)
    qtbot.waitUntil(lambda: any(m.title == "Backup of db01 finished" for m in window.session.messages.messages()))
    msg = next(m for m in window.session.messages.messages() if m.title == "Backup of db01 finished")
    assert all(p in msg.text for p in paths) and "B)" in msg.text
    assert not any(m.level == "error" for m in window.session.messages.messages())
