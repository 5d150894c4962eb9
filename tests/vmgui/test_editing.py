"""The edit rules, the new definition and the diff as plain data; the graph history; no widgets."""
from __future__ import annotations

from dataclasses import replace

import pytest

from drivers import DomainRecord, DomainState
from drivers.domxml import Disk, DomainXML
from vmgui.models import editing
from vmgui.models.domains import DomainTableModel
from vmgui.models.editing import EditContext, new_nic, problem, values_of
from vmgui.models.history import History

UUID = "4f1c6f1e-4a53-4a3c-9d5e-6a1d2b3c4d5e"
URI = "test:///x"


def domain() -> DomainXML:
    xml = DomainXML.new("web01", 2048 * 1024, 2, uuid=UUID)
    xml.add_disk(Disk("vda", source="/srv/web01.qcow2", format="qcow2"))
    xml.add_disk(Disk("sda", "cdrom", source="/srv/install.iso", bus="sata", readonly=True))
    xml.boot_devices = ["hd"]
    editing._apply_nics(xml, (editing.Nic("network", "default", "virtio", "52:54:00:12:34:56"),))
    return xml


def test_values_round_trip_and_untouched_form_plans_nothing():
    xml = domain()
    before = values_of(xml, autostart=False)
    assert (before.name, before.memory_mib, before.vcpus, before.boot) == ("web01", 2048, 2, ("hd",))
    assert [d.target for d in before.disks] == ["vda", "sda"]
    assert [(n.type, n.source, n.index) for n in before.nics] == [("network", "default", 0)]
    assert editing.plan(xml, before, before).empty


@pytest.mark.parametrize("change, ctx, sentence", [
    ({"name": "bad/name"}, EditContext(), "Invalid domain name"),
    ({"name": "db01"}, EditContext(taken_names=frozenset({"db01"})), "already called db01"),
    ({"name": "web02"}, EditContext(running=True), "Shut the domain off to rename it"),
    ({"name": "web02"}, EditContext(can_rename=False), "cannot rename"),
    ({"memory_mib": 0}, EditContext(), "at least 1 MiB"),
    ({"vcpus": 9}, EditContext(max_vcpus=8), "between 1 and 8"),
    ({"vcpus": 0}, EditContext(), "between 1 and"),
    ({"boot": ("hd", "hd")}, EditContext(), "may appear once"),
    ({"nics": (new_nic("bridge", ""),)}, EditContext(), "Name the bridge"),
])
def test_rules_name_the_problem(change, ctx, sentence):
    before = values_of(domain(), False)
    assert problem(before, before, ctx) is None
    assert sentence in (problem(replace(before, **change), before, ctx) or "")


def test_a_relative_disk_path_is_refused():
    before = values_of(domain(), False)
    disks = before.disks + (editing.disk_for_file("images/x.qcow2", before.disks),)
    assert "must be absolute" in problem(replace(before, disks=disks), before, EditContext())


def test_build_changes_exactly_the_edited_parts():
    xml = domain()
    before = values_of(xml, False)
    disks = tuple(replace(d, source="/srv/rescue.iso") if d.device == "cdrom" else d for d in before.disks)
    disks += (editing.disk_for_file("/srv/data.qcow2", disks),)
    after = replace(before, title="Front end", memory_mib=4096, vcpus=4, boot=("cdrom", "hd"), disks=disks,
                    nics=before.nics + (new_nic("user"),))
    new = DomainXML.parse(editing.plan(xml, after, before).xml)
    assert (new.name, new.uuid, new.title) == ("web01", UUID, "Front end")
    assert (new.memory_kib, new.current_memory_kib, new.vcpus) == (4096 * 1024, 4096 * 1024, 4)
    assert new.boot_devices == ["cdrom", "hd"]
    assert [(d.target, d.source, d.format) for d in new.disks()] == [
        ("vda", "/srv/web01.qcow2", "qcow2"), ("sda", "/srv/rescue.iso", "raw"), ("vdb", "/srv/data.qcow2", "qcow2")]
    assert [(i.type, i.source) for i in new.interfaces()] == [("network", "default"), ("user", None)]
    removed = replace(before, disks=before.disks[:1], nics=())
    new = DomainXML.parse(editing.plan(xml, removed, before).xml)
    assert [d.target for d in new.disks()] == ["vda"] and new.interfaces() == []


def test_rename_and_autostart_are_separate_steps():
    xml = domain()
    before = values_of(xml, False)
    steps = editing.plan(xml, replace(before, name="web02", autostart=True), before)
    assert (steps.xml, steps.rename_to, steps.autostart) == (None, "web02", True)


def test_edited_xml_errors_carry_the_element_path_and_refuse_identity_changes():
    text = domain().to_string()
    ok, why = editing.check_edited_xml(text.replace(">2<", ">3<"), UUID, "web01")
    assert ok is not None and why is None
    _, why = editing.check_edited_xml(text.replace("<vcpu>2</vcpu>", "<vcpu>many</vcpu>"), UUID, "web01")
    assert "/domain/vcpu" in why
    _, why = editing.check_edited_xml(text.replace("</domain>", ""), UUID, "web01")
    assert "not well-formed" in why
    _, why = editing.check_edited_xml(text.replace(UUID, "11111111-2222-3333-4444-555555555555"), UUID, "web01")
    assert "UUID must stay" in why
    _, why = editing.check_edited_xml(text.replace("<name>web01", "<name>web09"), UUID, "web01")
    assert "rename" in why
    evil = '<!DOCTYPE d [<!ENTITY x "y">]>' + text
    assert "DOCTYPE" in editing.check_edited_xml(evil, UUID, "web01")[1]


def test_diff_holds_exactly_the_changed_lines():
    old = domain().to_string()
    new = old.replace("<vcpu>2</vcpu>", "<vcpu>6</vcpu>")
    lines = editing.unified_diff(old, new)
    assert editing.changed_lines(lines) == ["-  <vcpu>2</vcpu>", "+  <vcpu>6</vcpu>"]
    assert lines[:2] == ["--- current", "+++ edited"]  # the file labels are not changed lines
    assert editing.unified_diff(old, old) == []


def record(cpu_ns: int, run: int | None = 1, memory_kib: int = 1024 * 1024, vcpus: int = 2,
           **extra: object) -> DomainRecord:
    state = DomainState.RUNNING if run is not None else DomainState.SHUTOFF
    return DomainRecord("web01", UUID, run, state, 1, True, False, False, 0, memory_kib, 2 * memory_kib, vcpus,
                        cpu_ns, **extra)


def test_history_points_follow_records_with_the_table_cpu_figure(qapp):
    model, history = DomainTableModel(), History(max_points=3)
    key = (URI, UUID)
    model.apply(URI, [record(0)], now=100.0)
    history.collect(model.get, URI)
    assert history.points(key) == []  # not tracked: nothing kept
    history.track(key)
    history.collect(model.get, URI)
    # 2 vCPUs busy for 1 s of 2 s wall time: 25 %
    model.apply(URI, [record(1_000_000_000)], now=102.0)
    history.collect(model.get, URI)
    points = history.points(key)
    assert [p.cpu for p in points] == [None, 25.0] and points[-1].t == 102.0
    assert model.get(key).texts[4] == "25 %"  # the same figure as the table's CPU column
    history.collect(model.get, URI)  # no new record: no new point
    assert len(history.points(key)) == 2
    model.apply(URI, [record(5_000_000_000, memory_used_kib=300 * 1024)], now=104.0)
    model.apply(URI, [record(5_000_000_000 + 4 * 10 ** 9)], now=106.0)  # a re-sync in between is missed
    history.collect(model.get, URI)
    assert [p.cpu for p in history.points(key)][-1] == 100.0 and len(history.points(key)) == 3
    model.apply(URI, [record(0, run=None)], now=107.0)
    history.collect(model.get, URI)
    assert history.points(key) == []  # stopped: the graph starts afresh with the next run


def test_history_memory_prefers_what_the_guest_uses(qapp):
    model, history = DomainTableModel(), History()
    key = (URI, UUID)
    history.track(key)
    model.apply(URI, [record(0, memory_used_kib=300 * 1024)], now=1.0)
    history.collect(model.get)
    model.apply(URI, [record(10 ** 9)], now=2.0)
    history.collect(model.get)
    assert [p.memory_kib for p in history.points(key)] == [300 * 1024, 1024 * 1024]


def test_history_keeps_only_the_recently_shown(qapp):
    history = History(max_tracked=2)
    for uuid in ("a", "b", "a", "c"):
        history.track((URI, uuid))
    assert history.tracked() == [(URI, "a"), (URI, "c")]


def test_check_adds_the_core_validation_with_its_element_path():
    xml = domain()
    before = values_of(xml, False)
    disks = tuple(replace(d, source="/srv/a.iso") if d.device == "cdrom" else d for d in before.disks)
    xml.root.find("devices/interface/mac").set("address", "52:54:00:zz")  # broken in the definition itself
    why = editing.check(xml, replace(before, disks=disks), before, EditContext())
    assert why.startswith("/domain/devices/interface/mac") and "invalid MAC" in why
    assert "control character" in editing.check(xml, replace(before, title="a\x00b"), before, EditContext())
    assert editing.check(domain(), before, before, EditContext()) is None
