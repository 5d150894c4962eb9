"""Dialog controllers without widgets: a real Session on a private test host, driven as a dialog would."""
from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_hung import run

from drivers import DomainState, JobOperation, JobState
from drivers.domxml import DomainXML
from vmgui.flows.newvm import NewVMController
from vmgui.models.domains import Key
from vmgui.models.newvm import MIB, NewVMPlan
from vmgui.models.session import Session

VERBS = {"start": "Starting"}


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
    path = tmp_path / "install.iso"
    path.write_bytes(b"CD001")
    return str(path)


def test_the_wizards_target_comes_from_the_hosts_facts(session, qtbot, node_uri, images):
    targets = run(qtbot, NewVMController(session, VERBS).targets()).result()
    assert [t.uri for t in targets] == [node_uri]
    target = targets[0]
    facts = session.bridge.connection(node_uri).host_facts()
    assert target.image_dir == facts.image_dir == str(images)
    assert target.domain_type == "qemu" and target.remote is False
    assert target.can_create_disks and target.graphics
    assert facts.hostname == socket.gethostname()


def test_the_new_vm_flow_defines_starts_and_announces_the_planned_domain(session, qtbot, node_uri, images, iso):
    flow = NewVMController(session, VERBS)
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


def test_a_name_already_taken_defines_nothing_and_says_why(session, qtbot, node_uri, images, iso):
    flow = NewVMController(session, VERBS)
    target = run(qtbot, flow.target(node_uri)).result()
    assert "test" in flow.taken(node_uri)
    plan = NewVMPlan(target, name="test", iso=iso, disk_size=8 * MIB, taken=flow.taken(node_uri))
    assert run(qtbot, flow.run(plan)).result() is None
    message = session.messages.messages()[-1]
    assert message.title == "test was not created"
    assert f"A domain named “test” already exists on {node_uri}." in message.text
    assert not (images / "test.qcow2").exists()
    assert [d.name for d in session.bridge.connection(node_uri).list_all_domains()].count("test") == 1
