"""Schedules across daylight-saving changes: no day skipped or doubled, each wall time firing once.

The rule: a wall time that does not exist (spring forward) is moved later by the length of the gap, so 02:30
becomes 03:30 and 02:00 becomes 03:00; a wall time that happens twice (fall back) fires at its first occurrence.

The changes used, worked out by hand:
- Europe/Paris 2026-03-29: at 01:00 UTC, 02:00 CET (+01) jumps to 03:00 CEST (+02).
- Europe/Paris 2026-10-25: at 01:00 UTC, 03:00 CEST goes back to 02:00 CET, so 02:00-02:59 happens twice.
- America/New_York 2026-03-08: at 07:00 UTC, 02:00 EST (-05) jumps to 03:00 EDT (-04).
- America/New_York 2026-11-01: at 06:00 UTC, 02:00 EDT goes back to 01:00 EST, so 01:00-01:59 happens twice.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from flowyard_spec.schedules import parse_expression

UTC = timezone.utc


def fire_times(expression: str, tz: str, after: str, count: int) -> list[str]:
    """The next fire times as ISO 8601 UTC strings."""
    start = datetime.fromisoformat(after)
    times = parse_expression(expression).next_fire_times(start, count, tz)
    return [moment.strftime("%Y-%m-%dT%H:%MZ") for moment in times]


def fires_on_local_day(expression: str, tz: str, day: date) -> list[datetime]:
    """Every fire time whose local date (in tz) is `day`."""
    zone = ZoneInfo(tz)
    start = datetime(day.year, day.month, day.day, tzinfo=zone) - timedelta(days=1)
    times = parse_expression(expression).next_fire_times(start, 3000, tz)
    return [moment for moment in times if moment.astimezone(zone).date() == day]


DAILY_0230 = [
    # (timezone, days around the change, expected UTC instants)
    ("Europe/Paris", "2026-03-27T12:00:00+00:00",
     ["2026-03-28T01:30Z", "2026-03-29T01:30Z", "2026-03-30T00:30Z"]),  # 02:30 CET, 03:30 CEST (moved), 02:30 CEST
    ("Europe/Paris", "2026-10-23T12:00:00+00:00",
     ["2026-10-24T00:30Z", "2026-10-25T00:30Z", "2026-10-26T01:30Z"]),  # 02:30 CEST, first 02:30 (CEST), 02:30 CET
    ("America/New_York", "2026-03-06T12:00:00+00:00",
     ["2026-03-07T07:30Z", "2026-03-08T07:30Z", "2026-03-09T06:30Z"]),  # 02:30 EST, 03:30 EDT (moved), 02:30 EDT
    ("America/New_York", "2026-10-30T12:00:00+00:00",
     ["2026-10-31T06:30Z", "2026-11-01T07:30Z", "2026-11-02T07:30Z"]),  # 02:30 EDT, 02:30 EST (exists once), EST
]


@pytest.mark.parametrize("expression", ["cron(30 2 * * ? *)", "30 2 * * *"])
@pytest.mark.parametrize(("tz", "after", "expected"), DAILY_0230)
def test_a_daily_0230_job_fires_once_a_day_at_the_right_instant_across_the_change(expression, tz, after, expected):
    assert fire_times(expression, tz, after, 3) == expected


@pytest.mark.parametrize(("tz", "day"), [
    ("Europe/Paris", date(2026, 3, 29)), ("Europe/Paris", date(2026, 10, 25)),
    ("America/New_York", date(2026, 3, 8)), ("America/New_York", date(2026, 11, 1)),
])
@pytest.mark.parametrize("expression", ["cron(30 2 * * ? *)", "30 2 * * *", "cron(0 2 * * ? *)", "30 1 * * *"])
def test_a_daily_job_fires_exactly_once_on_the_day_of_the_change(tz, day, expression):
    assert len(fires_on_local_day(expression, tz, day)) == 1


def test_a_daily_0200_job_in_paris_fires_at_0300_local_when_0200_does_not_exist():
    assert fire_times("cron(0 2 * * ? *)", "Europe/Paris", "2026-03-28T12:00:00+00:00", 2) == [
        "2026-03-29T01:00Z", "2026-03-30T00:00Z"]


def test_a_0130_job_in_new_york_fires_at_the_first_of_the_two_0130s():
    assert fire_times("30 1 * * *", "America/New_York", "2026-10-31T12:00:00+00:00", 2) == [
        "2026-11-01T05:30Z", "2026-11-02T06:30Z"]  # 01:30 EDT, not also 01:30 EST (06:30Z)


HOURLY = [
    # spring forward: 02:30 moves onto 03:30, which fires once; the instants stay one hour apart
    ("30 * * * *", "Europe/Paris", "2026-03-28T22:00:00+00:00",
     ["2026-03-28T22:30Z", "2026-03-28T23:30Z", "2026-03-29T00:30Z", "2026-03-29T01:30Z", "2026-03-29T02:30Z"]),
    ("cron(0 * * * ? *)", "America/New_York", "2026-03-08T05:00:00+00:00",
     ["2026-03-08T06:00Z", "2026-03-08T07:00Z", "2026-03-08T08:00Z"]),  # 01:00 EST, 03:00 EDT, 04:00 EDT
    # fall back: the repeated hour fires at its first occurrence only
    ("30 * * * *", "Europe/Paris", "2026-10-24T22:00:00+00:00",
     ["2026-10-24T22:30Z", "2026-10-24T23:30Z", "2026-10-25T00:30Z", "2026-10-25T02:30Z"]),
    ("cron(30 * * * ? *)", "America/New_York", "2026-11-01T04:00:00+00:00",
     ["2026-11-01T04:30Z", "2026-11-01T05:30Z", "2026-11-01T07:30Z"]),  # 00:30 EDT, 01:30 EDT, 02:30 EST
]


@pytest.mark.parametrize(("expression", "tz", "after", "expected"), HOURLY)
def test_an_hourly_job_neither_doubles_nor_skips_a_wall_clock_hour(expression, tz, after, expected):
    assert fire_times(expression, tz, after, len(expected)) == expected


@pytest.mark.parametrize(("tz", "day", "hours"), [
    ("Europe/Paris", date(2026, 3, 29), 23), ("Europe/Paris", date(2026, 10, 25), 24),
    ("America/New_York", date(2026, 3, 8), 23), ("America/New_York", date(2026, 11, 1), 24),
])
def test_an_hourly_job_fires_once_per_wall_clock_hour_on_the_day_of_the_change(tz, day, hours):
    fires = fires_on_local_day("0 * * * *", tz, day)
    local_hours = sorted({moment.astimezone(ZoneInfo(tz)).hour for moment in fires})
    assert len(fires) == hours == len(local_hours)  # spring day: 23 hours exist; fall day: 24 distinct wall hours


@pytest.mark.parametrize("tz", ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "UTC"])
def test_fire_times_are_strictly_increasing_across_a_whole_year_of_changes(tz):
    times = parse_expression("*/30 * * * *").next_fire_times(datetime(2026, 1, 1, tzinfo=UTC), 17_600, tz)
    assert all(earlier < later for earlier, later in zip(times, times[1:]))
    assert times[-1] > datetime(2027, 1, 1, tzinfo=UTC)


def test_a_weekly_job_keeps_its_local_time_after_the_change():
    assert fire_times("cron(0 9 ? * MON *)", "Europe/Paris", "2026-03-20T00:00:00+00:00", 2) == [
        "2026-03-23T08:00Z", "2026-03-30T07:00Z"]  # 09:00 CET, then 09:00 CEST
