"""Schedule expressions: AWS `cron(...)` and `rate(...)`, and standard five-field cron (standard library only).

>>> parse_expression("cron(0 14 * * ? *)").next_fire_times(datetime(2026, 1, 1, tzinfo=UTC), 1)
[datetime.datetime(2026, 1, 1, 14, 0, tzinfo=datetime.timezone.utc)]
"""

from __future__ import annotations

import functools
import re
from datetime import datetime  # noqa: F401  (used in the doctest above)

from flowyard_spec.schedules.base import UTC, Schedule, ScheduleError, as_utc, zone
from flowyard_spec.schedules.cron import CronSchedule, parse_aws_cron, parse_unix_cron
from flowyard_spec.schedules.rate import RateSchedule, parse_rate

__all__ = [
    "UTC", "CronSchedule", "RateSchedule", "Schedule", "ScheduleError", "as_utc", "parse_expression", "zone",
]

CRON_PATTERN = re.compile(r"^cron\((.*)\)$", re.IGNORECASE | re.DOTALL)
FORMS = (
    "allowed: cron(minute hour day-of-month month day-of-week year) as in AWS EventBridge, "
    "rate(5 minutes) / rate(1 hour) / rate(2 days), or standard cron 'minute hour day-of-month month day-of-week'"
)


def parse_expression(text: str) -> Schedule:
    """Parse a schedule expression, refusing with ScheduleError one that is malformed or can never fire."""
    if not isinstance(text, str):
        raise ScheduleError(f"a schedule must be a string, not {type(text).__name__}; {FORMS}")
    return _parse(" ".join(text.split()))


@functools.lru_cache(maxsize=1024)
def _parse(expression: str) -> Schedule:
    """parse_expression for whitespace-normalised text; schedules are immutable, so parsed ones are shared."""
    if not expression:
        raise ScheduleError(f"the schedule is empty; {FORMS}")
    lowered = expression.lower()
    if lowered.startswith("rate"):
        return parse_rate(expression)
    if lowered.startswith("cron"):
        match = CRON_PATTERN.match(expression)
        if match is None:
            raise ScheduleError(f"{expression!r}: an AWS cron expression is written cron(...) with 6 fields; {FORMS}")
        schedule = parse_aws_cron(expression, match.group(1))
    elif expression[0].isdigit() or expression[0] in "*?":
        schedule = parse_unix_cron(expression)
    else:
        raise ScheduleError(f"{expression!r} is not a schedule expression; {FORMS}")
    if not schedule.ever_fires():
        raise ScheduleError(
            f"{expression!r}: no date ever matches (e.g. February 31); check day-of-month, month, day-of-week and year"
        )
    return schedule
