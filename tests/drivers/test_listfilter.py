"""The list filter obeys libvirt's filter rules (virConnectListAllDomains) for every flag combination."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import drivers
from drivers import DomainState, ListFlags
from drivers.listfilter import compile_filter
from drivers.records import filter_bits

STATES = [DomainState.RUNNING, DomainState.PAUSED, DomainState.SHUTOFF, DomainState.CRASHED,
          DomainState.PMSUSPENDED, DomainState.SHUTDOWN, DomainState.BLOCKED, DomainState.NOSTATE]


def brute_force(flags: int, active: bool, persistent: bool, state: DomainState, managed_save: bool,
                autostart: bool, snapshots: bool) -> bool:
    """libvirt's documented rule, read literally: each group filters only when one of its bits is set."""
    F = ListFlags

    def group(bits: list[tuple[int, bool]]) -> bool:
        chosen = [pred for bit, pred in bits if flags & bit]
        return not chosen or any(chosen)

    other = state not in (DomainState.RUNNING, DomainState.PAUSED, DomainState.SHUTOFF)
    return (group([(F.ACTIVE, active), (F.INACTIVE, not active)])
            and group([(F.PERSISTENT, persistent), (F.TRANSIENT, not persistent)])
            and group([(F.RUNNING, state == DomainState.RUNNING), (F.PAUSED, state == DomainState.PAUSED),
                       (F.SHUTOFF, state == DomainState.SHUTOFF), (F.OTHER, other)])
            and group([(F.MANAGEDSAVE, managed_save), (F.NO_MANAGEDSAVE, not managed_save)])
            and group([(F.AUTOSTART, autostart), (F.NO_AUTOSTART, not autostart)])
            and group([(F.HAS_SNAPSHOT, snapshots), (F.NO_SNAPSHOT, not snapshots)]))


@settings(max_examples=3000, deadline=None)
@given(flags=st.integers(0, (1 << 14) - 1), active=st.booleans(), persistent=st.booleans(),
       state=st.sampled_from(STATES), managed_save=st.booleans(), autostart=st.booleans(),
       snapshots=st.booleans())
def test_filter_equals_brute_force(flags, active, persistent, state, managed_save, autostart, snapshots):
    bits = filter_bits(active, persistent, state, managed_save, autostart, snapshots)
    assert compile_filter(flags)(bits) == brute_force(flags, active, persistent, state, managed_save,
                                                      autostart, snapshots)


def test_a_full_group_is_the_same_as_an_empty_one():
    full_state = ListFlags.RUNNING | ListFlags.PAUSED | ListFlags.SHUTOFF | ListFlags.OTHER
    for state in STATES:
        bits = filter_bits(True, True, state, False, False, False)
        assert compile_filter(full_state)(bits) and compile_filter(0)(bits)


@pytest.mark.parametrize("bad", [1 << 14, 1 << 20, -1, "x", 1.5j])
def test_unknown_bits_are_invalid_arg(conn, bad):
    with pytest.raises(drivers.DriverError) as info:
        conn.list_all_domains(bad)
    assert info.value.code is drivers.ErrorCode.INVALID_ARG


def test_impossible_combination_is_empty_not_an_error(conn):
    assert conn.list_all_domains(ListFlags.INACTIVE | ListFlags.TRANSIENT) == []
    assert conn.list_all_domains(ListFlags.ACTIVE | ListFlags.SHUTOFF) == []


@settings(max_examples=300, deadline=None)
@given(flags=st.integers(0, (1 << 14) - 1))
def test_driver_listing_equals_brute_force_over_domain_facts(flags):
    with drivers.open("test:///default") as conn:
        facts = {d.uuid: d for d in conn.get_all_domain_stats()}
        expected = sorted(u for u, r in facts.items() if brute_force(
            flags, r.id is not None, r.persistent, r.state, r.managed_save, r.autostart, r.snapshot_count > 0))
        assert sorted(d.uuid for d in conn.list_all_domains(flags)) == expected
        assert sorted(r.uuid for r in conn.get_all_domain_stats(flags)) == expected


def test_int_and_listflags_are_both_accepted(conn):
    assert conn.list_all_domains(int(ListFlags.RUNNING)) == conn.list_all_domains(ListFlags.RUNNING)


def test_a_broken_record_counts_as_other_and_reads_broken():
    from drivers import DomainRecord
    from drivers.flags import NostateReason, describe_state
    broken = DomainRecord("b", "u", None, DomainState.NOSTATE, NostateReason.BROKEN, True, False, False, 0, 0, 0, 0,
                          0, problem="domain.xml is empty.")
    assert broken.broken and broken.bits & ListFlags.OTHER and not broken.bits & ListFlags.SHUTOFF
    assert describe_state(broken.state, broken.reason) == "broken"
    assert not broken._replace(reason=0).broken  # NOSTATE alone is libvirt's "no state", not broken
