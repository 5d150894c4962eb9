"""The one table of actions as plain data, and every request it names run through the real bridge (test:///)."""
from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from jobwait import connection_job_end
from PySide6.QtGui import QAction, QKeySequence

import drivers
from drivers import DomainRecord, DomainState, EventType, Feature, JobInfo, JobOperation, JobState, JobType
from drivers.domxml import Disk, DomainXML
from vmgui.actions import (
    ACTION_OF,
    LAYOUT,
    MENU_ONLY,
    SPECS,
    ActionId,
    Asks,
    Context,
    Selected,
    compute,
    context_menu,
)
from vmgui.actions import requests as rq
from vmgui.bridge import Bridge
from vmgui.icons import RESOURCES

ROOT = Path(__file__).resolve().parents[2]
ALL = frozenset(Feature)
DOMAIN_ACTIONS = [i for i in ActionId if SPECS[i].host_rule is None]


def rec(state: DomainState, *, persistent: bool = True, name: str = "vm") -> DomainRecord:
    active = state != DomainState.SHUTOFF
    return DomainRecord(name, f"uuid-{name}", 1 if active else None, state, 0, persistent, False, False, 0,
                        1024, 1024, 1, 0)


def ctx(features: dict[str, frozenset[Feature]], viewer_problem: str | None = None) -> Context:
    """A context whose display viewer is found (or not, with ``viewer_problem``), as the window binds it."""
    return Context(features, lambda _uri, _key: viewer_problem, lambda _uri: "remote-viewer")


def enabled(selection: list[Selected], context: Context) -> set[ActionId]:
    return {i for i, state in compute(selection, context).items() if state.enabled}


# -- the table itself -----------------------------------------------------------------------------------------
def test_every_id_has_one_spec_in_enum_order():
    assert list(SPECS) == list(ActionId)
    assert all(spec.id is i for i, spec in SPECS.items())


def test_labels_and_object_names_are_distinct_and_a_label_is_no_object_name():
    labels = [s.label for s in SPECS.values()]
    names = [s.object_name for s in SPECS.values()]
    assert len(set(labels)) == len(labels) and len(set(names)) == len(names)
    for spec in SPECS.values():
        assert spec.label.strip() and spec.label[0].isupper() and spec.label != spec.object_name
        assert spec.object_name.startswith("action") and " " not in spec.object_name


def test_shortcuts_are_unique_ignoring_case_and_order_of_modifiers():
    def normal(shortcut: str) -> frozenset[str]:
        return frozenset(part.lower() for part in shortcut.split("+"))
    shortcuts = [normal(s.shortcut) for s in SPECS.values()]
    assert all(s.shortcut for s in SPECS.values())
    assert len(set(shortcuts)) == len(shortcuts)


def test_every_icon_is_a_file_in_resources():
    for spec in SPECS.values():
        assert (RESOURCES / "icons" / f"{spec.icon}.svg").is_file(), spec.icon


def test_descriptions_are_sentences_without_a_final_stop():
    """compute() appends ". Not possible: …" and ". Applies to …": a final stop would double it."""
    for spec in SPECS.values():
        assert spec.description[0].isupper() and not spec.description.endswith("."), spec.id


def test_layout_holds_every_action_once_and_the_context_menu_only_domain_actions():
    placed = [i for i in LAYOUT if i is not None]
    assert sorted(placed) == sorted(ActionId) and len(placed) == len(set(placed))
    menu = context_menu()
    assert [i for i in menu if i is not None] == [i for i in placed if i is not ActionId.NEW_VM]
    assert menu[0] is not None and menu[-1] is not None
    assert all(a is not None or b is not None for a, b in zip(menu, menu[1:], strict=False))  # no doubled separator
    assert context_menu([None, ActionId.NEW_VM, None, ActionId.START, None]) == [ActionId.START]


def test_what_an_action_asks_first_matches_what_it_runs():
    for spec in SPECS.values():
        assert (spec.asks is Asks.CONFIRM) == (spec.confirm is not None), spec.id
        if spec.asks in (Asks.NOTHING, Asks.CONFIRM):
            assert spec.request is not None and isinstance(spec.request(), rq.DomainRequest), spec.id
        if spec.asks is Asks.WINDOW:
            assert spec.request is None, spec.id
        if spec.confirm is not None:
            assert "{what}" in spec.confirm.question and spec.confirm.question.endswith(".")
            assert spec.confirm_name == f"confirm_{spec.id.value}"
    assert {i for i, s in SPECS.items() if s.confirm} == {ActionId.RESET, ActionId.FORCE_OFF}


def test_each_request_type_belongs_to_one_action_and_says_what_it_does():
    runs = {i: s.request for i, s in SPECS.items() if s.request is not None}
    assert {ACTION_OF[r]: r for r in runs.values()} == runs
    for request in (*runs.values(), rq.CreateSnapshot, rq.RevertSnapshot, rq.DeleteSnapshot):
        assert request.verb and request.verb[0].isupper()


def test_requests_a_guest_may_ignore_offer_the_hard_way():
    assert {i: s.fallback for i, s in SPECS.items() if s.fallback} == {
        ActionId.SHUTDOWN: ActionId.FORCE_OFF, ActionId.REBOOT: ActionId.RESET}


def test_the_package_needs_no_qt():
    code = "import sys, vmgui.actions; print(sorted(m for m in sys.modules if m.startswith('PySide6')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                         check=True)
    assert out.stdout.strip() == "[]"


# -- enabling rules over sample records ------------------------------------------------------------------------
@pytest.mark.parametrize(("state", "expected"), [
    (DomainState.RUNNING, set(DOMAIN_ACTIONS) - {ActionId.START, ActionId.RESUME}),
    (DomainState.PAUSED, {ActionId.RESUME, ActionId.RESET, ActionId.FORCE_OFF, ActionId.SAVE, ActionId.SNAPSHOT,
                          ActionId.BACKUP, ActionId.MIGRATE, ActionId.DELETE, ActionId.SNAPSHOTS,
                          ActionId.GRAPHICAL_CONSOLE, ActionId.EXTERNAL_VIEWER, ActionId.BACKUPS, ActionId.CLONE}),
    (DomainState.SHUTOFF, {ActionId.START, ActionId.SNAPSHOT, ActionId.MIGRATE, ActionId.DELETE,
                           ActionId.SNAPSHOTS, ActionId.BACKUPS,  # a shut-off VM's backups: to restore one
                           ActionId.CLONE}),
])
def test_each_state_enables_what_it_allows(state, expected):
    context = ctx({"a": ALL, "b": ALL})
    assert enabled([Selected("a", rec(state))], context) == expected | {ActionId.NEW_VM}
    for i in set(DOMAIN_ACTIONS) - expected:
        assert SPECS[i].why_not(Selected("a", rec(state)), context), i


def test_a_running_job_blocks_what_the_driver_refuses_meanwhile():
    job = JobInfo(7, "vm", JobOperation.BACKUP, JobType.BOUNDED, JobState.RUNNING, 0, 1, None, 0, 10, None, None)
    sel = Selected("a", rec(DomainState.RUNNING), job=job)
    allowed = {i for i in DOMAIN_ACTIONS if SPECS[i].why_not(sel, ctx({"a": ALL, "b": ALL})) is None}
    assert allowed == {i for i in DOMAIN_ACTIONS if not SPECS[i].job_blocks}
    assert allowed == {ActionId.FORCE_OFF, ActionId.CONSOLE, ActionId.SNAPSHOTS, ActionId.GRAPHICAL_CONSOLE,
                       ActionId.EXTERNAL_VIEWER, ActionId.BACKUPS}
    assert SPECS[ActionId.SAVE].why_not(sel, ctx({"a": ALL})) == "its backup job 7 is running"


@pytest.mark.parametrize(("feature", "action", "text"), [
    (Feature.MANAGED_SAVE, ActionId.SAVE, "saving"),
    (Feature.SNAPSHOTS, ActionId.SNAPSHOT, "snapshots"),
    (Feature.SNAPSHOTS, ActionId.SNAPSHOTS, "snapshots"),
    (Feature.BACKUP, ActionId.BACKUP, "backups"),
    (Feature.BACKUP, ActionId.BACKUPS, "backups"),
    (Feature.SERIAL_CONSOLE, ActionId.CONSOLE, "serial consoles"),
    (Feature.DEFINE, ActionId.DELETE, "defining and deleting domains"),
])
def test_a_missing_feature_disables_and_names_it(feature, action, text):
    context = ctx({"a": ALL - {feature}, "b": ALL})
    assert SPECS[action].why_not(Selected("a", rec(DomainState.RUNNING)), context) == f"a does not support {text}"
    state = compute([Selected("a", rec(DomainState.RUNNING, name="web01"))], context)[action]
    assert not state.enabled
    assert state.reason == f"{SPECS[action].description}. Not possible: 'web01' a does not support {text}"


def test_new_vm_needs_a_connection_that_defines_domains_not_a_selection():
    assert compute([], ctx({"a": ALL}))[ActionId.NEW_VM].enabled
    state = compute([], ctx({"a": ALL - {Feature.DEFINE}}))[ActionId.NEW_VM]
    assert not state.enabled and state.reason == "No open connection can define domains: connect to one first"


def test_the_external_viewer_needs_a_viewer_and_names_the_one_it_opens():
    sel = [Selected("a", rec(DomainState.RUNNING))]
    state = compute(sel, ctx({"a": ALL}))[ActionId.EXTERNAL_VIEWER]
    assert state.enabled and state.reason == "Open the graphical console in remote-viewer"
    state = compute(sel, ctx({"a": ALL}, "cannot be shown: no VNC viewer is installed"))[ActionId.EXTERNAL_VIEWER]
    assert not state.enabled and state.reason.endswith("'vm' cannot be shown: no VNC viewer is installed")


def test_the_display_window_needs_no_viewer():
    sel = [Selected("a", rec(DomainState.RUNNING))]
    state = compute(sel, ctx({"a": ALL}, "cannot be shown: no VNC viewer is installed"))[ActionId.GRAPHICAL_CONSOLE]
    assert state.enabled and state.reason == SPECS[ActionId.GRAPHICAL_CONSOLE].description


def test_not_connected_and_busy_come_before_anything_else():
    sel = Selected("a", rec(DomainState.SHUTOFF), busy=True)
    for i in DOMAIN_ACTIONS:
        assert SPECS[i].why_not(sel, ctx({"a": frozenset()})) == "its connection a is not connected"
        assert SPECS[i].why_not(sel, ctx({"a": ALL, "b": ALL})) == "is busy with another request"


# -- the window renders the table ---------------------------------------------------------------------------------
def test_toolbar_menus_and_shortcuts_come_from_the_table(open_window, node_uri):
    window = open_window(node_uri)
    for spec in SPECS.values():
        action = window.findChild(QAction, spec.object_name)
        assert action.text() == spec.label and action.shortcut() == QKeySequence(spec.shortcut)
        if spec.id in MENU_ONLY:
            assert window.toolbar.widgetForAction(action) is None, spec.id
        else:  # what a screen reader says
            assert window.toolbar.widgetForAction(action).accessibleName() == spec.label
    domain_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Domain")
    placed = [SPECS[i].object_name if i is not None else None for i in LAYOUT]
    assert [None if a.isSeparator() else a.objectName() for a in domain_menu.actions()] == placed
    in_menu = [None if a is None else a.objectName() for a in window.table._menu_actions]
    assert in_menu == [None if i is None else SPECS[i].object_name for i in context_menu()]
    shortcuts = [a.shortcut().toString() for a in window.findChildren(QAction) if not a.shortcut().isEmpty()]
    assert len(shortcuts) == len(set(shortcuts)), shortcuts  # Connect, Quit and Find clash with none
    assert set(window.commands.openers) == {i for i, s in SPECS.items() if s.asks in (Asks.DIALOG, Asks.WINDOW)}


# -- the bridge runs every request (test:/// driver) --------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    domain: str
    request: Callable[[Path, str], rq.DomainRequest]  # (tmp folder, destination uri) -> the request
    check: Callable[[drivers.Connection, drivers.Connection, Path, list[EventType]], bool]


def _state(conn: drivers.Connection, name: str) -> DomainState:
    return conn.lookup_by_name(name).state()[0]


def _snapshots(dom: drivers.Domain) -> set[str]:
    return {s.name for s in dom.list_all_snapshots()}


def _disk_owner(conn: drivers.Connection, tmp: Path) -> str:
    """A domain with a real disk file, for a delete that removes it."""
    disk = tmp / "owned.qcow2"
    disk.write_bytes(b"QFI\xfb data")
    xml = DomainXML.new("owner", 65536, 1)
    xml.add_disk(Disk("vda", source=str(disk), format="qcow2"))
    conn.define_xml(xml.to_string())
    return str(disk)


RUNS: dict[ActionId, Run] = {
    ActionId.START: Run("legacy-app", lambda _t, _d: rq.Start(),
                        lambda c, _d, _t, _e: _state(c, "legacy-app") is DomainState.RUNNING),
    ActionId.PAUSE: Run("web01", lambda _t, _d: rq.Pause(),
                        lambda c, _d, _t, _e: _state(c, "web01") is DomainState.PAUSED),
    ActionId.RESUME: Run("db01", lambda _t, _d: rq.Resume(),
                         lambda c, _d, _t, _e: _state(c, "db01") is DomainState.RUNNING),
    ActionId.SHUTDOWN: Run("web01", lambda _t, _d: rq.Shutdown(),
                           lambda c, _d, _t, e: EventType.SHUTDOWN in e and _state(c, "web01") is DomainState.SHUTOFF),
    ActionId.REBOOT: Run("web01", lambda _t, _d: rq.Reboot(),
                         lambda c, _d, _t, e: EventType.REBOOT in e and _state(c, "web01") is DomainState.RUNNING),
    ActionId.RESET: Run("web01", lambda _t, _d: rq.Reset(),
                        lambda c, _d, _t, e: EventType.REBOOT in e and _state(c, "web01") is DomainState.RUNNING),
    ActionId.FORCE_OFF: Run("web01", lambda _t, _d: rq.ForceOff(),
                            lambda c, _d, _t, _e: _state(c, "web01") is DomainState.SHUTOFF),
    ActionId.SAVE: Run("web01", lambda _t, _d: rq.Save(),
                       lambda c, _d, _t, _e: c.lookup_by_name("web01").has_managed_save()),
    ActionId.SNAPSHOT: Run("web01", lambda _t, _d: rq.Snapshot("named"),
                           lambda c, _d, _t, _e: "named" in _snapshots(c.lookup_by_name("web01"))),
    ActionId.BACKUP: Run("web01", lambda t, _d: rq.Backup(folder=str(t)),
                         lambda _c, _d, t, _e: [p.name[:9] for p in t.glob("*.qcow2")] == ["web01-vda"]),
    ActionId.MIGRATE: Run("web01", lambda _t, d: rq.Migrate(d, int(drivers.MigrateFlags.LIVE
                                                                 | drivers.MigrateFlags.PERSIST_DEST)),
                          lambda c, d, _t, _e: d.lookup_by_name("web01").is_active()
                          and not c.lookup_by_name("web01").is_active()),
    ActionId.DELETE: Run("owner", lambda t, _d: rq.Delete(files=(str(t / "owned.qcow2"),)),
                         lambda c, _d, t, _e: "owner" not in {x.name for x in c.list_all_domains()}
                         and not (t / "owned.qcow2").exists()),
    ActionId.CLONE: Run("owner", lambda _t, _d: rq.Clone("owner-copy"),
                        lambda c, _d, t, _e: "owner-copy" in {x.name for x in c.list_all_domains()}
                        and (t / "owner-copy-vda.qcow2").read_bytes() == (t / "owned.qcow2").read_bytes()),
}


def test_every_action_that_runs_something_has_a_bridge_run_here():
    assert set(RUNS) == {i for i, s in SPECS.items() if s.request is not None}


def _await(qtbot, coro):
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=30000)
    return task.result()


@pytest.fixture
def bridge(aloop, qtbot, node_uri, make_node):
    """A bridge with the demo host (fast jobs) and an empty destination open."""
    bridge = Bridge()
    src, dest = f"{node_uri}?rate=4096", make_node(0)
    _await(qtbot, bridge.open(src))
    _await(qtbot, bridge.open(dest))
    yield bridge, src, dest
    bridge.shutdown()


@pytest.mark.parametrize("action", list(RUNS))
def test_the_bridge_runs_the_request_of(action, bridge, qtbot, tmp_path):
    bridge, src, dest = bridge
    conn, dest_conn = bridge.connection(src), bridge.connection(dest)
    if action in (ActionId.DELETE, ActionId.CLONE):
        _disk_owner(conn, tmp_path)
    run = RUNS[action]
    request = run.request(tmp_path, dest)
    assert type(request) is SPECS[action].request
    events: list[EventType] = []
    conn.register_event_callback(lambda _c, _d, event: events.append(event.type))
    dom = conn.lookup_by_name(run.domain)
    job = _await(qtbot, bridge.run_action(src, dom.uuid, request, f"{request.verb} {run.domain}"))
    if job is not None:
        assert connection_job_end(conn, job).state is JobState.COMPLETED
    qtbot.waitUntil(lambda: run.check(conn, dest_conn, tmp_path, events), timeout=10000)


def test_the_snapshot_tree_requests_create_revert_and_delete(bridge, qtbot):
    bridge, src, _dest = bridge
    conn = bridge.connection(src)
    dom = conn.lookup_by_name("web01")
    before = _snapshots(dom)

    def run(request: rq.DomainRequest) -> None:
        job = _await(qtbot, bridge.run_action(src, dom.uuid, request, request.verb))
        if job is not None:
            assert connection_job_end(conn, job).state is JobState.COMPLETED
    run(rq.CreateSnapshot("<domainsnapshot><name>tree</name><description>a b</description></domainsnapshot>"))
    assert _snapshots(dom) == before | {"tree"}
    dom.suspend()
    run(rq.RevertSnapshot("tree"))
    assert dom.state()[0] is DomainState.RUNNING  # taken while running: the revert runs it again
    run(rq.DeleteSnapshot("tree"))
    assert _snapshots(dom) == before


def test_a_migration_to_a_connection_not_open_is_refused_by_name(bridge, qtbot):
    bridge, src, _dest = bridge
    dom = bridge.connection(src).lookup_by_name("web01")
    task = asyncio.ensure_future(bridge.run_action(src, dom.uuid, rq.Migrate("test:///nowhere"), "Migrating web01"))
    qtbot.waitUntil(task.done, timeout=30000)
    err = task.exception()
    assert isinstance(err, drivers.DriverError) and err.message == "destination test:///nowhere is not open"
    assert dom.is_active()


def test_clone_of_a_running_domain_needs_a_driver_that_copies_it_as_of_one_instant():
    running = Selected("a", rec(DomainState.RUNNING))
    clone = SPECS[ActionId.CLONE]
    assert clone.why_not(running, ctx({"a": ALL - {Feature.CLONE_RUNNING}})) == "is running: shut it down to clone it"
    assert clone.why_not(running, ctx({"a": ALL})) is None
    assert "does not support cloning" in clone.why_not(running, ctx({"a": ALL - {Feature.CLONE}}))
