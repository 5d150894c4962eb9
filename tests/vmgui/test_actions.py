"""Which actions are enabled, per domain state and connection feature: plain data, no widgets."""
from __future__ import annotations

import pytest

from drivers import DomainRecord, DomainState, Feature, JobOperation, JobState, JobType, JobInfo

from vmgui.models.actions import ACTIONS, Selected, compute, migration_targets

ALL = frozenset(Feature)
BASIC = frozenset({Feature.DEFINE})


def rec(state: DomainState, *, persistent: bool = True, name: str = "vm") -> DomainRecord:
    active = state != DomainState.SHUTOFF
    return DomainRecord(name, f"uuid-{name}", 1 if active else None, state, 0, persistent, False, False, 0,
                        1024, 1024, 1, 0)


def enabled(states: dict) -> set[str]:
    return {name for name, st in states.items() if st.enabled}


@pytest.mark.parametrize(("state", "expected"), [
    (DomainState.RUNNING, {"pause", "shutdown", "reboot", "force_off", "save", "snapshot", "backup", "migrate",
                           "console", "snapshots", "delete"}),
    (DomainState.PAUSED, {"resume", "force_off", "save", "snapshot", "backup", "migrate", "snapshots", "delete"}),
    (DomainState.SHUTOFF, {"start", "snapshot", "delete", "snapshots"}),
    (DomainState.CRASHED, {"force_off", "snapshot", "backup", "migrate", "snapshots", "delete"}),
])
def test_actions_follow_the_domain_state(state, expected):
    features = {"a": ALL, "b": ALL}
    states = compute([Selected("a", rec(state))], features)
    assert enabled(states) - {"new_vm"} == expected


def test_features_gate_actions_and_the_tooltip_says_why():
    states = compute([Selected("a", rec(DomainState.RUNNING))], {"a": BASIC})
    assert enabled(states) == {"new_vm", "pause", "shutdown", "reboot", "force_off", "delete"}
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
    states = compute([Selected("a", rec(DomainState.RUNNING), job=job)], {"a": ALL, "b": ALL})
    assert enabled(states) == {"new_vm", "force_off", "console", "snapshots"}  # looking is harmless
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


def test_shutdown_tooltip_warns_about_guests_without_acpi():
    states = compute([Selected("a", rec(DomainState.RUNNING))], {"a": ALL})
    assert "without ACPI ignores it" in states["shutdown"].reason


def test_transient_domains_cannot_be_saved_or_deleted():
    states = compute([Selected("a", rec(DomainState.RUNNING, persistent=False))], {"a": ALL, "b": ALL})
    assert not states["save"].enabled and "transient" in states["save"].reason
    assert not states["delete"].enabled
    assert set(states) == set(ACTIONS)
