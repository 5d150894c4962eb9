"""Which actions are enabled, per domain state and connection feature: plain data, no widgets."""
from __future__ import annotations

import pytest

from drivers import DomainRecord, DomainState, Feature, JobInfo, JobOperation, JobState, JobType
from vmgui.actions import SPECS
from vmgui.models.actions import Selected, compute, migration_targets

ALL = frozenset(Feature)
BASIC = frozenset({Feature.DEFINE})
NO_VIEWER: tuple = ()
REMOTE_VIEWER = (("remote-viewer", "/usr/bin/remote-viewer"),)


def rec(state: DomainState, *, persistent: bool = True, name: str = "vm") -> DomainRecord:
    active = state != DomainState.SHUTOFF
    return DomainRecord(name, f"uuid-{name}", 1 if active else None, state, 0, persistent, False, False, 0,
                        1024, 1024, 1, 0)


def enabled(states: dict) -> set[str]:
    return {name for name, st in states.items() if st.enabled}


@pytest.mark.parametrize(("state", "expected"), [
    (DomainState.RUNNING, {"pause", "shutdown", "reboot", "reset", "force_off", "save", "snapshot", "backup", "migrate",
                           "console", "snapshots", "delete", "graphical_console", "external_viewer", "backups",
                           "clone"}),
    (DomainState.PAUSED, {"resume", "reset", "force_off", "save", "snapshot", "backup", "migrate", "snapshots",
                          "delete", "graphical_console", "external_viewer", "backups", "clone"}),
    (DomainState.SHUTOFF, {"start", "snapshot", "delete", "snapshots", "migrate", "backups",  # migrate: offline
                           "clone"}),
    (DomainState.CRASHED, {"force_off", "snapshot", "backup", "migrate", "snapshots", "delete",
                           "graphical_console", "external_viewer", "backups", "clone"}),
])
def test_actions_follow_the_domain_state(state, expected):
    features = {"a": ALL, "b": ALL}
    states = compute([Selected("a", rec(state))], features, REMOTE_VIEWER)
    assert enabled(states) - {"new_vm"} == expected


def test_features_gate_actions_and_the_tooltip_says_why():
    states = compute([Selected("a", rec(DomainState.RUNNING))], {"a": BASIC}, NO_VIEWER)
    # the display window draws the screen itself: it needs no viewer, unlike the external one
    assert enabled(states) == {"new_vm", "pause", "shutdown", "reboot", "reset", "force_off", "delete",
                               "graphical_console"}
    assert "no VNC viewer is installed" in states["external_viewer"].reason
    assert "does not support backups" in states["backup"].reason
    assert "does not support saving" in states["save"].reason
    assert "cannot migrate" in states["migrate"].reason


def test_migrate_needs_another_connection_sharing_a_protocol():
    one = {"a": ALL}
    assert "no other open connection" in compute([Selected("a", rec(DomainState.RUNNING))], one)["migrate"].reason
    v2_only = frozenset({Feature.MIGRATION_V2})
    assert migration_targets("a", {"a": ALL, "b": v2_only, "c": BASIC}) == ["b"]


def test_a_running_job_blocks_state_changes_but_not_force_off():
    job = JobInfo(7, "vm", JobOperation.BACKUP, JobType.BOUNDED, JobState.RUNNING, 0, 1, None, 0, 10, None, None)
    states = compute([Selected("a", rec(DomainState.RUNNING), job=job)], {"a": ALL, "b": ALL}, REMOTE_VIEWER)
    assert enabled(states) == {"new_vm", "force_off", "console", "snapshots", "graphical_console",  # looking
                               "external_viewer", "backups"}
    assert "backup job 7 is running" in states["pause"].reason


def test_bulk_applies_to_the_domains_that_allow_it():
    sel = [Selected("a", rec(DomainState.RUNNING, name="r")), Selected("a", rec(DomainState.SHUTOFF, name="s")),
           Selected("a", rec(DomainState.SHUTOFF, name="t"))]
    states = compute(sel, {"a": ALL})
    assert states["start"].targets == (1, 2) and "2 of 3" in states["start"].reason
    assert states["pause"].targets == (0,)


def test_nothing_selected_or_not_connected():
    states = compute([], {"a": ALL})
    assert enabled(states) == {"new_vm"}
    assert "Select one or more domains" in states["start"].reason
    states = compute([Selected("a", rec(DomainState.SHUTOFF))], {"a": frozenset()})
    assert enabled(states) == set() and "not connected" in states["start"].reason


def test_shutdown_tooltip_warns_about_guests_without_an_agent_or_acpi():
    states = compute([Selected("a", rec(DomainState.RUNNING))], {"a": ALL})
    reason = states["shutdown"].reason
    assert "guest agent" in reason and "ACPI power button" in reason and "use Force Off then" in reason


def test_transient_domains_cannot_be_saved_or_deleted():
    states = compute([Selected("a", rec(DomainState.RUNNING, persistent=False))], {"a": ALL, "b": ALL})
    assert not states["save"].enabled and "transient" in states["save"].reason
    assert not states["delete"].enabled
    assert set(states) == set(SPECS)


def test_offline_migration_of_a_shut_off_domain_where_both_ends_support_it():
    online_only = frozenset(ALL - {Feature.MIGRATION_OFFLINE})
    off = [Selected("a", rec(DomainState.SHUTOFF))]
    assert compute(off, {"a": ALL, "b": ALL})["migrate"].enabled
    assert "offline migration" in compute(off, {"a": ALL, "b": ALL})["migrate"].reason
    why = compute(off, {"a": online_only, "b": ALL})["migrate"].reason
    assert "'vm' is shut off, and a cannot migrate a definition offline" in why
    why = compute(off, {"a": ALL, "b": online_only})["migrate"].reason
    assert "no open destination accepts an offline migration" in why
    transient = [Selected("a", rec(DomainState.SHUTOFF, persistent=False))]
    assert "is not running" in compute(transient, {"a": ALL, "b": ALL})["migrate"].reason


def test_the_external_viewer_names_the_viewer_or_says_why_not(monkeypatch):
    from vmgui.models import vnc
    running = [Selected("qemu:///embed", rec(DomainState.RUNNING))]
    features = {"qemu:///embed": ALL}
    state = compute(running, features, REMOTE_VIEWER)["external_viewer"]
    assert state.enabled and state.reason == "Open the graphical console in remote-viewer"
    assert "no VNC viewer is installed" in compute(running, features, NO_VIEWER)["external_viewer"].reason
    off = compute([Selected("qemu:///embed", rec(DomainState.SHUTOFF))], features, REMOTE_VIEWER)
    assert "'vm' is not running" in off["external_viewer"].reason
    remote = "qemu+ssh://admin@far.example/system"
    why = compute([Selected(remote, rec(DomainState.RUNNING))], {remote: ALL}, REMOTE_VIEWER)
    assert "runs on another machine: only virt-viewer" in why["external_viewer"].reason
    virt = (("virt-viewer", "/usr/bin/virt-viewer"),) + REMOTE_VIEWER
    state = compute([Selected(remote, rec(DomainState.RUNNING))], {remote: ALL}, virt)["external_viewer"]
    assert state.enabled and state.reason.endswith("in virt-viewer")
    monkeypatch.setattr(vnc, "_WITHOUT_VNC", {("qemu:///embed", "uuid-vm")})
    why = compute(running, features, REMOTE_VIEWER)["external_viewer"].reason
    assert "has no VNC graphics" in why


@pytest.mark.parametrize(("running", "expected"), [(False, {"delete"}), (True, {"force_off", "delete"})])
def test_a_broken_domain_offers_only_its_ways_out_and_says_why_not_the_rest(running, expected):
    from drivers.flags import NostateReason
    broken = rec(DomainState.NOSTATE)._replace(id=7 if running else None, reason=NostateReason.BROKEN,
                                               problem="domain.xml is truncated (40 bytes): Premature end of data.")
    states = compute([Selected("a", broken)], {"a": ALL, "b": ALL}, REMOTE_VIEWER)
    assert enabled(states) - {"new_vm"} == expected
    assert "'vm' is broken: domain.xml is truncated (40 bytes)" in states["start"].reason
    # a running domain whose definition on disk is damaged is not broken: it is managed as usual
    damaged = rec(DomainState.RUNNING)._replace(problem="domain.xml is empty.")
    assert "shutdown" in enabled(compute([Selected("a", damaged)], {"a": ALL}, REMOTE_VIEWER))
