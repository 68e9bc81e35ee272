"""Cron schedules, AWS `cron(...)` and standard five-field, evaluated in a timezone without skipping or doubling.

Wall times are turned into instants the way PEP 495 (fold=0) and Java's ZonedDateTime do: a wall time inside
a spring-forward gap is moved later by the length of the gap (02:30 → 03:30 when 02:00 jumps to 03:00), and
a wall time that happens twice at fall-back fires once, at its first occurrence. Two wall times that land on
the same instant fire once.
"""

from __future__ import annotations

import bisect
import calendar
import heapq
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flowyard_spec.schedules.base import UTC, Schedule, ScheduleError, as_utc, check_count, zone
from flowyard_spec.schedules.fields import (
    MONTH_NAMES, WEEKDAY_NAMES, DaysOfMonth, DaysOfWeek, FieldParser, FieldRange,
)

LAST_YEAR = 9998
AWS_FORM = "cron(minute hour day-of-month month day-of-week year)"
UNIX_FORM = "minute hour day-of-month month day-of-week"
AWS_MINUTE = FieldRange("minute", 0, 59, wraps=True)
AWS_HOUR = FieldRange("hour", 0, 23, wraps=True)
AWS_DAY_OF_MONTH = FieldRange(
    "day-of-month", 1, 31, wraps=True,
    syntax="numbers, ranges, lists, steps, *, ? (when day-of-week is set), L (last day), LW (last weekday), "
           "nW (weekday nearest day n, e.g. 15W)",
)
AWS_MONTH = FieldRange("month", 1, 12, MONTH_NAMES, wraps=True)
AWS_DAY_OF_WEEK = FieldRange(
    "day-of-week", 1, 7, {name: number for number, name in enumerate(WEEKDAY_NAMES, start=1)}, wraps=True,
    syntax="1-7 meaning SUN-SAT, ranges, lists, steps, *, ? (when day-of-month is set), L (Saturday), "
           "nL (last such day of the month, e.g. 6L = last Friday), n#k (k-th such day, e.g. 3#2 = second Tuesday)",
)
AWS_YEAR = FieldRange("year", 1970, 2199)
UNIX_MINUTE = FieldRange("minute", 0, 59)
UNIX_HOUR = FieldRange("hour", 0, 23)
UNIX_DAY_OF_MONTH = FieldRange("day-of-month", 1, 31)
UNIX_MONTH = FieldRange("month", 1, 12, MONTH_NAMES)
UNIX_DAY_OF_WEEK = FieldRange(
    "day-of-week", 0, 7, {name: number for number, name in enumerate(WEEKDAY_NAMES)},
    syntax="0-7 where 0 and 7 are Sunday, names SUN-SAT, ranges, lists, steps and *",
)


class CronSchedule(Schedule):
    """A cron expression reduced to sets of minutes, hours, months and years plus a rule for matching days."""

    def __init__(self, expression: str, *, minutes: frozenset[int], hours: frozenset[int], months: frozenset[int],
                 days_of_month: DaysOfMonth, days_of_week: DaysOfWeek, day_rule: str,
                 years: frozenset[int] | None = None) -> None:
        self.expression = expression
        self.minutes = sorted(minutes)
        self.hours = sorted(hours)
        self.months = sorted(months)
        self.years = sorted(years) if years is not None else None
        self.days_of_month = days_of_month
        self.days_of_week = days_of_week
        self.day_rule = day_rule  # "dom", "dow", "and" (both must match) or "or" (either matches)
        self.times_of_day = [timedelta(hours=hour, minutes=minute) for hour in self.hours for minute in self.minutes]
        self._month_cache: dict[tuple[int, int], list[int]] = {}

    def days_in_month(self, year: int, month: int) -> list[int]:
        """The days of `month` in `year` this schedule fires on, ascending."""
        key = (year, month)
        if key not in self._month_cache:
            first_weekday = (calendar.weekday(year, month, 1) + 1) % 7  # 0 = Sunday
            length = calendar.monthrange(year, month)[1]
            by_month = self.days_of_month.matching(length, first_weekday)
            by_week = self.days_of_week.matching(length, first_weekday)
            days = {"dom": by_month, "dow": by_week, "and": by_month & by_week, "or": by_month | by_week}[self.day_rule]
            self._month_cache[key] = sorted(days)
        return self._month_cache[key]

    def ever_fires(self) -> bool:
        """True when some date matches: checked over the listed years, or a 28-year cycle holding every year type."""
        years = self.years if self.years is not None else range(2000, 2028)
        return any(self.days_in_month(year, month) for year in years for month in self.months)

    def dates_from(self, start: date) -> Iterator[date]:
        """Every matching date on or after `start`, ascending, up to the last year this schedule can fire."""
        year = start.year
        while year <= LAST_YEAR:
            if self.years is not None:
                index = bisect.bisect_left(self.years, year)
                if index == len(self.years):
                    return
                year = self.years[index]
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                for day in self.days_in_month(year, month):
                    candidate = date(year, month, day)
                    if candidate >= start:
                        yield candidate
            year += 1

    def next_fire_times(self, after: datetime, count: int, timezone: str = "UTC") -> list[datetime]:
        """The next `count` fire times strictly after `after`, evaluated in `timezone`, as aware UTC datetimes."""
        check_count(count)
        tz = zone(timezone)
        times: list[datetime] = []
        if count:
            for moment in self._instants(as_utc(after), tz):
                times.append(moment)
                if len(times) == count:
                    break
        return times

    def _instants(self, after: datetime, tz: ZoneInfo) -> Iterator[datetime]:
        """Fire instants after `after` in ascending order without repeats; days with a UTC offset change go
        through a heap so that wall times moved across a gap still come out in order."""
        start = (after.astimezone(tz) - timedelta(days=1)).date() if after.year > 1 else after.date()
        pending: list[datetime] = []
        last: datetime | None = None
        for day in self.dates_from(start):
            midnight = datetime(day.year, day.month, day.day)
            lowest = min(midnight.replace(tzinfo=tz, fold=0).astimezone(UTC),
                         midnight.replace(tzinfo=tz, fold=1).astimezone(UTC))
            while pending and pending[0] < lowest:
                moment = heapq.heappop(pending)
                if moment != last:
                    yield moment
                    last = moment
            offset = steady_offset(midnight, tz)
            if offset is not None and not pending:
                base = midnight.replace(tzinfo=UTC) - offset
                if base + self.times_of_day[-1] <= after:
                    continue
                for time_of_day in self.times_of_day:
                    moment = base + time_of_day
                    if moment > after:
                        yield moment
                        last = moment
                continue
            for time_of_day in self.times_of_day:
                moment = (midnight + time_of_day).replace(tzinfo=tz).astimezone(UTC)
                if moment > after:
                    heapq.heappush(pending, moment)
        while pending:
            moment = heapq.heappop(pending)
            if moment != last:
                yield moment
                last = moment


def steady_offset(midnight: datetime, tz: ZoneInfo) -> timedelta | None:
    """The UTC offset of the whole local day starting at `midnight`, or None when it changes during the day."""
    end = midnight + timedelta(hours=23, minutes=59)
    offsets = {tz.utcoffset(moment.replace(fold=fold)) for moment in (midnight, end) for fold in (0, 1)}
    return offsets.pop() if len(offsets) == 1 else None


def uses_special_characters(text: str, spec: FieldRange) -> bool:
    """True when `text` holds ?, L, W or # outside of the field's names (JUL and WED are fine)."""
    upper = text.upper()
    for name in spec.names:
        upper = upper.replace(name, "")
    return any(mark in upper for mark in "?LW#")


def parse_aws_cron(expression: str, body: str) -> CronSchedule:
    """Parse the six fields inside `cron(...)` with AWS EventBridge's rules."""
    fields = body.split()
    if len(fields) != 6:
        raise ScheduleError(f"{expression!r}: expected 6 fields, {AWS_FORM}, e.g. cron(0 14 * * ? *); got {len(fields)}")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(
            f"{expression!r}: exactly one of day-of-month and day-of-week must be '?', as AWS requires "
            f"(e.g. cron(0 14 * * ? *) for every day, cron(0 14 ? * MON-FRI *) for weekdays)"
        )
    for text, spec in ((minute, AWS_MINUTE), (hour, AWS_HOUR), (month, AWS_MONTH), (year, AWS_YEAR)):
        if uses_special_characters(text, spec):
            raise FieldParser(expression, spec).fail(f"{text!r} uses ?, L, W or #, which only day fields accept")
    return CronSchedule(
        expression,
        minutes=FieldParser(expression, AWS_MINUTE).numbers(minute),
        hours=FieldParser(expression, AWS_HOUR).numbers(hour),
        months=FieldParser(expression, AWS_MONTH).numbers(month),
        years=None if year == "*" else FieldParser(expression, AWS_YEAR).numbers(year),
        days_of_month=aws_days_of_month(expression, dom),
        days_of_week=aws_days_of_week(expression, dow),
        day_rule="dow" if dom == "?" else "dom",
    )


def aws_days_of_month(expression: str, text: str) -> DaysOfMonth:
    """AWS day-of-month: numbers, ranges, steps, `*`, `?`, `L`, `LW`, `nW`."""
    parser = FieldParser(expression, AWS_DAY_OF_MONTH)
    if text in ("*", "?"):
        return DaysOfMonth(unrestricted=True)
    days: set[int] = set()
    nearest: set[int] = set()
    last = last_weekday = False
    for item in parser.items(text.upper()):
        if item == "L":
            last = True
        elif item == "LW":
            last_weekday = True
        elif item.endswith("W"):
            nearest.add(parser.value(item[:-1]))
        elif uses_special_characters(item, AWS_DAY_OF_MONTH):
            raise parser.fail(f"item {item!r} is not allowed")
        else:
            days.update(parser.term(item))
    return DaysOfMonth(frozenset(days), last, last_weekday, frozenset(nearest))


def aws_days_of_week(expression: str, text: str) -> DaysOfWeek:
    """AWS day-of-week (1 = SUN … 7 = SAT): numbers, names, ranges, steps, `*`, `?`, `L`, `nL`, `n#k`."""
    parser = FieldParser(expression, AWS_DAY_OF_WEEK)
    if text in ("*", "?"):
        return DaysOfWeek(unrestricted=True)
    weekdays: set[int] = set()
    last: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in parser.items(text.upper()):
        if item == "L":
            weekdays.add(6)
        elif "#" in item:
            weekday, _, occurrence = item.partition("#")
            if occurrence not in {"1", "2", "3", "4", "5"}:
                raise parser.fail(f"{item!r}: the number after # must be 1-5 (the k-th such day of the month)")
            nth.add((parser.value(weekday) - 1, int(occurrence)))
        elif item.endswith("L"):
            last.add(parser.value(item[:-1]) - 1)
        elif uses_special_characters(item, AWS_DAY_OF_WEEK):
            raise parser.fail(f"item {item!r} is not allowed")
        else:
            weekdays.update(value - 1 for value in parser.term(item))
    return DaysOfWeek(frozenset(weekdays), frozenset(last), frozenset(nth))


def parse_unix_cron(expression: str) -> CronSchedule:
    """Parse a standard five-field cron expression with Vixie cron's rule for the two day fields."""
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"{expression!r}: a standard cron expression has 5 fields, {UNIX_FORM} (e.g. '*/15 9-17 * * 1-5'); "
            f"got {len(fields)}. AWS expressions are written {AWS_FORM} or rate(5 minutes)"
        )
    minute, hour, dom, month, dow = fields
    for text, spec in zip(fields, (UNIX_MINUTE, UNIX_HOUR, UNIX_DAY_OF_MONTH, UNIX_MONTH, UNIX_DAY_OF_WEEK)):
        if uses_special_characters(text, spec):
            raise FieldParser(expression, spec).fail(
                f"{text!r} uses ?, L, W or #, which only AWS expressions accept: write {AWS_FORM}")
    day_rule = "and" if dom.startswith("*") or dow.startswith("*") else "or"
    return CronSchedule(
        expression,
        minutes=FieldParser(expression, UNIX_MINUTE).numbers(minute),
        hours=FieldParser(expression, UNIX_HOUR).numbers(hour),
        months=FieldParser(expression, UNIX_MONTH).numbers(month),
        days_of_month=DaysOfMonth(FieldParser(expression, UNIX_DAY_OF_MONTH).numbers(dom)),
        days_of_week=DaysOfWeek(frozenset(value % 7 for value in FieldParser(expression, UNIX_DAY_OF_WEEK).numbers(dow))),
        day_rule=day_rule,
    )
