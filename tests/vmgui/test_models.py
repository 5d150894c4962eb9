"""Item models checked by QAbstractItemModelTester, plus the behaviour users see in them."""
from __future__ import annotations

import dataclasses

from PySide6.QtCore import QItemSelectionModel, QPersistentModelIndex, Qt

import drivers
from drivers import DomainState, JobOperation, JobState, JobType, ListFlags
from drivers.listfilter import compile_filter
from vmgui.models.connections import ConnectionModel, ConnState
from vmgui.models.domains import Col, DomainTableModel
from vmgui.models.jobs import PERCENT_ROLE, JobCol, JobTableModel
from vmgui.models.jobstats import JobStats
from vmgui.models.messages import MessageModel


def names(model: DomainTableModel) -> list[str]:
    return [model.data(model.index(r, 0)) for r in range(model.rowCount())]


def test_domain_model_passes_modeltester_through_loads_filters_sorts_and_updates(qtmodeltester, make_node):
    conn = drivers.open(make_node(90))
    model = DomainTableModel()
    qtmodeltester.check(model)
    model.apply(conn.uri, conn.get_all_domain_stats(), complete=True)
    model.set_filter(compile_filter(ListFlags.RUNNING | ListFlags.PAUSED))
    model.sort(Col.MEMORY, Qt.SortOrder.DescendingOrder)
    dom = conn.lookup_by_name("vm00000")
    dom.suspend()
    model.apply(conn.uri, [dom.record()])
    dom.destroy()
    model.apply(conn.uri, [dom.record()])  # now filtered out
    model.set_filter(compile_filter(0), search="vm0001")
    model.remove_connection(conn.uri)
    assert model.rowCount() == 0
    qtmodeltester.check(model)


def test_domain_rows_are_found_by_uuid_and_keep_selection_across_refilter(make_node):
    conn = drivers.open(make_node(30))
    model = DomainTableModel()
    model.apply(conn.uri, conn.get_all_domain_stats(), complete=True)
    rec = conn.lookup_by_name("vm00006").record()
    key = (conn.uri, rec.uuid)
    assert names(model)[model.find(key)] == "vm00006"
    kept = QPersistentModelIndex(model.index(model.find(key), Col.STATE))
    model.sort(Col.NAME, Qt.SortOrder.DescendingOrder)
    assert kept.row() == model.find(key) and model.data(model.index(kept.row(), 0)) == "vm00006"
    model.set_filter(compile_filter(ListFlags.SHUTOFF))  # vm00006 is shut off in the generator's cycle
    assert model.find(key) == kept.row()
    model.set_filter(compile_filter(ListFlags.RUNNING))
    assert model.find(key) is None and not kept.isValid()


def test_domain_model_updates_only_what_changed(qtbot, make_node):
    conn = drivers.open(make_node(20))
    model = DomainTableModel()
    model.apply(conn.uri, conn.get_all_domain_stats(), complete=True)
    dom = conn.lookup_by_name("vm00006")
    dom.create()
    with qtbot.waitSignal(model.dataChanged):  # no filter, sort by name: a state change is a data change
        model.apply(conn.uri, [dom.record()])
    row = model.find((conn.uri, dom.uuid))
    assert model.data(model.index(row, Col.STATE)) == "running (booted)"
    dom.undefine()
    conn.lookup_by_uuid(dom.uuid).destroy()  # transient now, so it disappears
    model.apply(conn.uri, conn.get_all_domain_stats(), complete=True)
    assert "vm00006" not in names(model)


def test_cpu_usage_comes_from_two_bulk_samples(make_node):
    conn = drivers.open(make_node(2))
    model = DomainTableModel()
    recs = conn.get_all_domain_stats()
    model.apply(conn.uri, recs, complete=True, now=100.0)
    running = next(r for r in recs if r.state == DomainState.RUNNING)
    later = running._replace(cpu_time_ns=running.cpu_time_ns + running.vcpus * 500_000_000)
    model.apply(conn.uri, [later], now=101.0)
    row = model.find((conn.uri, running.uuid))
    assert model.data(model.index(row, Col.CPU)) == "50 %"


def _job(job_id: int, state: JobState = JobState.RUNNING, processed: int = 0, total: int | None = 100,
         **kw) -> drivers.JobInfo:
    base = dict(id=job_id, domain="web01", operation=JobOperation.BACKUP, type=JobType.BOUNDED, state=state,
                started=0.0, elapsed=1.0, remaining=None, processed=processed, total=total, rate=None,
                percent=None, domain_uuid="u1")
    base.update(kw)
    return drivers.JobInfo(**base)


def test_job_model_passes_modeltester_and_keeps_final_figures(qtmodeltester, qtbot):
    model = JobTableModel()
    qtmodeltester.check(model)
    model.update("a", [_job(1), _job(2, processed=10, domain_uuid="u2")])
    model.update("b", [_job(1, total=None)])
    assert model.rowCount() == 3
    assert model.data(model.index(2, JobCol.PROGRESS), PERCENT_ROLE) == -1  # unknown total: busy bar
    with qtbot.waitSignal(model.jobFinished):
        model.update("a", [_job(2, JobState.FAILED, 40, error="disk full", domain_uuid="u2")])
    model.update("a", [_job(2, processed=50, domain_uuid="u2")])  # a late progress event must not resurrect it
    row = model.find(("a", 2))
    assert model.data(model.index(row, JobCol.STATE)) == "failed"
    assert model.data(model.index(row, JobCol.DETAILS)) == "disk full"
    assert model.running_job("a", "u1") is not None and model.running_job("a", "u2") is None
    assert model.clear_finished() == 1 and model.rowCount() == 2
    qtmodeltester.check(model)


def test_job_stats_are_unknown_until_measured_then_rolling():
    stats = JobStats(_job(1, processed=0, total=1000), now=10.0)
    assert stats.rate() is None and stats.eta(10.0) is None
    stats.update(_job(1, processed=500, total=1000, elapsed=2.0), now=11.0)
    assert stats.rate() == 500.0
    assert stats.eta(11.0) == 1.0
    assert stats.elapsed(11.5) == 2.5  # keeps counting between events
    driver_says = dataclasses.replace(_job(1, processed=600, total=1000), rate=42.0, remaining=7.0)
    stats.update(driver_says, now=12.0)
    assert stats.rate() == 42.0 and stats.eta(12.0) == 7.0


def test_migration_details_are_shown():
    model = JobTableModel()
    info = _job(3, operation=JobOperation.MIGRATION_OUT,
                details=(("dirty_rate", 1048576.0), ("expected_downtime_ms", 30.0), ("iteration", 2.0),
                         ("remaining_bytes", 4194304.0)))
    model.update("a", [info])
    text = model.data(model.index(0, JobCol.DETAILS))
    assert text == "pass 2 · 4.0 MiB left · dirtying 1.0 MiB/s/s · downtime ≈ 30 ms".replace("/s/s", "/s")


def test_connection_and_message_models(qtmodeltester):
    conns = ConnectionModel()
    qtmodeltester.check(conns)
    conns.add("test:///a")
    conns.add("test:///b")
    conns.update("test:///a", state=ConnState.CONNECTED, domains=3)
    conns.remove("test:///b")
    assert conns.data(conns.index(0)) == "test:///a — 3 domains"
    messages = MessageModel()
    qtmodeltester.check(messages)
    messages.error(drivers.DriverError(drivers.ErrorCode.OPERATION_INVALID, "domain 'x' is not running"), "Pause x")
    messages.error(drivers.DriverError(drivers.ErrorCode.OPERATION_INVALID, "domain 'x' is not running"), "Pause x")
    assert messages.rowCount() == 1 and messages.messages()[0].count == 2
    messages.error(ValueError("boom"), "Start y")
    assert "Traceback" not in messages.messages()[-1].full_text()
    qtmodeltester.check(messages)


def test_selection_model_survives_layout_changes(make_node):
    conn = drivers.open(make_node(12))
    model = DomainTableModel()
    model.apply(conn.uri, conn.get_all_domain_stats(), complete=True)
    selection = QItemSelectionModel(model)
    selection.select(model.index(3, 0), QItemSelectionModel.SelectionFlag.Select
                     | QItemSelectionModel.SelectionFlag.Rows)
    chosen = model.data(model.index(3, 0))
    model.sort(Col.NAME, Qt.SortOrder.DescendingOrder)
    rows = selection.selectedRows()
    assert [model.data(i) for i in rows] == [chosen]


def test_connection_labels_tell_hosts_apart_at_a_glance():
    from vmgui.models.connections import short_label
    assert short_label("qemu:///embed?root=/srv/vms/A") == "embed (A)"
    assert short_label("qemu:///embed?root=/srv/vms/B") == "embed (B)"
    assert short_label("qemu:///embed") == "qemu:///embed"
    assert short_label("test:///default") == "test:///default"
    assert short_label("qemu+ssh://admin@web01.example.org/system") == "web01.example.org/system"
    assert short_label("test:///home/me/lab/hosts/node-with-long-name.xml") == "test: node-with-long-name.xml"


def test_a_broken_row_reads_broken_with_its_problem_and_a_damaged_running_one_needs_attention(make_node):
    from drivers.flags import NostateReason
    from vmgui.models.domainrow import TOOLTIP
    conn = drivers.open(make_node(2))
    running, off = sorted(conn.get_all_domain_stats(), key=lambda r: r.id is None)[:2]
    broken = off._replace(id=None, state=DomainState.NOSTATE, reason=NostateReason.BROKEN, vcpus=0,
                          memory_kib=0, max_memory_kib=0, problem="domain.xml is empty.")
    damaged = running._replace(problem="domain.xml is truncated (9 bytes).")
    model = DomainTableModel()
    model.apply(conn.uri, [broken, damaged], complete=True)
    cells = {model.data(model.index(r, Col.NAME)): (model.data(model.index(r, Col.STATE)),
                                                   model.data(model.index(r, Col.STATE), TOOLTIP))
             for r in range(model.rowCount())}
    assert cells[broken.name] == ("broken", "domain.xml is empty. Correct the definition in the XML tab "
                                            "(Edit XML, then Apply…), or delete the domain.")
    row = next(r for r in range(model.rowCount()) if model.data(model.index(r, Col.NAME)) == broken.name)
    assert [model.data(model.index(row, c)) for c in (Col.VCPUS, Col.MEMORY)] == ["—", "—"]  # nothing to read
    state, tip = cells[damaged.name]
    assert state.endswith(", needs attention") and tip.startswith("domain.xml is truncated (9 bytes).")
    model.set_filter(compile_filter(ListFlags.OTHER), "", None)
    assert [model.data(model.index(r, Col.NAME)) for r in range(model.rowCount())] == [broken.name]
