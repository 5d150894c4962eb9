"""The migration dialog on private test hosts: the compatibility check, Start, flags, bulk, cancel."""
from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QProgressBar, QToolButton

from drivers import DomainState, Feature, JobOperation, JobState, MigrateFlags
from vmgui.actions.requests import Backup
from vmgui.models import migration
from vmgui.models.jobs import JobCol
from vmgui.models.migration import Facts, Level, Mode, evaluate
from vmgui.views.dialogs.migrate import MigrateDialog
from vmgui.views.migrateflow import MigrateFlow
from vmgui.views.theme import error_style

NS = "http://libvirt.org/schemas/domain/test/1.0"
UUID_OTHER = "99999999-0000-4000-8000-000000000001"


def key_of(window, uri: str, name: str):
    return uri, window.session.bridge.connection(uri).lookup_by_name(name).uuid


def flow_of(window) -> MigrateFlow:
    return window.commands.migrate


def ask(window, qtbot, uri: str, *names: str, dest: str | None = None) -> MigrateDialog:
    dialog = flow_of(window).ask([key_of(window, uri, n) for n in names])  # a child of the window
    if dest is not None:
        dialog.dest.setCurrentText(dest)
    qtbot.waitUntil(lambda: dialog.checks() is not None, timeout=10000)
    return dialog


def texts(dialog: MigrateDialog) -> list[str]:
    return [dialog.check_list.item(i).text().strip() for i in range(dialog.check_list.count())]


def node_with(name: str, uuid: str = UUID_OTHER, runstate: int = 5) -> str:
    return (f"<node><domain type='test' xmlns:test='{NS}'><name>{name}</name><uuid>{uuid}</uuid>"
            "<memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>"
            f"<devices/><test:runstate>{runstate}</test:runstate></domain></node>")


def only_job(window, uri: str, operation: JobOperation):
    rows = [r for r in window.session.jobs.rows() if r.key[0] == uri and r.info.operation == operation]
    return rows[0] if len(rows) == 1 else None


def test_check_passes_and_start_uses_the_options(open_window, node_uri, make_node, qtbot):
    src = f"{node_uri}?rate=4096"
    dest = make_node(1)
    window = open_window(src, dest)
    dialog = ask(window, qtbot, src, "web01")
    assert dialog.objectName() == "migrateDialog" and dialog.dest.currentText() == dest
    lines = texts(dialog)
    assert f"the name web01 is free on {dest}" in lines and f"{dest} sees its disk" in lines
    assert any("protocol V3" in t for t in lines)
    assert dialog.start.isEnabled() and not dialog.error.text()
    assert dialog.live.isChecked() and dialog.persist.isChecked() and not dialog.undefine.isChecked()
    assert not dialog.undefine_warning.isVisibleTo(dialog)
    check = dialog.runnable()[0]
    assert dialog.flags(check) == MigrateFlags.LIVE | MigrateFlags.PERSIST_DEST
    dialog.live.setChecked(False)
    dialog.undefine.setChecked(True)
    assert dialog.undefine_warning.isVisibleTo(dialog) and "only be started on the destination" in \
        dialog.undefine_warning.text()
    assert dialog.flags(check) == MigrateFlags.PERSIST_DEST | MigrateFlags.UNDEFINE_SOURCE
    dialog.start.click()
    qtbot.waitUntil(lambda: only_job(window, src, JobOperation.MIGRATION_OUT) is not None
                    and only_job(window, src, JobOperation.MIGRATION_OUT).info.state is JobState.COMPLETED,
                    timeout=15000)
    moved = window.session.bridge.connection(dest).lookup_by_name("web01")
    assert moved.is_persistent() and moved.state()[0] == DomainState.RUNNING
    from drivers import DriverError
    with pytest.raises(DriverError):  # undefined at the source, as ticked
        window.session.bridge.connection(src).lookup_by_name("web01")
    assert not any(m.level == "error" for m in window.session.messages.messages())


def test_name_taken_on_the_destination_blocks_with_the_reason(open_window, node_uri, make_node, qtbot):
    dest = make_node(xml=node_with("web01"))
    window = open_window(node_uri, dest)
    dialog = ask(window, qtbot, node_uri, "web01")
    reason = f"a domain named web01 already exists on {dest}"
    assert reason in texts(dialog)
    assert not dialog.start.isEnabled() and reason in dialog.error.text() and reason in dialog.start.toolTip()
    dialog.start.click()
    assert dialog.isVisible() and window.session.jobs.rowCount() == 0


def test_disk_the_destination_cannot_see_blocks(open_window, make_node, qtbot):
    src, dest = make_node(1), make_node(0)
    window = open_window(src, dest)
    dialog = ask(window, qtbot, src, "vm00000")
    reason = f"the destination {dest} cannot see /var/lib/vmgui/images/vm00000.qcow2"
    assert reason in texts(dialog) and reason in dialog.error.text() and not dialog.start.isEnabled()


def test_a_destination_that_does_not_answer_blocks_with_the_reason(open_window, node_uri, make_node, monkeypatch,
                                                                   qtbot):
    dest = make_node(0)
    window = open_window(node_uri, dest)
    release = threading.Event()
    real_lookup = window.session.bridge.connection(dest).lookup_by_name

    def hanging_lookup(name: str):
        release.wait(30)
        return real_lookup(name)
    monkeypatch.setattr(window.session.bridge.connection(dest), "lookup_by_name", hanging_lookup)
    monkeypatch.setattr(migration, "CHECK_TIMEOUT_S", 0.5)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    try:
        dialog = ask(window, qtbot, node_uri, "web01")
        assert any("did not answer within 0.5 s" in t for t in texts(dialog)), texts(dialog)
        assert not dialog.start.isEnabled() and "did not answer" in dialog.start.toolTip()
        assert len(ticks) >= 10  # the window kept running while it waited
    finally:
        timer.stop()
        release.set()


def test_same_host_is_refused(open_window, qtbot):
    # two URIs of the one shared demo host; the check only reads it
    a, b = "test:///default", "test:///default?rate=512"
    window = open_window(a, b)
    dialog = ask(window, qtbot, a, "test", dest=b)
    assert f"{a} and {b} are the same host (they manage the same domains)" in texts(dialog)
    assert not dialog.start.isEnabled()


def test_no_migration_protocol_on_the_destination(open_window, node_uri, make_node, qtbot):
    dest = f"{make_node(0)}?migration=none"
    window = open_window(node_uri, dest)
    dialog = ask(window, qtbot, node_uri, "web01")
    assert f"the destination {dest} cannot receive migrations" in texts(dialog)
    assert not dialog.start.isEnabled()


def test_shut_off_domain_moves_offline_and_lands_defined_and_shut_off(open_window, node_uri, make_node, qtbot):
    src = f"{node_uri}?rate=4096"
    dest = make_node(0)
    window = open_window(src, dest)
    dialog = ask(window, qtbot, src, "backup-store")
    assert "backup-store is shut off: only its definition moves (offline migration)" in texts(dialog)
    [check] = dialog.runnable()
    assert check.mode is Mode.OFFLINE and dialog.start.isEnabled() and not dialog.error.text()
    assert dialog.offline_note.isVisibleTo(dialog) and not dialog.live.isEnabled()
    assert dialog.flags(check) == MigrateFlags.OFFLINE | MigrateFlags.PERSIST_DEST
    dialog.start.click()
    qtbot.waitUntil(lambda: only_job(window, src, JobOperation.MIGRATION_OUT) is not None
                    and only_job(window, src, JobOperation.MIGRATION_OUT).info.state is JobState.COMPLETED,
                    timeout=10000)
    source_key = key_of(window, src, "backup-store")
    dest_key = (dest, source_key[1])  # the same uuid on the destination
    qtbot.waitUntil(lambda: window.session.domains.get(dest_key) is not None, timeout=5000)
    landed = window.session.domains.get(dest_key).rec
    assert landed.name == "backup-store" and landed.persistent and landed.state == DomainState.SHUTOFF
    assert window.session.domains.get(source_key).rec.persistent  # the source keeps its definition
    assert only_job(window, dest, JobOperation.MIGRATION_IN) is None  # no guest started, no memory sent
    assert not any(m.level == "error" for m in window.session.messages.messages())


def test_shut_off_domain_without_offline_support_says_so(qtbot):
    """A destination that cannot take a definition offline (test:/// hosts can; some libvirt hosts cannot)."""
    v3 = frozenset({Feature.MIGRATION_V3})
    facts = Facts(("a", "u1"), "legacy-app", "b", DomainState.SHUTOFF, True,
                  v3 | {Feature.MIGRATION_OFFLINE}, v3, disks={"/img/l.qcow2": True})
    check = evaluate(facts)
    assert check.blocked and check.mode is Mode.NONE
    assert check.reasons() == ["legacy-app is shut off and b cannot migrate a definition offline (start it first)"]
    dialog = MigrateDialog(["legacy-app"], ["b"], any_running=False)
    qtbot.addWidget(dialog)
    dialog.set_checks("b", [check])
    assert not dialog.start.isEnabled() and check.reasons()[0] in dialog.error.text()


def test_bulk_skips_a_busy_domain_and_migrates_the_rest(open_window, node_uri, make_node, tmp_path, qtbot):
    src = f"{node_uri}?rate=64"  # the backup keeps web01 busy for a while
    dest = make_node(0)
    window = open_window(src, dest)
    window.commands.run(Backup(folder=str(tmp_path)), [key_of(window, src, "web01")])
    qtbot.waitUntil(lambda: only_job(window, src, JobOperation.BACKUP) is not None)
    job_id = only_job(window, src, JobOperation.BACKUP).key[1]
    dialog = ask(window, qtbot, src, "web01", "test")
    lines = texts(dialog)
    assert f"web01 is busy: its backup job {job_id} is running" in lines
    assert "web01: skipped" in lines and "test: can move" in lines
    assert dialog.start.isEnabled() and "skipped: web01" in dialog.note.text()
    assert [c.name for c in dialog.runnable()] == ["test"]
    dialog.start.click()
    qtbot.waitUntil(lambda: any("Not migrated" in m.title for m in window.session.messages.messages()))
    qtbot.waitUntil(lambda: only_job(window, src, JobOperation.MIGRATION_OUT) is not None)
    out = only_job(window, src, JobOperation.MIGRATION_OUT)
    assert out.info.domain == "test"  # and nothing started for web01
    qtbot.waitUntil(lambda: only_job(window, dest, JobOperation.MIGRATION_IN) is not None)
    assert only_job(window, dest, JobOperation.MIGRATION_IN).info.domain == "test"
    window.session.cancel_job(*out.key)
    window.session.cancel_job(src, job_id)
    qtbot.waitUntil(lambda: all(r.info.finished for r in window.session.jobs.rows()), timeout=5000)


def test_changing_the_destination_checks_again(open_window, node_uri, make_node, qtbot):
    taken = make_node(xml=node_with("web01"))
    free = make_node(0)
    window = open_window(node_uri, taken, free)
    dialog = ask(window, qtbot, node_uri, "web01", dest=taken)
    assert not dialog.start.isEnabled()
    dialog.dest.setCurrentText(free)
    assert dialog.checks() is None and not dialog.start.isEnabled()  # checking: Start waits
    assert dialog.error.text() == f"Checking {free}…" and dialog.error.styleSheet() != error_style()  # not red
    qtbot.waitUntil(lambda: dialog.checks() is not None)
    assert dialog.start.isEnabled() and dialog.checks()[0].dest == free
    dialog.dest.setCurrentText(taken)
    qtbot.waitUntil(lambda: dialog.checks() is not None)
    assert "already exists" in dialog.error.text() and dialog.error.styleSheet() == error_style()


def test_cancel_from_the_job_panel_keeps_the_source_running(open_window, node_uri, make_node, qtbot):
    src = f"{node_uri}?rate=256"  # web01's 2 GiB take ~8 s: time to watch the figures and cancel
    dest = make_node(0)
    window = open_window(src, dest)
    dialog = ask(window, qtbot, src, "web01")
    dialog.start.click()
    qtbot.waitUntil(lambda: only_job(window, src, JobOperation.MIGRATION_OUT) is not None)
    out = only_job(window, src, JobOperation.MIGRATION_OUT)
    qtbot.waitUntil(lambda: all(w in out.texts[JobCol.DETAILS] for w in ("left", "dirtying", "downtime")),
                    timeout=5000)
    qtbot.waitUntil(lambda: only_job(window, dest, JobOperation.MIGRATION_IN) is not None)
    incoming = only_job(window, dest, JobOperation.MIGRATION_IN)
    button = window.job_panel.cancel_button(incoming.key)
    assert not button.isEnabled() and "cancelled on its source" in button.toolTip()
    cancel = window.findChild(QToolButton, f"cancelJob_{out.key[1]}")
    assert cancel is window.job_panel.cancel_button(out.key) and cancel.isEnabled()
    cancel.click()
    qtbot.waitUntil(lambda: out.info.state is JobState.CANCELLED, timeout=5000)
    source = window.session.bridge.connection(src).lookup_by_name("web01")
    qtbot.waitUntil(lambda: source.state()[0] == DomainState.RUNNING)
    bar = window.findChild(QProgressBar, f"jobProgress_{out.key[1]}")
    qtbot.waitUntil(lambda: "cancelled" in bar.format())


def test_offline_mode_and_its_flags(qtbot):
    """A shut-off persistent domain where both ends can: definition only, always persistent."""
    feats = frozenset({Feature.MIGRATION_V3, Feature.MIGRATION_OFFLINE})
    facts = Facts(("a", "u1"), "cold", "b", DomainState.SHUTOFF, True, feats, feats, disks={"/img/c.qcow2": True})
    check = evaluate(facts)
    assert check.mode is Mode.OFFLINE and check.level is Level.OK
    dialog = MigrateDialog(["cold"], ["b"], any_running=False)
    qtbot.addWidget(dialog)
    dialog.set_checks("b", [check])
    assert dialog.start.isEnabled() and dialog.offline_note.isVisibleTo(dialog)
    assert not dialog.persist.isEnabled() and not dialog.live.isEnabled() and not dialog.live.isChecked()
    assert dialog.flags(check) == MigrateFlags.OFFLINE | MigrateFlags.PERSIST_DEST
    dialog.undefine.setChecked(True)
    assert dialog.flags(check) == MigrateFlags.OFFLINE | MigrateFlags.PERSIST_DEST | MigrateFlags.UNDEFINE_SOURCE


def test_check_rules_as_plain_data():
    v3 = frozenset({Feature.MIGRATION_V3, Feature.MIGRATION_V2})
    base = dict(key=("a", "u1"), name="web01", dest="b", state=DomainState.RUNNING, persistent=True,
                src_features=v3, dest_features=v3)
    assert evaluate(Facts(**base)).level is Level.OK
    unknown = evaluate(Facts(**base, disks={"/srv/a.qcow2": None}))
    assert unknown.level is Level.WARNING and "cannot tell whether the destination b sees /srv/a.qcow2" in \
        [f.text for f in unknown.findings]
    same_uuid = evaluate(Facts(**base, dest_uuid="u1", dest_active=True))
    assert same_uuid.reasons() == ["web01 is already running on b"]
    assert evaluate(Facts(**base, peer_ok=False)).reasons() == ["a and b run different kinds of hypervisor"]
    v2 = {**base, "dest_features": frozenset({Feature.MIGRATION_V2})}
    assert any("protocol V2" in f.text for f in evaluate(Facts(**v2)).findings)
    gone = evaluate(Facts(**base, error="the destination b is not connected"))
    assert gone.blocked and gone.mode is Mode.NONE


def test_unticking_live_pauses_the_guest_during_the_copy(open_window, node_uri, make_node, qtbot):
    from drivers.flags import PausedReason
    src = f"{node_uri}?rate=256"
    dest = make_node(0)
    window = open_window(src, dest)
    dialog = ask(window, qtbot, src, "web01")
    dialog.live.setChecked(False)
    dialog.start.click()
    source = window.session.bridge.connection(src).lookup_by_name("web01")
    qtbot.waitUntil(lambda: only_job(window, src, JobOperation.MIGRATION_OUT) is not None)
    out = only_job(window, src, JobOperation.MIGRATION_OUT)
    # paused from the start of the copy (a live one pauses only at the switch-over, seconds later)
    qtbot.waitUntil(lambda: source.state() == (DomainState.PAUSED, PausedReason.MIGRATION), timeout=2000)
    assert not out.info.finished
    window.session.cancel_job(*out.key)
    qtbot.waitUntil(lambda: out.info.state is JobState.CANCELLED, timeout=5000)
    qtbot.waitUntil(lambda: source.state()[0] == DomainState.RUNNING)  # and running again after the cancel


def test_a_guest_whose_live_copy_would_lose_writes_moves_paused_and_the_dialog_says_why(qtbot):
    v3 = frozenset({Feature.MIGRATION_V3})
    why = "QEMU 7.2.22 under TCG emulation loses guest memory writes (fixed in QEMU 9.0)"
    unsafe = evaluate(Facts(("a", "u1"), "web01", "b", DomainState.RUNNING, True, v3, v3, live_problem=why))
    assert unsafe.level is Level.WARNING and not unsafe.blocked and unsafe.live_problem == why
    assert f"web01 moves paused, not live: {why}" in [f.text for f in unsafe.findings]
    dialog = MigrateDialog(["web01", "db01"], ["b"])
    qtbot.addWidget(dialog)
    assert dialog.live.isChecked()
    dialog.set_checks("b", [unsafe])
    assert dialog.start.isEnabled() and not dialog.live.isChecked() and not dialog.live.isEnabled()
    assert dialog.live.toolTip() == f"Not available: {why}."
    assert dialog.flags(unsafe) == MigrateFlags.PERSIST_DEST  # asked paused, as the driver would copy it
    # a selection where another guest can copy live: Live is the user's choice again, for that guest
    safe = evaluate(Facts(("a", "u2"), "db01", "b", DomainState.RUNNING, True, v3, v3))
    dialog.set_checks("b", [unsafe, safe])
    assert dialog.live.isEnabled() and dialog.live.isChecked() and not dialog.live.toolTip()
    assert dialog.flags(safe) == MigrateFlags.LIVE | MigrateFlags.PERSIST_DEST
    assert dialog.flags(unsafe) == MigrateFlags.PERSIST_DEST
