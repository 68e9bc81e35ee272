"""What every schedule shares: the error type, the `Schedule` interface and timezone/instant helpers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timezone as dt_timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt_timezone.utc


class ScheduleError(ValueError):
    """A schedule expression or timezone that cannot be used; the message says what is wrong and what is allowed."""


def zone(name: str) -> ZoneInfo:
    """The IANA timezone called `name` (e.g. "Europe/Paris"), or ScheduleError."""
    if not isinstance(name, str) or not name.strip():
        raise ScheduleError(f"timezone {name!r} is not an IANA timezone name; use e.g. 'UTC' or 'Europe/Paris'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(
            f"unknown timezone {name!r}; use an IANA timezone name such as 'UTC', 'Europe/Paris' or 'America/New_York'"
        ) from None


def as_utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class Schedule(ABC):
    """A parsed schedule expression that can list the instants it fires at."""

    expression: str

    @abstractmethod
    def next_fire_times(self, after: datetime, count: int, timezone: str = "UTC") -> list[datetime]:
        """The next `count` fire times strictly after `after`, as aware UTC datetimes in ascending order."""

    def next_fire_time(self, after: datetime, timezone: str = "UTC") -> datetime | None:
        """The first fire time strictly after `after`, or None when the schedule never fires again."""
        times = self.next_fire_times(after, 1, timezone)
        return times[0] if times else None

    def __str__(self) -> str:
        return self.expression

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.expression!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.expression == self.expression  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.expression))


def check_count(count: int) -> None:
    """Refuse a negative or non-integer count."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a non-negative integer, not {count!r}")
