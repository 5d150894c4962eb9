"""The backup dialog: disks and defaults, inline folder checks, a real job and its report.

The plan's rules are checked with hand-made file facts (no file system); the
dialog gets real facts of temporary folders, looked at as the flow would.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel
from test_hung import StallMeter
from test_newvm import DIR, FILE, answer_at_once, settle

from drivers import JobOperation, JobState
from drivers.domxml import Disk
from vmgui.models.backup import BackupPlan
from vmgui.models.hosts import remote_host
from vmgui.models.pathprobe import UNANSWERED, PathFacts
from vmgui.views.dialogs.backup import BackupDialog
from vmgui.views.theme import error_style


def key_of(window, uri: str, name: str):
    return uri, window.session.bridge.connection(uri).lookup_by_name(name).uuid


def open_backup(window, uri: str, name: str, qtbot) -> BackupDialog:
    window.table.clearSelection()
    assert window.table.select_key(key_of(window, uri, name))
    window.refresh_selection_state()
    window.findChild(QAction, "actionBackup").trigger()
    qtbot.waitUntil(lambda: isinstance(window.commands.last_dialog, BackupDialog))
    return window.commands.last_dialog


def make_dialog(qtbot, domains, folder: str, **kwargs) -> BackupDialog:
    dialog = BackupDialog(domains, folder, **kwargs)
    answer_at_once(dialog)
    qtbot.addWidget(dialog)
    return dialog


# -- the plan ---------------------------------------------------------------------------------------------
BACKUP_DIR = "/b/web01-20260101-000000"  # a backup on this machine gets a folder of its own
TARGET = f"{BACKUP_DIR}/vda.qcow2"


@pytest.mark.parametrize("folder, facts, expected", [
    ("", {}, "Choose a target folder."),
    ("rel/dir", {}, "The folder must be an absolute path: rel/dir"),
    ("/b", {}, "Checking /b…"),
    ("/b", {"/b": UNANSWERED}, "The folder /b does not answer (a hung network mount?)"),
    ("/b", {"/b": PathFacts()}, "No such folder: /b"),
    ("/b", {"/b": FILE}, "No such folder: /b"),
    ("/b", {"/b": replace(DIR, writable=False)}, "The folder is not writable: /b"),
    ("/b", {"/b": DIR}, f"Checking {BACKUP_DIR}…"),
    ("/b", {"/b": DIR, BACKUP_DIR: UNANSWERED},
     f"The backup's folder {BACKUP_DIR} does not answer (a hung network mount?)"),
    ("/b", {"/b": DIR, BACKUP_DIR: DIR},
     f"A backup of web01 taken at this second is already there: {BACKUP_DIR}"),
    ("/b", {"/b": DIR, BACKUP_DIR: PathFacts()}, f"Checking {TARGET}…"),
    ("/b", {"/b": DIR, BACKUP_DIR: PathFacts(), TARGET: UNANSWERED},
     f"The target file {TARGET} does not answer (a hung network mount?)"),
    ("/b", {"/b": DIR, BACKUP_DIR: PathFacts(), TARGET: PathFacts(lexists=True)},
     f"The target file already exists: {TARGET}"),
    ("/b", {"/b": DIR, BACKUP_DIR: PathFacts(), TARGET: PathFacts()}, None),
])
def test_each_folder_problem_from_the_facts(folder, facts, expected):
    plan = BackupPlan("web01", folder, "20260101-000000", ("vda",))
    assert plan.problem(facts) == expected
    assert plan.local_paths() == ([] if folder != "/b" else ["/b", BACKUP_DIR, TARGET])


def test_a_remote_folder_and_no_disk_need_no_facts():
    assert BackupPlan("db01", "/srv/b", "s", ("vda",), local=False).problem({}) is None
    assert BackupPlan("db01", "/srv/b", "s", ("vda",), local=False).local_paths() == []
    assert BackupPlan("db01", "/b", "s", ()).problem({}) == "Tick at least one disk of db01."


# -- the dialog -------------------------------------------------------------------------------------------
def test_disks_listed_with_cdroms_and_readonly_unticked(qtbot, tmp_path: Path):
    disks = [Disk("vda", source="/i/a.qcow2"), Disk("sda", device="cdrom", source="/i/x.iso"),
             Disk("vdb", source="/i/b.qcow2", readonly=True)]
    dialog = make_dialog(qtbot, [("web01", disks)], str(tmp_path))
    assert [b.isChecked() for b in dialog.checks.values()] == [True, False, False]
    assert not dialog.ok.isEnabled() and dialog.error.text() == f"Checking {tmp_path}…"
    settle(qtbot, dialog)
    assert dialog.ok.isEnabled()
    plan = dialog.plans()[0]
    assert plan.targets == ("vda",)
    xml = plan.xml()
    assert xml.startswith("<domainbackup mode='push'><disks><disk name=\"vda\" type='file'><target file=")
    assert f"{tmp_path}/web01-{dialog.stamp}/vda.qcow2" in xml and "<driver type='qcow2'/>" in xml


def test_invalid_folder_keeps_ok_disabled_with_a_reason(qtbot, tmp_path: Path):
    dialog = make_dialog(qtbot, [("web01", [Disk("vda")])], "relative/dir")
    assert not dialog.ok.isEnabled() and "absolute" in dialog.error.text()
    dialog.folder.setText(str(tmp_path / "missing"))
    assert dialog.error.text() == f"Checking {tmp_path / 'missing'}…" and dialog.error.styleSheet() != error_style()
    settle(qtbot, dialog)
    assert not dialog.ok.isEnabled() and "No such folder" in dialog.error.text()
    assert dialog.error.styleSheet() == error_style()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    dialog.folder.setText(str(a_file))
    settle(qtbot, dialog)
    assert not dialog.ok.isEnabled() and dialog.error.text() == f"No such folder: {a_file}"
    dialog.folder.setText(str(tmp_path))
    settle(qtbot, dialog)
    assert dialog.ok.isEnabled()
    Path(BackupPlan("web01", str(tmp_path), dialog.stamp, ("vda",)).directory).mkdir()
    dialog.validate()  # looks again
    settle(qtbot, dialog)
    assert not dialog.ok.isEnabled() and "already there" in dialog.error.text()
    dialog.checks[("web01", "vda")].setChecked(False)
    assert not dialog.ok.isEnabled() and "Tick at least one disk" in dialog.error.text()


def test_a_remote_hosts_folder_is_not_checked_on_this_machine(qtbot):
    dialog = make_dialog(qtbot, [("db01", [Disk("vda")])], "/srv/backups/not-here", remote={"db01": "db-host.example"})
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
    qtbot.waitUntil(dialog.ok.isEnabled)  # once a worker has looked at the folder and the target files
    paths = dialog.plans()[0].paths()
    dialog.ok.click()
    qtbot.waitUntil(lambda: any(r.info.operation is JobOperation.BACKUP and r.info.state is JobState.COMPLETED
                                for r in window.session.jobs.rows()), timeout=10000)
    assert all(Path(p).is_file() for p in paths)
    qtbot.waitUntil(lambda: any(m.title == "Backup of db01 finished" for m in window.session.messages.messages()))
    msg = next(m for m in window.session.messages.messages() if m.title == "Backup of db01 finished")
    assert all(p in msg.text for p in paths) and "B)" in msg.text
    assert not any(m.level == "error" for m in window.session.messages.messages())


def test_a_folder_on_a_hung_mount_does_not_answer_and_the_dialog_keeps_working(open_window, node_uri, dead_mount,
                                                                               tmp_path: Path, qtbot):
    window = open_window(node_uri)
    dialog = open_backup(window, node_uri, "web01", qtbot)
    meter = StallMeter()
    try:
        dialog.folder.setText(f"{dead_mount}/backups")
        assert dialog.error.text() == f"Checking {dead_mount}/backups…" and not dialog.ok.isEnabled()
        qtbot.waitUntil(lambda: dialog.error.text() == f"The folder {dead_mount}/backups does not answer "
                                                       "(a hung network mount?)", timeout=5000)
        assert not dialog.ok.isEnabled() and meter.worst < 1.0, f"the event loop stalled {meter.worst:.3f} s"
        dialog.folder.setText(str(tmp_path))  # a healthy folder answers while the dead one holds its worker
        qtbot.waitUntil(dialog.ok.isEnabled)
    finally:
        meter.timer.stop()
        meter.timer.deleteLater()
