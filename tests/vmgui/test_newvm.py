"""The New VM wizard: plan rules and XML, inline validation, and the whole flow on the test driver."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QToolButton, QWizard

from drivers import DomainState, JobOperation, JobState
from drivers.domxml import DomainXML
from vmgui.models.newvm import (
    GIB, MIB, QCOW2_MAGIC, NewVMPlan, Source, Target, default_memory_mib, image_dir_for, parse_size,
)
from vmgui.views.dialogs.newvm import NewVMDialog


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """An ISO, a qcow2 and a raw disk to import, a kernel, an initrd and an image folder."""
    out = {"images": str(tmp_path / "images")}
    os.mkdir(out["images"])
    for name, data in (("iso", b"CD001"), ("qcow2", QCOW2_MAGIC + bytes(60)), ("raw", bytes(512)),
                       ("kernel", b"\x7fELF"), ("initrd", b"initrd")):
        path = tmp_path / name
        path.write_bytes(data)
        out[name] = str(path)
    return out


def plan_of(files: dict[str, str], **changes: object) -> NewVMPlan:
    target = Target("test:///x", files["images"])
    return NewVMPlan(target, name="vm1", iso=files["iso"], taken=frozenset({"web01"})).with_(**changes)


# -- the plan ---------------------------------------------------------------------------------------------
def test_a_plain_plan_has_sensible_defaults_and_no_problem(files):
    plan = plan_of(files)
    assert plan.problems() == []
    assert (plan.memory_mib, plan.vcpus, plan.disk_size, plan.disk_format, plan.start) == (2048, 2, 20 * GIB,
                                                                                           "qcow2", True)
    assert plan.disk_target() == os.path.join(files["images"], "vm1.qcow2")
    assert default_memory_mib(64 * 1024) == 2048 and default_memory_mib(2048) == 1024
    assert image_dir_for("/r") == "/r/images"


@pytest.mark.parametrize("changes, expected", [
    ({"name": ""}, "Invalid domain name"),
    ({"name": "bad/name"}, "Invalid domain name"),
    ({"name": "web01"}, "“web01” already exists on test:///x"),
    ({"iso": ""}, "Choose the ISO image."),
    ({"iso": "relative.iso"}, "must be an absolute path"),
    ({"iso": "/nonexistent/x.iso"}, "/nonexistent/x.iso does not exist"),
    ({"iso": "/"}, "is not a file"),
    ({"source": Source.IMPORT, "import_path": "/nonexistent/d.qcow2"}, "disk image to import /nonexistent/d"),
    ({"source": Source.KERNEL, "kernel": ""}, "Choose the kernel."),
    ({"source": Source.KERNEL, "kernel": "/bin/sh", "initrd": "/nonexistent/initrd"}, "initrd /nonexistent/initrd does not exist"),
    ({"memory_mib": 8}, "Memory must be 16 MiB"),
    ({"vcpus": 0}, "vCPUs must be 1 to 4096"),
    ({"disk_size": 0}, "disk size must be 1.0 MiB to 64.0 TiB"),
    ({"disk_format": "vmdk"}, "Unknown disk format “vmdk”"),
    ({"disk_path": "/nonexistent/dir/d.qcow2"}, "The folder /nonexistent/dir does not exist."),
    ({"disk_path": "d.qcow2"}, "must be an absolute path"),
    ({"target": Target("libvirt:x", "/tmp", can_create_disks=False)}, "libvirt:x cannot create disk images"),
])
def test_each_problem_is_reported(files, changes, expected):
    problems = plan_of(files, **changes).problems()
    assert len(problems) == 1 and expected in problems[0], problems


def test_an_existing_target_disk_is_a_problem(files):
    Path(files["images"], "vm1.qcow2").write_bytes(b"")
    assert plan_of(files).problems() == [f"{files['images']}/vm1.qcow2 already exists: choose another file name, "
                                         "or import it."]


def test_an_unreadable_iso_is_a_problem(files):
    os.chmod(files["iso"], 0)
    if os.access(files["iso"], os.R_OK):
        pytest.skip("running as root: every file is readable")
    assert "cannot be read" in plan_of(files, new_disk=False).problems()[0]


def test_disk_rules_apply_only_when_a_disk_is_created(files):
    no_disks = Target("libvirt:x", "/tmp", can_create_disks=False)
    assert plan_of(files, target=no_disks, new_disk=False).problems() == []
    assert plan_of(files, target=no_disks, source=Source.IMPORT, import_path=files["raw"], disk_size=0).problems() == []


def test_the_default_image_folder_may_be_missing_another_may_not(files):
    missing = os.path.join(files["images"], "not-yet")
    plan = plan_of(files, target=Target("test:///x", missing))
    assert plan.problems() == [] and plan.needs_image_dir()  # the flow creates it
    elsewhere = plan.with_(disk_path=os.path.join(files["images"], "other", "x.qcow2"))
    assert not elsewhere.needs_image_dir() and "does not exist" in elsewhere.problems()[0]


def test_sizes_are_read_in_binary_units_and_bare_numbers_are_gib():
    assert parse_size("20") == 20 * GIB and parse_size("64 MiB") == 64 * MIB and parse_size("64M") == 64 * MIB
    assert parse_size("1.5 GiB") == 1536 * MIB and parse_size("2T") == 2048 * GIB
    assert parse_size("100 KiB") == MIB  # rounded up to whole MiB (qemu-img needs 512-byte multiples)
    assert parse_size("") is None and parse_size("lots") is None and parse_size("-1 GiB") is None


def test_iso_xml_boots_the_cd_first_then_the_new_disk(files):
    dom = DomainXML.parse(plan_of(files, uuid="6695eb01-f6a4-8304-79aa-97f2502e193f").xml())
    assert dom.name == "vm1" and dom.uuid == "6695eb01-f6a4-8304-79aa-97f2502e193f"
    assert dom.memory_kib == 2048 * 1024 and dom.vcpus == 2 and dom.domain_type == "qemu"
    assert dom.boot_devices == ["cdrom", "hd"] and dom.kernel is None
    cd, disk = dom.disks()
    assert (cd.device, cd.source, cd.readonly, cd.bus) == ("cdrom", files["iso"], True, "sata")
    assert (disk.device, disk.source, disk.format, disk.target) == ("disk", plan_of(files).disk_target(), "qcow2",
                                                                    "vda")
    assert [(i.type, i.model) for i in dom.interfaces()] == [("user", "virtio")]
    assert [(c.kind, c.type) for c in dom.char_devices()] == [("serial", "pty"), ("console", "pty")]
    assert [g.type for g in dom.graphics()] == ["vnc"]


def test_an_iso_without_a_disk_and_no_screen_where_the_driver_has_none(files):
    target = Target("test:///x", files["images"], graphics=False)
    dom = DomainXML.parse(plan_of(files, new_disk=False, target=target).xml())
    assert [d.device for d in dom.disks()] == ["cdrom"] and dom.boot_devices == ["cdrom"]
    assert dom.graphics() == [] and dom.root.find("devices/video") is None


@pytest.mark.parametrize("kind, fmt", [("qcow2", "qcow2"), ("raw", "raw")])
def test_import_boots_the_disk_with_its_real_format(files, kind, fmt):
    plan = plan_of(files, source=Source.IMPORT, import_path=files[kind], disk_format="raw")
    assert plan.problems() == [] and not plan.creates_disk()
    dom = DomainXML.parse(plan.xml())
    assert [(d.source, d.format, d.device) for d in dom.disks()] == [(files[kind], fmt, "disk")]
    assert dom.boot_devices == ["hd"]


def test_direct_kernel_boot_with_initrd_cmdline_and_optional_disk(files):
    plan = plan_of(files, source=Source.KERNEL, kernel=files["kernel"], initrd=files["initrd"],
                   cmdline="console=ttyS0", disk_format="raw", disk_size=64 * MIB)
    dom = DomainXML.parse(plan.xml())
    assert (dom.kernel, dom.initrd, dom.cmdline) == (files["kernel"], files["initrd"], "console=ttyS0")
    assert dom.boot_devices == [] and [(d.source, d.format) for d in dom.disks()] == [(plan.disk_target(), "raw")]
    assert plan.disk_target().endswith("vm1.raw")
    assert DomainXML.parse(plan.with_(new_disk=False).xml()).disks() == []
    assert "New 64 MiB raw disk" in plan.summary()[-1]


# -- the dialog -------------------------------------------------------------------------------------------
def make_dialog(qtbot, files, taken=frozenset({"web01"}), **target) -> NewVMDialog:  # noqa: ANN001
    dialog = NewVMDialog([Target("test:///x", files["images"], **target)], lambda _uri: taken, None, 8192, 8)
    qtbot.addWidget(dialog)
    dialog.open()
    return dialog


def next_button(dialog: QWizard):  # noqa: ANN201
    return dialog.button(QWizard.WizardButton.NextButton)


def test_next_stays_disabled_with_the_reason_until_name_and_iso_are_right(qtbot, files):
    dialog = make_dialog(qtbot, files)
    error = dialog.source_page.findChild(QLabel, "dialogError")
    assert not next_button(dialog).isEnabled()
    assert "Invalid domain name" in error.text() and "Choose the ISO image." in error.text()
    dialog.name.setText("web01")
    assert not next_button(dialog).isEnabled() and "“web01” already exists" in error.text()
    dialog.name.setText("web02")
    dialog.iso.setText("/nonexistent.iso")
    assert not next_button(dialog).isEnabled() and error.text() == "The ISO image /nonexistent.iso does not exist."
    dialog.iso.setText(files["iso"])
    assert next_button(dialog).isEnabled() and error.text() == ""
    assert error.isVisible() or error.text() == ""


def test_resources_page_checks_size_and_target_then_finish_shows_the_xml(qtbot, files):
    dialog = make_dialog(qtbot, files)
    dialog.name.setText("vm1")
    dialog.source_buttons[Source.KERNEL].setChecked(True)
    assert "Choose the kernel." in dialog.source_page.error.text()
    dialog.kernel.setText(files["kernel"])
    dialog.next()
    assert dialog.currentPage() is dialog.resources_page
    assert (dialog.memory.value(), dialog.vcpus.value(), dialog.disk_size.text()) == (2048, 2, "20 GiB")
    assert dialog.disk_path.placeholderText() == os.path.join(files["images"], "vm1.qcow2")
    dialog.disk_size.setText("a lot")
    assert not next_button(dialog).isEnabled() and "disk size must be" in dialog.resources_page.error.text()
    dialog.disk_size.setText("64 MiB")
    Path(files["images"], "taken.qcow2").write_bytes(b"")
    dialog.disk_path.setText(os.path.join(files["images"], "taken.qcow2"))
    assert not next_button(dialog).isEnabled() and "already exists" in dialog.resources_page.error.text()
    dialog.disk_path.setText("")
    dialog.next()
    assert dialog.currentPage() is dialog.summary_page
    finish = dialog.button(QWizard.WizardButton.FinishButton)
    assert finish.isEnabled() and dialog.start.isChecked()
    dom = DomainXML.parse(dialog.xml.toPlainText())
    assert dom.kernel == files["kernel"] and dom.disks()[0].source == os.path.join(files["images"], "vm1.qcow2")
    assert dialog.xml.isReadOnly() and dialog.xml.objectName() == "newVmXml"
    assert dialog.plan().xml() == dialog.xml.toPlainText()  # exactly what gets defined (same uuid)


def test_a_connection_without_disk_creation_offers_import_and_diskless_boots(qtbot, files):
    dialog = make_dialog(qtbot, files, can_create_disks=False)
    note = dialog.findChild(QLabel, "newVmNoDiskCreate")
    assert not dialog.new_disk.isEnabled() and not dialog.new_disk.isChecked()
    assert "cannot create disk images" in note.text()
    dialog.name.setText("vm1")
    dialog.iso.setText(files["iso"])
    assert dialog.issues() == [] and not dialog.plan().creates_disk()
    dialog.source_buttons[Source.IMPORT].setChecked(True)
    dialog.import_path.setText(files["qcow2"])
    assert dialog.issues() == [] and dialog.plan().source is Source.IMPORT


# -- the flow through the window ----------------------------------------------------------------------------
@pytest.fixture
def images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """test:/// keeps new disks in the per-user data folder: a private one here."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "vmgui" / "images"


def open_wizard(window, qtbot) -> NewVMDialog:  # noqa: ANN001
    window.findChild(QAction, "actionNewVM").trigger()
    qtbot.waitUntil(lambda: isinstance(window.commands.last_dialog, NewVMDialog), timeout=5000)
    return window.commands.last_dialog


def fill(dialog: NewVMDialog, name: str, iso: str, size: str = "64 MiB", preallocate: bool = False,
         start: bool = True) -> None:
    dialog.name.setText(name)
    dialog.iso.setText(iso)
    dialog.next()
    dialog.disk_size.setText(size)
    dialog.preallocate.setChecked(preallocate)
    dialog.next()
    dialog.start.setChecked(start)
    assert dialog.issues() == [], dialog.issues()


def shown(window, uri: str, name: str) -> bool:  # noqa: ANN001
    """The domain table has a row for ``name`` on ``uri``."""
    model = window.session.domains
    return any(model.row_at(i).key[0] == uri and model.row_at(i).rec.name == name for i in range(model.rowCount()))


def disk_jobs(window, uri: str) -> list:  # noqa: ANN001
    return [r.info for r in window.session.jobs.rows()
            if r.key[0] == uri and r.info.operation is JobOperation.DISK_CREATE]


def test_finish_creates_the_disk_as_a_job_defines_and_starts(open_window, node_uri, files, images, qtbot):
    window = open_window(node_uri)
    dialog = open_wizard(window, qtbot)
    assert dialog.conn.currentText() == node_uri and dialog.target().image_dir == str(images)
    fill(dialog, "fresh", files["iso"], preallocate=True)
    dialog.accept()
    qtbot.waitUntil(lambda: shown(window, node_uri, "fresh"), timeout=10000)
    jobs = disk_jobs(window, node_uri)
    assert len(jobs) == 1 and jobs[0].state is JobState.COMPLETED and jobs[0].total == 64 * MIB
    assert (images / "fresh.qcow2").stat().st_size == 64 * MIB
    conn = window.session.bridge.connection(node_uri)
    qtbot.waitUntil(lambda: conn.lookup_by_name("fresh").state()[0] is DomainState.RUNNING, timeout=10000)
    dom = DomainXML.parse(conn.lookup_by_name("fresh").xml_desc())
    assert [d.source for d in dom.disks()] == [files["iso"], str(images / "fresh.qcow2")]
    key = window.table.selected_keys()
    assert key == [(node_uri, dom.uuid)]


def test_without_start_the_new_domain_stays_off(open_window, node_uri, files, images, qtbot):
    window = open_window(node_uri)
    dialog = open_wizard(window, qtbot)
    fill(dialog, "idle", files["iso"], start=False)
    dialog.accept()
    qtbot.waitUntil(lambda: (images / "idle.qcow2").exists(), timeout=10000)
    conn = window.session.bridge.connection(node_uri)
    qtbot.waitUntil(lambda: shown(window, node_uri, "idle"), timeout=10000)
    assert conn.lookup_by_name("idle").state()[0] is DomainState.SHUTOFF


def test_cancelling_the_preallocation_defines_nothing_and_leaves_no_file(open_window, make_node, files, images,
                                                                         qtbot):
    uri = make_node(1, rate=16)  # 16 MiB/s: a 4 GiB preallocation takes minutes
    window = open_window(uri)
    dialog = open_wizard(window, qtbot)
    fill(dialog, "never", files["iso"], size="4 GiB", preallocate=True)
    dialog.accept()
    qtbot.waitUntil(lambda: any(not j.finished for j in disk_jobs(window, uri)), timeout=10000)
    job = disk_jobs(window, uri)[0]
    # the job panel's Cancel (a disk job belongs to no domain: the connection aborts it by id)
    qtbot.waitUntil(lambda: window.findChild(QToolButton, f"cancelJob_{job.id}") is not None, timeout=5000)
    cancel = window.findChild(QToolButton, f"cancelJob_{job.id}")
    assert cancel.isEnabled()
    cancel.click()
    qtbot.waitUntil(lambda: disk_jobs(window, uri)[0].state is JobState.CANCELLED, timeout=10000)
    qtbot.waitUntil(lambda: any("never was not created" in m.title for m in window.session.messages.messages()),
                    timeout=10000)
    assert not (images / "never.qcow2").exists()
    conn = window.session.bridge.connection(uri)
    assert "never" not in [d.name for d in conn.list_all_domains()]


def test_a_failed_define_removes_the_new_disk(open_window, make_node, files, images, qtbot):
    uri = make_node(1, rate=32)  # 2 s to allocate 64 MiB: time for another client to take the name
    window = open_window(uri)
    dialog = open_wizard(window, qtbot)
    fill(dialog, "racer", files["iso"], size="64 MiB", preallocate=True)
    dialog.accept()
    qtbot.waitUntil(lambda: any(not j.finished for j in disk_jobs(window, uri)), timeout=10000)
    conn = window.session.bridge.connection(uri)
    conn.define_xml(DomainXML.new("racer", 65536).to_string())  # someone takes the name meanwhile
    qtbot.waitUntil(lambda: any("racer" in m.title or "racer" in m.text for m in window.session.messages.messages()
                                if m.level == "error"), timeout=15000)
    assert disk_jobs(window, uri)[0].state is JobState.COMPLETED
    qtbot.waitUntil(lambda: not (images / "racer.qcow2").exists(), timeout=5000)


def test_a_remote_hosts_files_are_checked_by_that_host(qtbot, files):
    remote = Target("libvirt:qemu+ssh://admin@far/system", "/var/lib/images", can_create_disks=False, remote=True)
    plan = plan_of(files, target=remote, source=Source.IMPORT, import_path="/srv/vm/disk.qcow2")
    assert plan.problems() == []
    assert [d.format for d in DomainXML.parse(plan.xml()).disks()] == ["qcow2"]  # by its name: unreadable here
    assert "must be an absolute path" in plan.with_(import_path="disk.qcow2").problems()[0]
    dialog = NewVMDialog([remote], lambda _uri: frozenset(), None)
    qtbot.addWidget(dialog)
    assert "Paths are on that host" in dialog.findChild(QLabel, "newVmRemoteNote").text()


def test_browse_opens_a_chooser_without_blocking_and_fills_the_path(qtbot, files):
    from PySide6.QtWidgets import QFileDialog, QPushButton
    dialog = make_dialog(qtbot, files)
    dialog.findChild(QPushButton, "newVmIsoBrowse").click()  # returns at once: open(), not exec()
    chooser = dialog.findChild(QFileDialog, "newVmFileChooser")
    assert chooser is not None and chooser.isVisible() and chooser.fileMode() is QFileDialog.FileMode.ExistingFile
    chooser.fileSelected.emit(files["iso"])
    chooser.reject()
    assert dialog.iso.text() == files["iso"]


def test_switching_connections_follows_each_hosts_folder_and_disk_support(qtbot, files):
    targets = [Target("qemu:///embed", "/q/images"), Target("libvirt:qemu:///system", "/l", can_create_disks=False)]
    taken = {"qemu:///embed": frozenset({"a"}), "libvirt:qemu:///system": frozenset({"b"})}
    dialog = NewVMDialog(targets, taken.__getitem__, None)
    qtbot.addWidget(dialog)
    dialog.name.setText("b")
    assert dialog.new_disk.isChecked() and dialog.disk_path.placeholderText() == "/q/images/b.qcow2"
    assert "already exists" not in dialog.source_page.error.text()
    dialog.conn.setCurrentIndex(1)
    assert not dialog.new_disk.isEnabled() and not dialog.new_disk.isChecked()
    assert "“b” already exists on libvirt:qemu:///system" in dialog.source_page.error.text()
    dialog.conn.setCurrentIndex(0)
    assert dialog.new_disk.isEnabled() and dialog.new_disk.isChecked()  # unticked by the host, not the user
