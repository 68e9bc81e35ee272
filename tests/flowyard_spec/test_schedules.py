"""Schedule expressions: AWS cron and rate, five-field cron, with fire times worked out by hand (all UTC here)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from flowyard_spec.schedules import CronSchedule, RateSchedule, ScheduleError, parse_expression

UTC = timezone.utc


def fire_times(expression: str, after: str, count: int = 5, tz: str = "UTC") -> list[str]:
    """The next fire times as 'YYYY-MM-DD HH:MM' UTC strings."""
    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    return [moment.strftime("%Y-%m-%d %H:%M") for moment in parse_expression(expression).next_fire_times(start, count, tz)]


# Calendar facts used below: 2026-01-01 is a Thursday, 2026-02-01 and 2026-03-01 are Sundays,
# 2026-05-31 is a Sunday, 2026-08-01 is a Saturday, 2028 is a leap year.
HAND_COMPUTED = [
    ("cron(0 14 * * ? *)", "2026-01-01 15:00", ["2026-01-02 14:00", "2026-01-03 14:00"]),
    ("cron(0/20 8-9 ? * MON-FRI *)", "2026-01-02 09:30",  # Friday → Monday
     ["2026-01-02 09:40", "2026-01-05 08:00", "2026-01-05 08:20"]),
    ("cron(15 10 ? * 2,4 *)", "2026-01-01 00:00", ["2026-01-05 10:15", "2026-01-07 10:15", "2026-01-12 10:15"]),
    ("cron(0 0 1 JAN,JUL ? *)", "2026-01-01 00:00", ["2026-07-01 00:00", "2027-01-01 00:00"]),
    ("cron(0 12 1 * ? 2027)", "2026-06-01 00:00", ["2027-01-01 12:00", "2027-02-01 12:00"]),
    ("cron(30 23 ? * SAT-SUN *)", "2026-01-01 00:00", ["2026-01-03 23:30", "2026-01-04 23:30", "2026-01-10 23:30"]),
    ("cron(0 0 ? * FRI-MON *)", "2026-01-01 00:00",  # a range may wrap around the week
     ["2026-01-02 00:00", "2026-01-03 00:00", "2026-01-04 00:00", "2026-01-05 00:00", "2026-01-09 00:00"]),
    ("cron(0 22-2 * * ? *)", "2026-01-01 03:00",  # and around midnight
     ["2026-01-01 22:00", "2026-01-01 23:00", "2026-01-02 00:00", "2026-01-02 01:00", "2026-01-02 02:00"]),
    # L: the last day of the month
    ("cron(0 0 L * ? *)", "2026-01-01 00:00", ["2026-01-31 00:00", "2026-02-28 00:00", "2026-03-31 00:00"]),
    ("cron(0 0 L 2 ? *)", "2027-01-01 00:00", ["2027-02-28 00:00", "2028-02-29 00:00"]),
    # LW: the last weekday of the month (Jan 31 is a Saturday, Feb 28 a Saturday, May 31 a Sunday)
    ("cron(0 0 LW * ? *)", "2026-01-01 00:00",
     ["2026-01-30 00:00", "2026-02-27 00:00", "2026-03-31 00:00", "2026-04-30 00:00", "2026-05-29 00:00"]),
    # W: the weekday nearest to a day, never leaving the month
    ("cron(0 0 15W * ? *)", "2026-01-01 00:00", ["2026-01-15 00:00", "2026-02-16 00:00", "2026-03-16 00:00"]),
    ("cron(0 0 1W * ? *)", "2026-07-02 00:00", ["2026-08-03 00:00"]),  # Aug 1 is a Saturday: Monday the 3rd
    ("cron(0 0 31W * ? *)", "2026-05-01 00:00", ["2026-05-29 00:00"]),  # May 31 is a Sunday: Friday the 29th
    # #: the k-th such weekday (1 = SUN … 7 = SAT)
    ("cron(0 10 ? * 3#2 *)", "2026-01-01 00:00", ["2026-01-13 10:00", "2026-02-10 10:00", "2026-03-10 10:00"]),
    ("cron(0 10 ? * MON#1 *)", "2026-01-01 00:00", ["2026-01-05 10:00", "2026-02-02 10:00", "2026-03-02 10:00"]),
    ("cron(0 10 ? * 1#5 *)", "2026-01-01 00:00", ["2026-03-29 10:00", "2026-05-31 10:00"]),  # fifth Sundays
    # nL: the last such weekday of the month
    ("cron(0 0 ? * 6L *)", "2026-01-01 00:00", ["2026-01-30 00:00", "2026-02-27 00:00", "2026-03-27 00:00"]),
    ("cron(0 0 ? * 5L *)", "2026-01-01 00:00", ["2026-01-29 00:00", "2026-02-26 00:00", "2026-03-26 00:00"]),
    ("cron(0 0 ? * FRIL *)", "2026-01-01 00:00", ["2026-01-30 00:00"]),
    ("cron(0 0 ? * L *)", "2026-01-01 00:00", ["2026-01-03 00:00", "2026-01-10 00:00"]),  # L alone: Saturday
    # five-field cron
    ("*/15 9-17 * * 1-5", "2026-01-02 16:50",
     ["2026-01-02 17:00", "2026-01-02 17:15", "2026-01-02 17:30", "2026-01-02 17:45", "2026-01-05 09:00"]),
    ("0 12 * * 7", "2026-01-01 00:00", ["2026-01-04 12:00", "2026-01-11 12:00"]),  # 7 is Sunday
    ("0 12 * * 0", "2026-01-01 00:00", ["2026-01-04 12:00", "2026-01-11 12:00"]),  # and so is 0
    ("0 9 * jan,jul mon", "2026-01-01 00:00", ["2026-01-05 09:00", "2026-01-12 09:00"]),
    ("5,35 */6 1 * *", "2026-01-01 06:10", ["2026-01-01 06:35", "2026-01-01 12:05", "2026-01-01 12:35"]),
    ("0 0 29 2 *", "2026-01-01 00:00", ["2028-02-29 00:00", "2032-02-29 00:00"]),
    # Vixie cron: both day fields restricted → either matches (Fridays and the 13th)
    ("0 0 13 * 5", "2026-01-01 00:00",
     ["2026-01-02 00:00", "2026-01-09 00:00", "2026-01-13 00:00", "2026-01-16 00:00", "2026-01-23 00:00"]),
    # … but a day field starting with * is not a restriction: both must match (Mondays on the 1st, 11th, 21st, 31st)
    ("0 0 */10 * 1", "2026-01-01 00:00", ["2026-05-11 00:00", "2026-06-01 00:00", "2026-08-31 00:00"]),
    # rate: ticks counted from 1970-01-01T00:00Z (2026-01-01T00:00Z is a multiple of 7 minutes and of 2 days)
    ("rate(5 minutes)", "2026-01-01 00:02", ["2026-01-01 00:05", "2026-01-01 00:10"]),
    ("rate(7 minutes)", "2026-01-01 00:00", ["2026-01-01 00:07", "2026-01-01 00:14"]),
    ("rate(1 hour)", "2026-01-01 10:59", ["2026-01-01 11:00", "2026-01-01 12:00"]),
    ("rate(1 minute)", "2026-01-01 10:59", ["2026-01-01 11:00", "2026-01-01 11:01"]),
    ("rate(2 days)", "2026-01-01 00:00", ["2026-01-03 00:00", "2026-01-05 00:00"]),
    ("rate(1 day)", "2026-01-01 12:00", ["2026-01-02 00:00", "2026-01-03 00:00"]),
]


@pytest.mark.parametrize(("expression", "after", "expected"), HAND_COMPUTED)
def test_next_fire_times_match_the_hand_computed_ones(expression, after, expected):
    assert fire_times(expression, after, len(expected)) == expected


def test_fire_times_are_strictly_after_the_given_instant():
    assert fire_times("cron(0 14 * * ? *)", "2026-01-01 14:00", 1) == ["2026-01-02 14:00"]
    assert fire_times("rate(5 minutes)", "2026-01-01 00:05", 1) == ["2026-01-01 00:10"]


def test_fire_times_are_aware_utc_datetimes():
    moment = parse_expression("rate(1 hour)").next_fire_times(datetime(2026, 1, 1, tzinfo=UTC), 1)[0]
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


def test_a_naive_after_is_taken_as_utc_and_an_aware_one_in_its_own_offset():
    schedule = parse_expression("cron(0 14 * * ? *)")
    assert schedule.next_fire_times(datetime(2026, 1, 1, 13, 59), 1) == [datetime(2026, 1, 1, 14, tzinfo=UTC)]
    plus_two = timezone(timedelta(hours=2))
    assert schedule.next_fire_times(datetime(2026, 1, 1, 15, 59, tzinfo=plus_two), 1) == [
        datetime(2026, 1, 1, 14, tzinfo=UTC)]


def test_a_rate_does_not_move_with_the_timezone():
    start = datetime(2026, 3, 28, tzinfo=UTC)
    rate = parse_expression("rate(1 hour)")
    assert rate.next_fire_times(start, 48, "Europe/Paris") == rate.next_fire_times(start, 48)


def test_asking_again_from_each_fire_time_gives_the_following_one():
    for expression in ["cron(0/20 8-9 ? * MON-FRI *)", "0 0 13 * 5", "cron(0 0 LW * ? *)", "30 1,2 * * *"]:
        schedule = parse_expression(expression)
        times = schedule.next_fire_times(datetime(2026, 3, 1, tzinfo=UTC), 30, "America/New_York")
        chained = [schedule.next_fire_time(moment, "America/New_York") for moment in times[:-1]]
        assert chained == times[1:], expression


def test_a_schedule_limited_to_past_years_has_no_more_fire_times():
    assert fire_times("cron(0 0 1 1 ? 2020-2021)", "2026-01-01 00:00") == []
    assert fire_times("cron(0 0 1 1 ? 2027)", "2026-01-01 00:00") == ["2027-01-01 00:00"]


def test_a_count_of_zero_gives_nothing_and_a_negative_count_is_refused():
    assert parse_expression("rate(1 hour)").next_fire_times(datetime(2026, 1, 1, tzinfo=UTC), 0) == []
    with pytest.raises(ValueError):
        parse_expression("rate(1 hour)").next_fire_times(datetime(2026, 1, 1, tzinfo=UTC), -1)


def test_parse_expression_returns_the_kind_of_schedule_and_keeps_the_text():
    assert isinstance(parse_expression("rate(5 minutes)"), RateSchedule)
    cron = parse_expression("  cron(0 14  * * ? *) ")
    assert isinstance(cron, CronSchedule) and str(cron) == "cron(0 14 * * ? *)"
    assert parse_expression("0 14 * * *") == parse_expression("0  14 * * *")


def test_a_thousand_minutely_fire_times_take_well_under_a_second():
    schedule = parse_expression("* * * * *")
    started = time.perf_counter()
    times = schedule.next_fire_times(datetime(2026, 3, 28, 23, tzinfo=UTC), 1000, "Europe/Paris")
    assert time.perf_counter() - started < 0.5
    assert len(times) == 1000 and times == sorted(set(times))
    assert all(later - earlier == timedelta(minutes=1) for earlier, later in zip(times, times[1:]))


def test_sparse_schedules_skip_ahead_by_field_instead_of_scanning():
    started = time.perf_counter()
    leap_days = parse_expression("cron(0 0 29 2 ? *)").next_fire_times(datetime(2026, 1, 1, tzinfo=UTC), 200)
    assert time.perf_counter() - started < 0.5
    assert leap_days[0].year == 2028 and leap_days[-1].year > 2800


IMPOSSIBLE = [
    "cron(0 0 31 2 ? *)", "cron(0 0 30 FEB ? *)", "cron(0 0 31 4,6,9,11 ? *)", "0 0 31 2 *", "0 0 30,31 2 *",
    "cron(0 0 ? 2 1#5 2026)",  # February 2026 has only four Sundays
    "cron(0 0 29 2 ? 2100)",  # 2100 is not a leap year
]


@pytest.mark.parametrize("expression", IMPOSSIBLE)
def test_an_expression_that_can_never_fire_is_refused_when_parsed(expression):
    with pytest.raises(ScheduleError, match="no date ever matches") as caught:
        parse_expression(expression)
    assert expression in str(caught.value)


MALFORMED = [
    ("cron(0 14 * * ? )", "expected 6 fields"),
    ("cron(0 14 * * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
    ("cron(0 14 ? * ? *)", "exactly one of day-of-month and day-of-week must be '?'"),
    ("cron(60 14 * * ? *)", "minute value 60 is out of range; minute allows 0-59"),
    ("cron(0 24 * * ? *)", "hour value 24 is out of range"),
    ("cron(0 0 0 * ? *)", "day-of-month value 0 is out of range"),
    ("cron(0 0 ? 13 MON *)", "month value 13 is out of range"),
    ("cron(0 0 ? * 8 *)", "day-of-week value 8 is out of range; day-of-week allows 1-7"),
    ("cron(0 0 ? * 2#6 *)", "the number after # must be 1-5"),
    ("cron(0 0 * * ? 1969)", "year value 1969 is out of range"),
    ("cron(0 0 * * ? FOO)", "year value 'FOO' is not a number"),
    ("cron(0 0 L? * ? *)", "day-of-month"),
    ("cron(0 L * * ? *)", "only day fields accept"),
    ("cron(*/0 * * * ? *)", "step '0'"),
    ("cron(0 0 1,,2 * ? *)", "empty list item"),
    ("cron 0 0 * * ? *", "written cron(...)"),
    ("rate(5 minute)", "a value above 1 takes the plural unit: rate(5 minutes)"),
    ("rate(1 hours)", "a value of 1 takes the singular unit: rate(1 hour)"),
    ("rate(0 minutes)", "at least 1"),
    ("rate(5 weeks)", "unknown unit 'weeks'"),
    ("rate(5)", "expected a value and a unit"),
    ("rate(1.5 hours)", "whole number"),
    ("* * * *", "a standard cron expression has 5 fields"),
    ("60 * * * *", "minute value 60 is out of range"),
    ("0 0 * * 8", "day-of-week value 8 is out of range; day-of-week allows 0-7"),
    ("0 0 5-1 * *", "runs backwards"),
    ("0 0 L * *", "only AWS expressions accept"),
    ("0 0 ? * 1", "only AWS expressions accept"),
    ("every day", "is not a schedule expression"),
    ("", "the schedule is empty"),
]


@pytest.mark.parametrize(("expression", "fragment"), MALFORMED)
def test_a_malformed_expression_says_what_is_wrong_and_what_is_allowed(expression, fragment):
    with pytest.raises(ScheduleError) as caught:
        parse_expression(expression)
    assert fragment in str(caught.value)


def test_schedule_errors_are_value_errors():
    assert issubclass(ScheduleError, ValueError)


def test_an_unknown_timezone_is_a_schedule_error_naming_it():
    with pytest.raises(ScheduleError, match="unknown timezone 'Mars/Olympus'"):
        parse_expression("rate(1 hour)").next_fire_times(datetime(2026, 1, 1, tzinfo=UTC), 1, "Mars/Olympus")
