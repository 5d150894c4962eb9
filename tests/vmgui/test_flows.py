"""Dialog controllers without widgets: a real Session on a private test host, driven as a dialog would."""
from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from isoimages import DEBIAN_11, make_iso
from PySide6.QtCore import Qt
from test_hung import HungConnection, run

import drivers
from drivers import DomainState, JobOperation, JobState, UndefineFlags
from drivers.domxml import DomainXML
from drivers.hostfacts import HostFacts
from drivers.osinfo import OsInfoDb
from vmgui.flows.backup import BackupController
from vmgui.flows.delete import DeleteController
from vmgui.flows.newvm import NewVMController
from vmgui.models.backup import BackupPlan
from vmgui.models.domains import Key
from vmgui.models.format import bytes_text
from vmgui.models.jobs import JobCol
from vmgui.models.newvm import MIB, NewVMPlan
from vmgui.models.pathprobe import probe
from vmgui.models.session import Session


@pytest.fixture
def images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "vmgui" / "images"


@pytest.fixture
def session(aloop, qtbot, node_uri) -> Iterator[Session]:
    session = Session()
    assert run(qtbot, session.open(node_uri)).result() is True
    yield session
    session.stop()


@pytest.fixture
def iso(tmp_path: Path) -> str:
    return str(make_iso(tmp_path / "install.iso", "INSTALLER"))


def test_the_wizards_target_comes_from_the_hosts_facts(session, qtbot, node_uri, images):
    targets = run(qtbot, NewVMController(session).targets()).result()
    assert [t.uri for t in targets] == [node_uri]
    target = targets[0]
    facts = session.bridge.connection(node_uri).host_facts()
    assert target.image_dir == facts.image_dir == str(images)
    assert target.domain_type == "qemu" and target.remote is False
    assert target.can_create_disks and target.graphics
    assert facts.hostname == socket.gethostname()


def test_the_wizards_target_tells_the_hosts_memory_and_free_space(session, qtbot, node_uri, images):
    target = run(qtbot, NewVMController(session).target(node_uri)).result()
    facts = session.bridge.connection(node_uri).host_facts()
    assert target.memory_bytes == facts.memory_bytes and target.memory_bytes > 0
    assert target.image_free_bytes is not None and target.image_free_bytes > 0


def test_the_flow_names_the_system_on_an_iso_in_a_worker(session, qtbot, tmp_path):
    flow = NewVMController(session)
    if session.osinfo.root is None:
        pytest.skip("osinfo-db is not installed (Debian: osinfo-db)")
    run(qtbot, flow.index_osinfo())
    medium = probe([str(make_iso(tmp_path / "debian.iso", DEBIAN_11))])[str(tmp_path / "debian.iso")].medium
    profile = run(qtbot, flow.identify(medium)).result()
    assert profile is not None and profile.label == "Debian 11 (bullseye)"
    session.osinfo = OsInfoDb(str(tmp_path / "none"))  # no osinfo-db: nothing named, nothing said
    assert run(qtbot, flow.identify(medium)).result() is None
    assert session.messages.messages() == []


def test_the_new_vm_flow_defines_starts_and_announces_the_planned_domain(session, qtbot, node_uri, images, iso):
    flow = NewVMController(session)
    target = run(qtbot, flow.target(node_uri)).result()
    announced: list[Key] = []
    flow.created.connect(announced.append)
    plan = NewVMPlan(target, name="flowvm", iso=iso, disk_size=8 * MIB, memory_mib=256, vcpus=1,
                     taken=flow.taken(node_uri))
    key = run(qtbot, flow.run(plan)).result()
    assert key is not None and announced == [key]
    conn = session.bridge.connection(node_uri)
    dom = conn.lookup_by_uuid(key[1])
    assert dom.name == "flowvm"
    definition = DomainXML.parse(dom.xml_desc())
    assert definition.domain_type == "qemu"
    assert [d.source for d in definition.disks()] == [iso, str(images / "flowvm.qcow2")]
    assert os.path.getsize(images / "flowvm.qcow2") > 0
    jobs = [r.info for r in session.jobs.rows() if r.info.operation is JobOperation.DISK_CREATE]
    assert len(jobs) == 1 and jobs[0].state is JobState.COMPLETED
    assert session.domains.get(key) is not None  # its row is in the table already
    qtbot.waitUntil(lambda: dom.state()[0] is DomainState.RUNNING, timeout=10000)


def test_the_job_list_shows_a_new_disk_under_the_domain_it_is_for(session, qtbot, node_uri, images, iso, tmp_path):
    flow = NewVMController(session)
    target = run(qtbot, flow.target(node_uri)).result()
    plan = NewVMPlan(target, name="imp1", iso=iso, disk_size=8 * MIB, memory_mib=256, vcpus=1,
                     taken=flow.taken(node_uri))
    assert run(qtbot, flow.run(plan)).result() is not None
    model = session.jobs
    [row] = [i for i in range(model.rowCount()) if model.row_at(i).info.operation is JobOperation.DISK_CREATE]
    assert model.index(row, JobCol.DOMAIN).data() == "imp1"
    assert model.index(row, JobCol.DOMAIN).data(Qt.ItemDataRole.ToolTipRole).startswith("disk imp1.qcow2 for imp1")
    session.bridge.connection(node_uri).create_disk(str(tmp_path / "loose.qcow2"), MIB)  # made for no domain
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=10000)
    assert model.index(1, JobCol.DOMAIN).data() == "disk loose.qcow2"


def test_a_name_already_taken_defines_nothing_and_says_why(session, qtbot, node_uri, images, iso):
    flow = NewVMController(session)
    target = run(qtbot, flow.target(node_uri)).result()
    assert "test" in flow.taken(node_uri)
    plan = NewVMPlan(target, name="test", iso=iso, disk_size=8 * MIB, taken=flow.taken(node_uri))
    assert run(qtbot, flow.run(plan)).result() is None
    message = session.messages.messages()[-1]
    assert message.title == "test was not created"
    assert f"A domain named “test” already exists on {node_uri}." in message.text
    assert not (images / "test.qcow2").exists()
    assert [d.name for d in session.bridge.connection(node_uri).list_all_domains()].count("test") == 1


def _key(session: Session, uri: str, name: str) -> Key:
    return uri, session.bridge.connection(uri).lookup_by_name(name).uuid


def _disk_xml(name: str, *paths: Path) -> str:
    disks = "".join(f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{p}'/>"
                    f"<target dev='vd{chr(ord('a') + i)}'/></disk>" for i, p in enumerate(paths))
    return f"<domain type='qemu'><name>{name}</name><memory>65536</memory><devices>{disks}</devices></domain>"


def test_the_delete_flow_keeps_a_shared_disk_and_deletes_the_ticked_one(session, qtbot, node_uri, tmp_path):
    conn = session.bridge.connection(node_uri)
    own, shared = tmp_path / "own.qcow2", tmp_path / "shared.qcow2"
    for path in (own, shared):
        conn.create_disk(str(path), MIB)
    conn.define_xml(_disk_xml("leaving", own, shared))
    conn.define_xml(_disk_xml("staying", shared))
    run(qtbot, session.resync(node_uri))
    flow = DeleteController(session)
    entries = run(qtbot, flow.entries([_key(session, node_uri, "leaving")])).result()
    assert [e.name for _k, e in entries] == ["leaving"]
    entry = entries[0][1]
    assert [d.source for d in entry.files()] == [str(own), str(shared)]
    assert sorted(entry.users[str(shared)]) == ["leaving", "staying"]
    assert set(entry.refused) == {str(shared)} and "staying" in entry.refused[str(shared)]
    flow.delete(entries, int(UndefineFlags(0)), False, lambda name: [str(own)] if name == "leaving" else [])
    qtbot.waitUntil(lambda: "leaving" not in [d.name for d in conn.list_all_domains()], timeout=10000)
    qtbot.waitUntil(lambda: not own.exists(), timeout=5000)
    assert shared.exists() and conn.lookup_by_name("staying").name == "staying"


def test_the_backup_flow_writes_the_files_and_lists_them_with_their_sizes(session, qtbot, node_uri, tmp_path):
    key = _key(session, node_uri, "db01")
    flow = BackupController(session)
    sources = run(qtbot, flow.sources([key])).result()
    assert [(name, [d.target for d in disks]) for name, disks in sources.domains] == [("db01", ["vda", "vdb"])]
    assert sources.remote == {} and sources.keys == {"db01": key}
    out = tmp_path / "out"
    out.mkdir()
    plan = BackupPlan("db01", str(out), "20260101-000000", ("vda",))
    flow.start(sources, [plan])
    title = "Backup of db01 finished"
    qtbot.waitUntil(lambda: any(m.title == title for m in session.messages.messages()), timeout=15000)
    message = next(m for m in session.messages.messages() if m.title == title)
    (path,) = plan.paths()
    assert Path(path).is_file()
    assert message.text == f"{path} ({bytes_text(os.path.getsize(path))})"
    assert Path(path).parent == out / "db01-20260101-000000"  # a folder of its own, with its manifest
    assert (out / "db01-20260101-000000" / "manifest.json").is_file()


def test_a_backup_that_cannot_start_leaves_no_empty_folder(session, qtbot, node_uri, tmp_path):
    key = _key(session, node_uri, "db01")
    flow = BackupController(session)
    sources = run(qtbot, flow.sources([key])).result()
    out = tmp_path / "out"
    out.mkdir()
    plan = BackupPlan("db01", str(out), "20260101-000000", ("nosuchdisk",))  # the driver refuses it
    flow.start(sources, [plan])
    qtbot.waitUntil(lambda: any("db01" in m.title for m in session.messages.messages()), timeout=15000)
    qtbot.waitUntil(lambda: not Path(plan.directory).exists(), timeout=5000)
    assert list(out.iterdir()) == []

    blocked = BackupPlan("db01", str(out / "missing"), "20260101-000001", ("vda",))
    flow.start(sources, [blocked])  # its folder cannot be made: said, and no job starts
    qtbot.waitUntil(lambda: any(m.title == "db01 was not backed up" for m in session.messages.messages()),
                    timeout=15000)
    assert not session.jobs.rows()


FACTLESS, SLOW_FACTS = "hung:///factless", "hung:///slow-facts"


class SlowFactsConnection(HungConnection):
    """A host whose facts never come (until the test ends)."""

    def host_facts(self) -> HostFacts:
        self.release.wait(60)
        return HostFacts("late", "/late", None)


@pytest.fixture
def odd_hosts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """FACTLESS: a driver older than host facts (the base class's NO_SUPPORT); SLOW_FACTS: facts that hang."""
    release = threading.Event()
    real_open = drivers.open
    kinds = {FACTLESS: HungConnection, SLOW_FACTS: SlowFactsConnection}
    monkeypatch.setattr(drivers, "open", lambda uri: kinds[uri](uri, release) if uri in kinds else real_open(uri))
    yield
    release.set()  # let the stuck worker finish


def test_a_host_without_facts_gets_the_wizards_defaults(aloop, qtbot, images, odd_hosts):
    session = Session()
    try:
        run(qtbot, session.bridge.open(FACTLESS))
        assert run(qtbot, session.host_facts(FACTLESS)).result() is None
        target = run(qtbot, NewVMController(session).target(FACTLESS)).result()
        assert (target.image_dir, target.domain_type, target.remote) == (str(images), "qemu", False)
    finally:
        session.stop()


def test_facts_that_do_not_come_in_time_are_none(aloop, qtbot, odd_hosts):
    session = Session()
    try:
        run(qtbot, session.bridge.open(SLOW_FACTS))
        assert run(qtbot, session.host_facts(SLOW_FACTS, timeout=0.2)).result() is None
    finally:
        session.stop()
