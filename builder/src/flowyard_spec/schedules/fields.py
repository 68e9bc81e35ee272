"""The fields of a cron expression: their ranges, names and special characters, parsed into plain sets."""

from __future__ import annotations

from dataclasses import dataclass, field

from flowyard_spec.schedules.base import ScheduleError

MONTH_NAMES = {name: number for number, name in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
WEEKDAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


@dataclass(frozen=True)
class FieldRange:
    """One field's name, numeric range, names, and the syntax it allows (for error messages)."""

    name: str
    low: int
    high: int
    names: dict[str, int] = field(default_factory=dict)
    wraps: bool = False
    syntax: str = "numbers, ranges a-b, lists a,b, steps */n or a-b/n, and *"

    def allowed(self) -> str:
        """What this field accepts, in words."""
        names = f" or {min(self.names, key=self.names.get)}-{max(self.names, key=self.names.get)}" if self.names else ""
        return f"{self.name} allows {self.low}-{self.high}{names}: {self.syntax}"


@dataclass(frozen=True)
class DaysOfMonth:
    """The day-of-month field: plain days plus AWS's L (last day), LW (last weekday) and nW (nearest weekday)."""

    days: frozenset[int] = frozenset()
    last: bool = False
    last_weekday: bool = False
    nearest_weekday: frozenset[int] = frozenset()
    unrestricted: bool = False

    def matching(self, month_length: int, first_weekday: int) -> set[int]:
        """Days of a month of `month_length` days whose 1st falls on `first_weekday` (0 = Sunday) that match."""
        if self.unrestricted:
            return set(range(1, month_length + 1))
        found = {day for day in self.days if day <= month_length}
        if self.last:
            found.add(month_length)
        if self.last_weekday:
            found.add(nearest_weekday(month_length, month_length, first_weekday))
        found.update(nearest_weekday(day, month_length, first_weekday)
                     for day in self.nearest_weekday if day <= month_length)
        return found


@dataclass(frozen=True)
class DaysOfWeek:
    """The day-of-week field (0 = Sunday … 6 = Saturday), with AWS's nL (last such day) and n#k (k-th such day)."""

    weekdays: frozenset[int] = frozenset()
    last: frozenset[int] = frozenset()
    nth: frozenset[tuple[int, int]] = frozenset()
    unrestricted: bool = False

    def matching(self, month_length: int, first_weekday: int) -> set[int]:
        """Days of a month of `month_length` days whose 1st falls on `first_weekday` that match."""
        if self.unrestricted:
            return set(range(1, month_length + 1))
        found = {day for day in range(1, month_length + 1) if (first_weekday + day - 1) % 7 in self.weekdays}
        for weekday in self.last:
            first = 1 + (weekday - first_weekday) % 7
            found.add(first + 7 * ((month_length - first) // 7))
        for weekday, occurrence in self.nth:
            day = 1 + (weekday - first_weekday) % 7 + 7 * (occurrence - 1)
            if day <= month_length:
                found.add(day)
        return found


def nearest_weekday(day: int, month_length: int, first_weekday: int) -> int:
    """The weekday (Mon-Fri) nearest to `day` without leaving the month, as AWS's `W` means."""
    weekday = (first_weekday + day - 1) % 7
    if weekday == 6:  # Saturday: the Friday before, or the Monday after when the 1st is a Saturday
        return day - 1 if day > 1 else day + 2
    if weekday == 0:  # Sunday: the Monday after, or the Friday before when it is the last day
        return day + 1 if day < month_length else day - 2
    return day


class FieldParser:
    """Parses one field of one expression, raising ScheduleError that names the expression and the field."""

    def __init__(self, expression: str, spec: FieldRange) -> None:
        self.expression = expression
        self.spec = spec

    def fail(self, problem: str) -> ScheduleError:
        """An error about this field, saying what it allows."""
        return ScheduleError(f"{self.expression!r}: {self.spec.name} {problem}; {self.spec.allowed()}")

    def value(self, token: str) -> int:
        """A number or name of this field, checked against its range."""
        upper = token.upper()
        if upper in self.spec.names:
            return self.spec.names[upper]
        if not token.isdigit():
            raise self.fail(f"value {token!r} is not a number" + (" or a name" if self.spec.names else ""))
        number = int(token)
        if not self.spec.low <= number <= self.spec.high:
            raise self.fail(f"value {number} is out of range")
        return number

    def numbers(self, text: str) -> frozenset[int]:
        """The set of values of a field made of numbers, names, ranges, lists, steps and `*`."""
        return frozenset(value for item in self.items(text) for value in self.term(item))

    def items(self, text: str) -> list[str]:
        """The comma-separated items of the field, none empty."""
        items = text.split(",")
        if any(not item for item in items):
            raise self.fail(f"{text!r} has an empty list item")
        return items

    def term(self, item: str) -> list[int]:
        """The values of one list item: `*`, `a`, `a-b`, each optionally followed by `/step`."""
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise self.fail(f"step {step_text!r} in {item!r} must be a whole number of at least 1")
            step = int(step_text)
        if base == "*":
            start, end = self.spec.low, self.spec.high
        elif "-" in base:
            start_text, _, end_text = base.partition("-")
            start, end = self.value(start_text), self.value(end_text)
            if start > end and not self.spec.wraps:
                raise self.fail(f"range {base!r} runs backwards; write the smaller value first")
        else:
            start = self.value(base)
            end = self.spec.high if slash else start
        span = self.spec.high - self.spec.low + 1
        if step > span:
            raise self.fail(f"step {step} in {item!r} is larger than the field's range")
        count = (end - start) % span + 1 if start > end else end - start + 1
        return [self.spec.low + (start - self.spec.low + offset) % span for offset in range(0, count, step)]
