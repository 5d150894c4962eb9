"""The New VM wizard: plan rules and XML, inline validation, and the whole flow on the test driver.

The plan's rules are checked with hand-made file facts (no file system); the
dialog gets real facts of temporary files, looked at as the flow would.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from isoimages import DEBIAN_11, make_iso
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QToolButton, QWizard
from test_hung import StallMeter, run

from drivers import DomainState, JobOperation, JobState
from drivers.domxml import GUEST_AGENT_CHANNEL, Channel, DomainXML, Input, Tpm
from drivers.hostfacts import Firmware, FirmwareInterface, HostFacts
from drivers.isoinfo import IsoInfo
from vmgui.models import pathprobe
from vmgui.models.newvm import (
    GIB,
    MIB,
    PAGE_FIELDS,
    QCOW2_MAGIC,
    Boot,
    NewVMPlan,
    Source,
    Target,
    boots_of,
    default_memory_mib,
    image_dir_for,
    parse_size,
)
from vmgui.models.pathprobe import UNANSWERED, PathFacts, probe
from vmgui.views.dialogs.newvm import NewVMDialog
from vmgui.views.theme import error_style

FILE = PathFacts(lexists=True, exists=True, is_file=True, readable=True, writable=True)
DIR = PathFacts(lexists=True, exists=True, is_dir=True, readable=True, writable=True)
#: hand-made facts of the machine the plan tests pretend to run on; any other path is missing
WORLD = {"/isos/d.iso": replace(FILE, medium=IsoInfo(DEBIAN_11)), "/img": DIR, "/": DIR, "/boot/vmlinuz": FILE,
         "/boot/initrd": FILE,
         "/disks/q.qcow2": replace(FILE, magic=QCOW2_MAGIC), "/disks/r.raw": replace(FILE, magic=bytes(4)),
         "/isos/secret.iso": replace(FILE, readable=False), "/img/taken.qcow2": FILE,
         "/img/dangling.qcow2": PathFacts(lexists=True), "/mnt/nfs/d.iso": UNANSWERED}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """An ISO (made by xorriso), a qcow2 and a raw disk to import, a kernel, an initrd and an image folder."""
    out = {"images": str(tmp_path / "images"), "iso": str(make_iso(tmp_path / "iso", DEBIAN_11))}
    os.mkdir(out["images"])
    for name, data in (("qcow2", QCOW2_MAGIC + bytes(60)), ("raw", bytes(512)),
                       ("kernel", b"\x7fELF"), ("initrd", b"initrd")):
        path = tmp_path / name
        path.write_bytes(data)
        out[name] = str(path)
    return out


def seen(plan: NewVMPlan, world: dict[str, PathFacts] = WORLD) -> NewVMPlan:
    """``plan`` with the facts a worker would bring back for its local paths from ``world``."""
    return plan.with_(facts={p: world.get(p, PathFacts()) for p in plan.local_paths()})


def plan_of(**changes: object) -> NewVMPlan:
    plan = NewVMPlan(Target("test:///x", "/img"), name="vm1", iso="/isos/d.iso", taken=frozenset({"web01"}))
    return seen(plan.with_(**changes))


# -- the plan ---------------------------------------------------------------------------------------------
def test_a_plain_plan_has_sensible_defaults_and_no_problem():
    plan = plan_of()
    assert plan.problems() == [] and plan.local_paths() == ["/isos/d.iso", "/img/vm1.qcow2"]
    assert (plan.memory_mib, plan.vcpus, plan.disk_size, plan.disk_format, plan.start) == (2048, 2, 20 * GIB,
                                                                                           "qcow2", True)
    assert plan.disk_target() == "/img/vm1.qcow2"
    assert default_memory_mib(64 * 1024) == 2048 and default_memory_mib(2048) == 1024
    assert image_dir_for("/r") == "/r/images"


@pytest.mark.parametrize("changes, expected", [
    ({"name": ""}, "Type a name for the domain."),
    ({"name": "   "}, "Type a name for the domain."),
    ({"name": "bad/name"}, "Invalid domain name"),
    ({"name": "web01"}, "“web01” already exists on test:///x"),
    ({"iso": ""}, "Choose the ISO image."),
    ({"iso": "relative.iso"}, "must be an absolute path"),
    ({"iso": "/nonexistent/x.iso"}, "The ISO image /nonexistent/x.iso does not exist."),
    ({"iso": "/"}, "The ISO image / is not a file."),
    ({"iso": "/isos/secret.iso"}, "The ISO image /isos/secret.iso cannot be read (permissions)."),
    ({"iso": "/mnt/nfs/d.iso"}, "The ISO image /mnt/nfs/d.iso does not answer (a hung network mount?)"),
    ({"source": Source.IMPORT, "import_path": "/nonexistent/d.qcow2"}, "disk image to import /nonexistent/d"),
    ({"source": Source.KERNEL, "kernel": ""}, "Choose the kernel."),
    ({"source": Source.KERNEL, "kernel": "/boot/vmlinuz", "initrd": "/nonexistent/initrd"},
     "The initrd /nonexistent/initrd does not exist."),
    ({"memory_mib": 8}, "Memory must be 16 MiB"),
    ({"vcpus": 0}, "vCPUs must be 1 to 4096"),
    ({"disk_size": 0}, "disk size must be 1.0 MiB to 64.0 TiB"),
    ({"disk_format": "vmdk"}, "Unknown disk format “vmdk”"),
    ({"disk_path": "/nonexistent/dir/d.qcow2"}, "The folder /nonexistent/dir does not exist."),
    ({"disk_path": "d.qcow2"}, "must be an absolute path"),
    ({"disk_path": "/img/taken.qcow2"}, "/img/taken.qcow2 already exists: choose another file name, or import it."),
    ({"disk_path": "/img/dangling.qcow2"}, "/img/dangling.qcow2 already exists"),
    ({"target": Target("libvirt:x", "/tmp", can_create_disks=False)}, "libvirt:x cannot create disk images"),
])
def test_each_problem_is_reported(changes, expected):
    problems = plan_of(**changes).problems()
    assert len(problems) == 1 and expected in problems[0], problems


def test_paths_without_facts_yet_are_a_wait_not_a_mistake():
    plan = plan_of().with_(facts={})
    assert [(i.field, i.text, pathprobe.is_checking(i.text)) for i in plan.issues()] == [
        ("source", "Checking /isos/d.iso…", True), ("disk", "Checking /img/vm1.qcow2…", True)]
    plan = plan_of(iso="", disk_path="/elsewhere/d.qcow2").with_(facts={"/elsewhere/d.qcow2": PathFacts()})
    assert [(i.text, pathprobe.is_checking(i.text)) for i in plan.issues()] == [
        ("Choose the ISO image.", False), ("Checking /elsewhere…", True)]


def test_a_hung_disk_folder_does_not_answer():
    world = {**WORLD, "/mnt/nfs/vm/d.qcow2": UNANSWERED, "/mnt/nfs/vm": UNANSWERED}
    plan = seen(plan_of(disk_path="/mnt/nfs/vm/d.qcow2"), world)
    assert plan.problems() == ["The new disk file /mnt/nfs/vm/d.qcow2 does not answer (a hung network mount?)"]
    plan = seen(plan, {**world, "/mnt/nfs/vm/d.qcow2": PathFacts()})
    assert plan.problems() == ["The folder /mnt/nfs/vm does not answer (a hung network mount?)"]


def test_disk_rules_apply_only_when_a_disk_is_created():
    no_disks = Target("libvirt:x", "/tmp", can_create_disks=False)
    assert plan_of(target=no_disks, new_disk=False).problems() == []
    plan = plan_of(target=no_disks, source=Source.IMPORT, import_path="/disks/r.raw", disk_size=0)
    assert plan.problems() == [] and plan.local_paths() == ["/disks/r.raw"]


def test_the_default_image_folder_may_be_missing_another_may_not():
    plan = plan_of(target=Target("test:///x", "/img/not-yet"))
    assert plan.problems() == [] and plan.needs_image_dir()  # the flow creates it
    assert plan.local_paths() == ["/isos/d.iso", "/img/not-yet/vm1.qcow2"]  # the folder itself is not looked at
    elsewhere = plan.with_(disk_path="/img/other/x.qcow2")
    assert not elsewhere.needs_image_dir() and seen(elsewhere).problems() == ["The folder /img/other does not exist."]


def test_sizes_are_read_in_binary_units_and_bare_numbers_are_gib():
    assert parse_size("20") == 20 * GIB and parse_size("64 MiB") == 64 * MIB and parse_size("64M") == 64 * MIB
    assert parse_size("1.5 GiB") == 1536 * MIB and parse_size("2T") == 2048 * GIB
    assert parse_size("100 KiB") == MIB  # rounded up to whole MiB (qemu-img needs 512-byte multiples)
    assert parse_size("") is None and parse_size("lots") is None and parse_size("-1 GiB") is None


def test_iso_xml_boots_the_cd_first_then_the_new_disk():
    dom = DomainXML.parse(plan_of(uuid="6695eb01-f6a4-8304-79aa-97f2502e193f").xml())
    assert dom.name == "vm1" and dom.uuid == "6695eb01-f6a4-8304-79aa-97f2502e193f"
    assert dom.memory_kib == 2048 * 1024 and dom.vcpus == 2 and dom.domain_type == "qemu"
    assert dom.boot_devices == ["cdrom", "hd"] and dom.kernel is None
    cd, disk = dom.disks()
    assert (cd.device, cd.source, cd.readonly, cd.bus) == ("cdrom", "/isos/d.iso", True, "sata")
    assert (disk.device, disk.source, disk.format, disk.target) == ("disk", "/img/vm1.qcow2", "qcow2", "vda")
    assert [(i.type, i.model) for i in dom.interfaces()] == [("user", "virtio")]
    assert [(c.kind, c.type) for c in dom.char_devices()] == [("serial", "pty"), ("console", "pty")]
    assert [g.type for g in dom.graphics()] == ["vnc"]
    assert dom.inputs() == [Input("tablet", "usb")], "an absolute pointer: the display never grabs the mouse"
    assert dom.guest_agent_channel() == Channel("unix", "virtio", GUEST_AGENT_CHANNEL), "the guest agent's port"


def test_an_iso_without_a_disk_and_no_screen_where_the_driver_has_none():
    dom = DomainXML.parse(plan_of(new_disk=False, target=Target("test:///x", "/img", graphics=False)).xml())
    assert [d.device for d in dom.disks()] == ["cdrom"] and dom.boot_devices == ["cdrom"]
    assert dom.graphics() == [] and dom.root.find("devices/video") is None and dom.inputs() == []


@pytest.mark.parametrize("path, fmt", [("/disks/q.qcow2", "qcow2"), ("/disks/r.raw", "raw")])
def test_import_boots_the_disk_with_its_real_format(path, fmt):
    plan = plan_of(source=Source.IMPORT, import_path=path, disk_format="raw")
    assert plan.problems() == [] and not plan.creates_disk()
    dom = DomainXML.parse(plan.xml())
    assert [(d.source, d.format, d.device) for d in dom.disks()] == [(path, fmt, "disk")]
    assert dom.boot_devices == ["hd"]


def test_the_worker_reads_the_real_format_of_a_file(files):
    plan = NewVMPlan(Target("test:///x", files["images"]), name="vm1", source=Source.IMPORT)
    for kind in ("qcow2", "raw"):
        real = plan.with_(import_path=files[kind])
        real = real.with_(facts=probe(real.local_paths()))
        assert real.problems() == [] and DomainXML.parse(real.xml()).disks()[0].format == kind


def test_direct_kernel_boot_with_initrd_cmdline_and_optional_disk():
    plan = plan_of(source=Source.KERNEL, kernel="/boot/vmlinuz", initrd="/boot/initrd", cmdline="console=ttyS0",
                   disk_format="raw", disk_size=64 * MIB)
    assert plan.problems() == []
    dom = DomainXML.parse(plan.xml())
    assert (dom.kernel, dom.initrd, dom.cmdline) == ("/boot/vmlinuz", "/boot/initrd", "console=ttyS0")
    assert dom.boot_devices == [] and [(d.source, d.format) for d in dom.disks()] == [("/img/vm1.raw", "raw")]
    assert DomainXML.parse(plan.with_(new_disk=False).xml()).disks() == []
    assert "New 64 MiB raw disk" in plan.summary()[-1]


# -- the dialog -------------------------------------------------------------------------------------------
def answer_at_once(dialog: NewVMDialog) -> None:
    """Answer the dialog's questions about files with their real facts, as the flow's worker would."""
    dialog.checker.wanted.connect(lambda round_, paths: dialog.checker.take(round_, probe(paths)))


def make_dialog(qtbot, files, taken=frozenset({"web01"}), **target) -> NewVMDialog:
    dialog = NewVMDialog([Target("test:///x", files["images"], **target)], lambda _uri: taken, None, 8192, 8)
    answer_at_once(dialog)
    qtbot.addWidget(dialog)
    dialog.open()
    return dialog


def settle(qtbot, dialog: NewVMDialog) -> None:
    """Wait until the files the dialog shows have been looked at."""
    qtbot.waitUntil(lambda: not dialog.checker.busy())


def next_button(dialog: QWizard):
    return dialog.button(QWizard.WizardButton.NextButton)


def test_next_stays_disabled_with_the_reason_until_name_and_iso_are_right(qtbot, files):
    dialog = make_dialog(qtbot, files)
    error = dialog.source_page.findChild(QLabel, "dialogError")
    settle(qtbot, dialog)
    assert not next_button(dialog).isEnabled()
    assert error.text() == "Type a name for the domain.\nChoose the ISO image."  # what to do, not "invalid ''"
    dialog.name.setText("web01")
    assert not next_button(dialog).isEnabled() and "“web01” already exists" in error.text()
    dialog.name.setText("web02")
    dialog.iso.setText("/nonexistent.iso")
    assert error.text() == "Checking /nonexistent.iso…"  # at once: nothing is looked at on the UI thread
    settle(qtbot, dialog)
    assert not next_button(dialog).isEnabled() and error.text() == "The ISO image /nonexistent.iso does not exist."
    assert error.isVisible()  # under the form, where the user looks
    dialog.iso.setText(files["iso"])
    settle(qtbot, dialog)
    assert next_button(dialog).isEnabled() and error.text() == ""


def test_the_domain_names_are_read_once_per_edit_not_again_for_each_answer(qtbot, files):
    """With 10,000 domains a read of a connection's names takes milliseconds on the UI thread."""
    reads: list[str] = []

    def taken(uri: str) -> frozenset[str]:
        reads.append(uri)
        return frozenset({"web01"})
    dialog = NewVMDialog([Target("test:///x", files["images"])], taken, None)
    answer_at_once(dialog)
    qtbot.addWidget(dialog)
    dialog.open()
    settle(qtbot, dialog)
    reads.clear()
    dialog.name.setText("web01")
    dialog.iso.setText(files["iso"])
    settle(qtbot, dialog)  # the ISO and the disk file were looked at and the answer shown
    assert reads == ["test:///x", "test:///x"]
    assert dialog.source_page.error.text() == "A domain named “web01” already exists on test:///x."


def test_a_path_reads_checking_until_its_facts_arrive_and_late_answers_are_dropped(qtbot, files):
    dialog = NewVMDialog([Target("test:///x", files["images"])], lambda _uri: frozenset(), None)
    qtbot.addWidget(dialog)
    dialog.open()
    questions: list[tuple[int, list[str]]] = []
    dialog.checker.wanted.connect(lambda round_, paths: questions.append((round_, paths)))
    dialog.name.setText("vm1")
    dialog.iso.setText("/nonexistent.iso")
    error = dialog.source_page.error
    assert error.text() == "Checking /nonexistent.iso…" and not next_button(dialog).isEnabled()
    assert error.styleSheet() != error_style()  # a wait, not the user's mistake: not in red
    qtbot.waitUntil(lambda: len(questions) == 1)
    first, paths = questions[0]
    assert paths == sorted(["/nonexistent.iso", os.path.join(files["images"], "vm1.qcow2")])
    dialog.iso.setText(files["iso"])  # typed over before the answer came
    qtbot.waitUntil(lambda: len(questions) == 2)
    second, paths = questions[1]
    assert paths == [files["iso"]]  # the disk file is still being looked at: not asked twice
    dialog.checker.take(first, probe(["/nonexistent.iso"]))  # late, for a path no longer shown: dropped
    assert error.text() == f"Checking {files['iso']}…"
    dialog.checker.take(second, probe(paths))
    assert error.text() == "" and next_button(dialog).isEnabled()
    assert dialog.resources_page.error.text() == f"Checking {os.path.join(files['images'], 'vm1.qcow2')}…"
    dialog.checker.take(first, probe([os.path.join(files["images"], "vm1.qcow2")]))
    assert dialog.issues() == [] and dialog.resources_page.error.text() == ""
    dialog.iso.setText("/nonexistent.iso")
    qtbot.waitUntil(lambda: len(questions) == 3)
    dialog.checker.take(questions[2][0], probe(questions[2][1]))
    assert error.text() == "The ISO image /nonexistent.iso does not exist." and error.styleSheet() == error_style()


def test_resources_page_checks_size_and_target_then_finish_shows_the_xml(qtbot, files):
    dialog = make_dialog(qtbot, files)
    dialog.name.setText("vm1")
    dialog.source_buttons[Source.KERNEL].setChecked(True)
    assert "Choose the kernel." in dialog.source_page.error.text()
    dialog.kernel.setText(files["kernel"])
    settle(qtbot, dialog)
    dialog.next()
    assert dialog.currentPage() is dialog.resources_page
    assert (dialog.memory.value(), dialog.vcpus.value(), dialog.disk_size.text()) == (2048, 2, "20 GiB")
    assert dialog.disk_path.placeholderText() == os.path.join(files["images"], "vm1.qcow2")
    dialog.disk_size.setText("a lot")
    assert not next_button(dialog).isEnabled() and "disk size must be" in dialog.resources_page.error.text()
    dialog.disk_size.setText("64 MiB")
    Path(files["images"], "taken.qcow2").write_bytes(b"")
    dialog.disk_path.setText(os.path.join(files["images"], "taken.qcow2"))
    settle(qtbot, dialog)
    assert not next_button(dialog).isEnabled() and "already exists" in dialog.resources_page.error.text()
    dialog.disk_path.setText("")
    settle(qtbot, dialog)
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
    settle(qtbot, dialog)
    assert dialog.issues() == [] and not dialog.plan().creates_disk()
    dialog.source_buttons[Source.IMPORT].setChecked(True)
    dialog.import_path.setText(files["qcow2"])
    settle(qtbot, dialog)
    assert dialog.issues() == [] and dialog.plan().source is Source.IMPORT
    assert DomainXML.parse(dialog.xml.toPlainText()).disks()[0].format == "qcow2"  # its magic, read by the worker


# -- the flow through the window ----------------------------------------------------------------------------
@pytest.fixture
def images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """test:/// keeps new disks in the per-user data folder: a private one here."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "vmgui" / "images"


def open_wizard(window, qtbot) -> NewVMDialog:
    window.findChild(QAction, "actionNewVM").trigger()
    qtbot.waitUntil(lambda: isinstance(window.commands.last_dialog, NewVMDialog), timeout=5000)
    return window.commands.last_dialog


def fill(qtbot, dialog: NewVMDialog, name: str, iso: str, size: str = "64 MiB",
         preallocate: bool = False, start: bool = True, memory_mib: int | None = None,
         disk_format: str = "qcow2") -> None:
    dialog.name.setText(name)
    dialog.iso.setText(iso)
    qtbot.waitUntil(next_button(dialog).isEnabled)  # once the worker has looked at the ISO and the disk file
    dialog.next()
    if memory_mib is not None:
        dialog.memory.setValue(memory_mib)
    dialog.disk_size.setText(size)
    dialog.disk_format.setCurrentText(disk_format)
    dialog.preallocate.setChecked(preallocate)
    qtbot.waitUntil(next_button(dialog).isEnabled)
    dialog.next()
    dialog.start.setChecked(start)
    assert dialog.issues() == [], dialog.issues()


def shown(window, uri: str, name: str) -> bool:
    """The domain table has a row for ``name`` on ``uri``."""
    model = window.session.domains
    return any(model.row_at(i).key[0] == uri and model.row_at(i).rec.name == name for i in range(model.rowCount()))


def disk_jobs(window, uri: str) -> list:
    return [r.info for r in window.session.jobs.rows()
            if r.key[0] == uri and r.info.operation is JobOperation.DISK_CREATE]


def test_finish_creates_the_disk_as_a_job_defines_and_starts(open_window, node_uri, files, images, qtbot):
    window = open_window(node_uri)
    dialog = open_wizard(window, qtbot)
    assert dialog.conn.currentText() == node_uri and dialog.target().image_dir == str(images)
    fill(qtbot, dialog, "fresh", files["iso"], preallocate=True)
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
    fill(qtbot, dialog, "idle", files["iso"], start=False)
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
    fill(qtbot, dialog, "never", files["iso"], size="4 GiB", preallocate=True)
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
    fill(qtbot, dialog, "racer", files["iso"], size="64 MiB", preallocate=True)
    dialog.accept()
    qtbot.waitUntil(lambda: any(not j.finished for j in disk_jobs(window, uri)), timeout=10000)
    conn = window.session.bridge.connection(uri)
    conn.define_xml(DomainXML.new("racer", 65536).to_string())  # someone takes the name meanwhile
    qtbot.waitUntil(lambda: any("racer" in m.title or "racer" in m.text for m in window.session.messages.messages()
                                if m.level == "error"), timeout=15000)
    assert disk_jobs(window, uri)[0].state is JobState.COMPLETED
    qtbot.waitUntil(lambda: not (images / "racer.qcow2").exists(), timeout=5000)


def test_finish_looks_at_the_files_again_before_creating(open_window, node_uri, files, images, qtbot):
    window = open_window(node_uri)
    dialog = open_wizard(window, qtbot)
    fill(qtbot, dialog, "late", files["iso"])
    images.mkdir(parents=True, exist_ok=True)
    (images / "late.qcow2").write_bytes(b"mine")  # another program takes the file after the wizard looked
    dialog.accept()
    qtbot.waitUntil(lambda: any(m.title == "late was not created" for m in window.session.messages.messages()))
    msg = next(m for m in window.session.messages.messages() if m.title == "late was not created")
    assert f"{images / 'late.qcow2'} already exists" in msg.text
    assert (images / "late.qcow2").read_bytes() == b"mine" and disk_jobs(window, node_uri) == []
    assert "late" not in [d.name for d in window.session.bridge.connection(node_uri).list_all_domains()]


def test_a_hung_mount_does_not_answer_while_the_window_keeps_working(open_window, node_uri, files, images,
                                                                     dead_mount, qtbot):
    window = open_window(node_uri)
    dialog = open_wizard(window, qtbot)
    meter = StallMeter()
    try:
        dialog.name.setText("vm1")
        dialog.iso.setText(f"{dead_mount}/d.iso")
        error = dialog.source_page.error
        assert error.text() == f"Checking {dead_mount}/d.iso…"
        qtbot.waitUntil(lambda: error.text() == f"The ISO image {dead_mount}/d.iso does not answer "
                                                "(a hung network mount?)", timeout=5000)
        assert not next_button(dialog).isEnabled() and error.styleSheet() == error_style()
        assert meter.worst < 1.0, f"the event loop stalled {meter.worst:.3f} s"  # frozen = until the test ends
        bridge = window.session.bridge
        assert bridge.pending(node_uri) == 0  # the look holds no slot of the connection
        assert len(run(qtbot, bridge.list_records(node_uri)).result()) == 8  # which still answers
        dialog.iso.setText(files["iso"])  # another file answers while the dead mount still holds its worker
        qtbot.waitUntil(next_button(dialog).isEnabled)
        assert error.text() == ""
    finally:
        meter.timer.stop()
        meter.timer.deleteLater()


def test_a_remote_hosts_files_are_checked_by_that_host(qtbot, files):
    remote = Target("libvirt:qemu+ssh://admin@far/system", "/var/lib/images", can_create_disks=False, remote=True)
    plan = plan_of(target=remote, source=Source.IMPORT, import_path="/srv/vm/disk.qcow2")
    assert plan.problems() == [] and plan.local_paths() == []  # nothing here is looked at
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


# -- firmware and TPM -------------------------------------------------------------------------------------
def test_uefi_with_secure_boot_and_a_tpm_is_written_as_libvirt_reads_it():
    target = Target("qemu:///embed", "/img", boots=(Boot.BIOS, Boot.UEFI, Boot.SECURE_BOOT), tpm=True)
    plan = plan_of(target=target, boot=Boot.SECURE_BOOT, tpm=True)
    assert plan.problems() == []
    dom = DomainXML.parse(plan.xml())
    assert dom.firmware == "efi" and dom.secure_boot and dom.firmware_feature("enrolled-keys") is True
    assert dom.loader is None, "the host picks the image from its descriptors"
    assert dom.tpms() == [Tpm("tpm-crb", "emulator", "2.0")]
    assert "UEFI with Secure Boot firmware, TPM 2.0" in plan.summary()
    plain = DomainXML.parse(plan_of(target=target, boot=Boot.UEFI).xml())
    assert plain.uefi and not plain.secure_boot and plain.tpms() == []
    assert DomainXML.parse(plan_of().xml()).firmware is None and not DomainXML.parse(plan_of().xml()).uefi


def test_firmware_and_tpm_a_host_lacks_are_problems_of_the_resources_page():
    plan = plan_of(boot=Boot.UEFI, tpm=True)
    assert {(i.field, i.text.split(": ")[0]) for i in plan.issues()} == {
        ("firmware", "test:///x has no UEFI firmware"), ("tpm", "test:///x cannot emulate a TPM")}
    assert {"firmware", "tpm"} <= PAGE_FIELDS[1]


def test_the_firmware_offered_comes_from_the_hosts_facts():
    bios = Firmware(FirmwareInterface.BIOS)
    facts = HostFacts("h", "/img", None, (bios,))
    assert boots_of(facts) == (Boot.BIOS,)
    uefi = Firmware(FirmwareInterface.UEFI, "/fw/CODE.fd")
    assert boots_of(replace(facts, firmware=(bios, uefi))) == (Boot.BIOS, Boot.UEFI)
    secure = Firmware(FirmwareInterface.UEFI, "/fw/CODE.secboot.fd", True, True, True, "/fw/VARS.ms.fd")
    assert boots_of(replace(facts, firmware=(bios, uefi, secure))) == (Boot.BIOS, Boot.UEFI, Boot.SECURE_BOOT)


def test_the_wizard_offers_only_what_the_host_has(qtbot, files):
    dialog = make_dialog(qtbot, files)
    assert [dialog.firmware.itemText(i) for i in range(dialog.firmware.count())] == ["BIOS"]
    assert not dialog.tpm.isEnabled() and dialog.firmware.accessibleName() == "Firmware"
    rich = make_dialog(qtbot, files, boots=(Boot.BIOS, Boot.UEFI, Boot.SECURE_BOOT), tpm=True)
    assert [rich.firmware.itemText(i) for i in range(rich.firmware.count())] == [
        "BIOS", "UEFI", "UEFI with Secure Boot"]
    rich.firmware.setCurrentIndex(2)
    rich.tpm.setChecked(True)
    plan = rich.plan()
    assert (plan.boot, plan.tpm) == (Boot.SECURE_BOOT, True)


def test_a_finish_that_creates_the_vm_dismisses_the_earlier_failure(open_window, node_uri, files, images, qtbot):
    """The message area must not go on saying the VM was not created once it was."""
    window = open_window(node_uri)
    dialog = open_wizard(window, qtbot)
    fill(qtbot, dialog, "second", files["iso"])
    images.mkdir(parents=True, exist_ok=True)
    (images / "second.qcow2").write_bytes(b"mine")
    dialog.accept()
    qtbot.waitUntil(lambda: any(m.title == "second was not created" for m in window.session.messages.messages()))
    (images / "second.qcow2").unlink()  # the user moves the file away and presses Finish again
    dialog.accept()
    qtbot.waitUntil(lambda: shown(window, node_uri, "second"), timeout=10000)
    # the row can come (by the host's event) a moment before the flow hears that the definition took
    qtbot.waitUntil(lambda: [m.title for m in window.session.messages.messages() if m.level == "error"] == [],
                    timeout=10000)


def test_a_long_failure_on_the_summary_page_pushes_nothing_under_the_xml(qtbot, files):
    dialog = make_dialog(qtbot, files)
    dialog.name.setText("vm1")
    dialog.iso.setText(files["iso"])
    settle(qtbot, dialog)
    dialog.next()
    dialog.next()
    assert dialog.currentPage() is dialog.summary_page
    qtbot.waitExposed(dialog)
    path = os.path.join(files["images"], "vm1.qcow2")
    dialog.failed(f"Creating its disk {path} failed: cannot create {path}: Operation not permitted.")
    qtbot.wait(50)  # the layout settles
    start, xml, failure = dialog.start.geometry(), dialog.xml.geometry(), dialog.failure.geometry()
    assert start.top() > xml.bottom(), (start, xml)
    assert failure.top() > start.bottom() and failure.height() >= dialog.failure.heightForWidth(failure.width())


def alt_keys(dialog: NewVMDialog) -> list[str]:
    """The Alt letters of the shown page's labels and buttons and of the wizard's buttons, one per control."""
    page = dialog.currentPage()
    texts = [w.text() for w in page.findChildren(QLabel) if w.isVisibleTo(dialog) and w.buddy() is not None]
    texts += [w.text() for w in page.findChildren(QAbstractButton) if w.isVisibleTo(dialog)]
    texts += [dialog.button(b).text() for b in (QWizard.WizardButton.BackButton, QWizard.WizardButton.NextButton,
                                                QWizard.WizardButton.FinishButton) if dialog.button(b).isVisible()]
    return [t[t.index("&") + 1].lower() for t in texts if "&" in t]


def test_every_field_of_the_wizard_has_its_own_alt_key(qtbot, files):
    dialog = make_dialog(qtbot, files)
    dialog.activateWindow()  # Alt keys go to the active window
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    dialog.cmdline.setFocus()
    for source in (Source.KERNEL, Source.IMPORT, Source.ISO):
        dialog.source_buttons[source].setChecked(True)
        keys = alt_keys(dialog)
        assert len(keys) == len(set(keys)) and len(keys) >= 7, keys
    QTest.keyClick(dialog, Qt.Key.Key_M, Qt.KeyboardModifier.AltModifier)
    assert dialog.focusWidget() is dialog.name
    QTest.keyClicks(dialog.name, "vm1")
    QTest.keyClick(dialog, Qt.Key.Key_O, Qt.KeyboardModifier.AltModifier)
    assert dialog.focusWidget() is dialog.iso  # through the row with its Browse button
    QTest.keyClicks(dialog.iso, files["iso"])
    qtbot.waitUntil(next_button(dialog).isEnabled)
    QTest.keyClick(dialog, Qt.Key.Key_N, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: dialog.currentPage() is dialog.resources_page)  # a button's Alt key clicks it
    keys = alt_keys(dialog)
    assert len(keys) == len(set(keys)) and len(keys) >= 11, keys
    QTest.keyClick(dialog, Qt.Key.Key_S, Qt.KeyboardModifier.AltModifier)
    assert dialog.focusWidget() is dialog.disk_size
    QTest.keyClick(dialog, Qt.Key.Key_N, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: dialog.currentPage() is dialog.summary_page)
    keys = alt_keys(dialog)
    assert len(keys) == len(set(keys)) and {"x", "s", "f", "b"} <= set(keys), keys
    QTest.keyClick(dialog, Qt.Key.Key_S, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: not dialog.start.isChecked())
