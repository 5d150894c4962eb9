"""Backup schedules without waiting: next run times (daily, weekly, across DST changes), catch-up once, storage."""
from __future__ import annotations

import json
import os
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from refusals import refused

from drivers import ErrorCode
from vmgui.models.backupschedule import Schedule, ScheduleStore, due_at, is_due, next_run, ran
from vmgui.textmark import Text

BERLIN = ZoneInfo("Europe/Berlin")


def _t(text: str, tz: ZoneInfo = BERLIN, fold: int = 0) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz, fold=fold).timestamp()


def _local(ts: float) -> str:
    return datetime.fromtimestamp(ts, BERLIN).isoformat()


def test_a_daily_schedule_runs_next_at_its_time_today_or_else_tomorrow():
    daily = Schedule("daily", 14, 30, folder="/b")
    assert _local(next_run(daily, _t("2026-12-07T09:00:00"), BERLIN)) == "2026-12-07T14:30:00+01:00"
    assert _local(next_run(daily, _t("2026-12-07T14:30:00"), BERLIN)) == "2026-12-08T14:30:00+01:00"
    assert _local(next_run(daily, _t("2026-12-31T23:59:00"), BERLIN)) == "2027-01-01T14:30:00+01:00"


def test_a_weekly_schedule_runs_on_its_weekday_only():
    friday = Schedule("weekly", 8, 0, weekday=4, folder="/b")
    assert _local(next_run(friday, _t("2026-12-07T09:00:00"), BERLIN)) == "2026-12-11T08:00:00+01:00"  # a Monday
    assert _local(next_run(friday, _t("2026-12-11T07:59:59"), BERLIN)) == "2026-12-11T08:00:00+01:00"
    assert _local(next_run(friday, _t("2026-12-11T08:00:00"), BERLIN)) == "2026-12-18T08:00:00+01:00"


def test_across_dst_changes_the_wall_clock_time_holds_and_a_doubled_hour_runs_once():
    daily = Schedule("daily", 2, 30, folder="/b")
    # spring: 2026-03-29 has no 02:30 in Berlin; the run is at the instant of 03:30 summer time
    spring = next_run(daily, _t("2026-03-29T00:00:00"), BERLIN)
    assert _local(spring) == "2026-03-29T03:30:00+02:00"
    assert _local(next_run(daily, spring, BERLIN)) == "2026-03-30T02:30:00+02:00"
    # autumn: 2026-10-25 shows 02:30 twice; the run is at the first, and the second is no run
    autumn = next_run(daily, _t("2026-10-25T00:00:00"), BERLIN)
    assert autumn == _t("2026-10-25T02:30:00", fold=0) and _local(autumn) == "2026-10-25T02:30:00+02:00"
    assert _local(next_run(daily, autumn, BERLIN)) == "2026-10-26T02:30:00+01:00"
    assert next_run(daily, autumn + 1, BERLIN) == _t("2026-10-26T02:30:00")
    # a day is 23 or 25 hours then: the run times are not 24 hours apart
    assert next_run(daily, autumn, BERLIN) - autumn == 25 * 3600


def test_the_machines_own_zone_is_used_without_one_given(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        daily = Schedule("daily", 2, 30, folder="/b")
        ny = ZoneInfo("America/New_York")
        assert next_run(daily, _t("2026-03-08T00:00:00", ny)) == next_run(daily, _t("2026-03-08T00:00:00", ny), ny)
        assert next_run(daily, _t("2026-11-01T00:00:00", ny)) == _t("2026-11-01T02:30:00", ny)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_a_missed_run_is_due_once_at_the_next_start_not_once_per_missed_day():
    daily = Schedule("daily", 2, 0, folder="/b", since=_t("2026-12-01T12:00:00"))
    assert not is_due(daily, _t("2026-12-02T01:59:00"), BERLIN)
    assert is_due(daily, _t("2026-12-02T02:00:00"), BERLIN)
    week_later = _t("2026-12-09T10:00:00")  # the app was closed for a week
    assert is_due(daily, week_later, BERLIN)
    after = ran(daily, week_later)
    assert not is_due(after, week_later, BERLIN) and not is_due(after, _t("2026-12-10T01:59:59"), BERLIN)
    assert _local(due_at(after, BERLIN)) == "2026-12-10T02:00:00+01:00"
    assert is_due(after, _t("2026-12-10T02:00:00"), BERLIN)


def test_schedules_are_stored_per_vm_atomically_and_a_bad_one_is_refused(tmp_path):
    path = str(tmp_path / "cfg" / "backup-schedules.json")
    store = ScheduleStore(path)
    weekly = Schedule("weekly", 23, 15, weekday=6, folder="/backups", keep_last=4, since=5.0)
    store.put("qemu:///embed", "u-1", weekly)
    store.put("test:///default", "u-2", Schedule(folder="/other"))
    again = ScheduleStore(path)
    assert again.get("qemu:///embed", "u-1") == weekly
    assert sorted(k for k, _ in again.items()) == [("qemu:///embed", "u-1"), ("test:///default", "u-2")]
    assert weekly.describe() == "Every Sunday at 23:15 into /backups; keep the newest 4"
    again.put("test:///default", "u-2", None)
    assert ScheduleStore(path).get("test:///default", "u-2") is None
    assert sorted(os.listdir(tmp_path / "cfg")) == ["backup-schedules.json"]
    with refused(ErrorCode.INVALID_ARG, "absolute path"):
        store.put("qemu:///embed", "u-1", Schedule(folder="backups"))
    with refused(ErrorCode.INVALID_ARG, "not a time of day"):
        store.put("qemu:///embed", "u-1", Schedule(hour=24, folder="/b"))
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"qemu:///embed u-1": {"period": "monthly", "folder": "/b"}}, fh)
    with refused(ErrorCode.INVALID_ARG, "Choose daily or weekly"):
        ScheduleStore(path)


@pytest.mark.parametrize(("keep_last", "keep_days", "rule"), [
    (None, None, "keep every backup"),
    (1, None, "keep the newest 1"),
    (None, 1, "keep those of the last 1 day"),
    (3, 7, "keep the newest 3 and those of the last 7 days"),
])
def test_the_retention_rule_is_said_in_the_schedules_own_words(keep_last, keep_days, rule):
    schedule = Schedule(folder="/backups", keep_last=keep_last, keep_days=keep_days)
    assert schedule.describe() == f"Every day at 02:00 into /backups; {rule}"
    assert rule == schedule.retention.describe().lower()  # the driver core's English, word for word


def test_a_retention_rule_the_driver_core_refuses_is_named_in_the_schedules_own_words():
    for keep_last, keep_days in ((0, None), (None, 0), (0, 0), (2, 0)):
        schedule = Schedule(folder="/backups", keep_last=keep_last, keep_days=keep_days)
        why = schedule.problem()
        assert isinstance(why, Text) and why == schedule.retention.problem()  # its English, word for word
    assert Schedule(folder="/backups", keep_last=1, keep_days=1).problem() is None


@pytest.mark.parametrize("text", ["{", "[]"])
def test_an_unreadable_schedules_file_is_named(tmp_path, text):
    path = tmp_path / "backup-schedules.json"
    path.write_text(text)
    with refused(ErrorCode.INVALID_ARG, str(path)):
        ScheduleStore(str(path))
