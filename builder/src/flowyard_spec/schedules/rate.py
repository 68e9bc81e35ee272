"""AWS `rate(value unit)` schedules: a fixed interval counted from the Unix epoch, so every scheduler agrees."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from flowyard_spec.schedules.base import UTC, Schedule, ScheduleError, as_utc, check_count, zone

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LAST_INSTANT = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
UNITS = {"minute": 60, "hour": 3600, "day": 86400}
RATE_PATTERN = re.compile(r"^rate\((.*)\)$", re.IGNORECASE | re.DOTALL)
ALLOWED = "allowed: rate(VALUE UNIT) with a positive whole VALUE and UNIT minute/hour/day for 1, minutes/hours/days above 1"


class RateSchedule(Schedule):
    """Fires every `interval`, at the epoch plus whole multiples of it (timezones do not move a rate)."""

    def __init__(self, expression: str, interval: timedelta) -> None:
        self.expression = expression
        self.interval = interval

    def next_fire_times(self, after: datetime, count: int, timezone: str = "UTC") -> list[datetime]:
        """The next `count` ticks strictly after `after` (aware UTC)."""
        check_count(count)
        zone(timezone)
        ticks = (as_utc(after) - EPOCH) // self.interval + 1
        times: list[datetime] = []
        for index in range(ticks, ticks + count):
            moment = EPOCH + self.interval * index
            if moment > LAST_INSTANT:
                break
            times.append(moment)
        return times


def parse_rate(expression: str) -> RateSchedule:
    """Parse `rate(5 minutes)`, `rate(1 hour)`, `rate(2 days)`, with AWS's singular/plural rule."""
    match = RATE_PATTERN.match(expression)
    if match is None:
        raise ScheduleError(f"{expression!r} is not a rate expression; {ALLOWED}")
    parts = match.group(1).split()
    if len(parts) != 2:
        raise ScheduleError(f"{expression!r}: expected a value and a unit, e.g. rate(5 minutes); {ALLOWED}")
    value_text, unit_text = parts
    if not value_text.isdigit() or int(value_text) < 1:
        raise ScheduleError(f"{expression!r}: the value {value_text!r} must be a whole number of at least 1; {ALLOWED}")
    value, unit = int(value_text), unit_text.lower()
    singular = unit[:-1] if unit.endswith("s") else unit
    if singular not in UNITS:
        raise ScheduleError(f"{expression!r}: unknown unit {unit_text!r}; {ALLOWED}")
    if value == 1 and unit != singular:
        raise ScheduleError(f"{expression!r}: a value of 1 takes the singular unit: rate(1 {singular})")
    if value > 1 and unit == singular:
        raise ScheduleError(f"{expression!r}: a value above 1 takes the plural unit: rate({value} {singular}s)")
    return RateSchedule(expression, timedelta(seconds=value * UNITS[singular]))
