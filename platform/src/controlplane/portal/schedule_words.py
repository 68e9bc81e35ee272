"""Schedule expressions in words for the common forms ("every day at 14:00"); "" when a form is not covered."""

from __future__ import annotations

import re

DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
DAY_ABBREVIATIONS = {name[:3].upper(): index for index, name in enumerate(DAY_NAMES)}
UNIT_WORDS = {"minute": "minute", "minutes": "minute", "hour": "hour", "hours": "hour", "day": "day", "days": "day"}
RATE = re.compile(r"^rate\(\s*(\d+)\s+(\w+)\s*\)$", re.IGNORECASE)
AWS_CRON = re.compile(r"^cron\((.*)\)$", re.IGNORECASE)
NUMBER = re.compile(r"^\d+$")
STEP = re.compile(r"^(\*|0)/(\d+)$")
EVERY = ("*", "?")


def schedule_in_words(expression: str | None) -> str:
    """`expression` (rate(...), AWS cron(...) or five-field cron) in words, or "" when it is not a common form."""
    text = " ".join((expression or "").split())
    if not text:
        return ""
    rate = RATE.match(text)
    if rate:
        return _rate_in_words(int(rate.group(1)), rate.group(2).lower())
    aws = AWS_CRON.match(text)
    fields = aws.group(1).split() if aws else text.split()
    if aws and len(fields) == 6 and fields[5] in EVERY:
        return _cron_in_words(*fields[:5], aws=True)
    if not aws and len(fields) == 5:
        return _cron_in_words(*fields, aws=False)
    return ""


def _rate_in_words(value: int, unit: str) -> str:
    word = UNIT_WORDS.get(unit)
    if word is None:
        return ""
    return f"every {word}" if value == 1 else f"every {value} {word}s"


def _cron_in_words(minute: str, hour: str, day_of_month: str, month: str, day_of_week: str, *, aws: bool) -> str:
    if month not in EVERY:
        return ""
    days = _days_in_words(day_of_month, day_of_week, aws=aws)
    if days is None:
        return ""
    within_day = _within_day(minute, hour)
    if within_day:
        return within_day if days == "every day" else f"{within_day}, {days.removeprefix('every ')}"
    times = _times_of_day(minute, hour)
    return f"{days} at {times}" if times else ""


def _within_day(minute: str, hour: str) -> str:
    """Schedules that fire several times an hour or every few hours."""
    step = STEP.match(minute)
    if minute == "*" and hour in EVERY:
        return "every minute"
    if step and hour in EVERY:
        return f"every {step.group(2)} minutes"
    if step and _hour_range(hour):
        start, end = _hour_range(hour)
        return f"every {step.group(2)} minutes from {start:02d}:00 to {end:02d}:59"
    if NUMBER.match(minute) and hour in EVERY:
        return f"every hour at minute {int(minute)}"
    if NUMBER.match(minute) and _hour_range(hour):
        start, end = _hour_range(hour)
        return f"every hour from {start:02d}:{int(minute):02d} to {end:02d}:{int(minute):02d}"
    hour_step = STEP.match(hour)
    if NUMBER.match(minute) and hour_step:
        return f"every {hour_step.group(2)} hours at minute {int(minute)}"
    return ""


def _hour_range(hour: str) -> tuple[int, int] | None:
    parts = hour.split("-")
    if len(parts) == 2 and all(NUMBER.match(part) for part in parts):
        return int(parts[0]), int(parts[1])
    return None


def _times_of_day(minute: str, hour: str) -> str:
    """ "14:00", or "08:00 and 12:30" for a short list of hours; "" otherwise."""
    hours = hour.split(",")
    if not NUMBER.match(minute) or not all(NUMBER.match(value) for value in hours) or len(hours) > 4:
        return ""
    times = [f"{int(value):02d}:{int(minute):02d}" for value in hours]
    return times[0] if len(times) == 1 else ", ".join(times[:-1]) + f" and {times[-1]}"


def _days_in_words(day_of_month: str, day_of_week: str, *, aws: bool) -> str | None:
    """ "every day", "every Monday to Friday", "on day 1 of every month"…; None when not a common form."""
    if day_of_month in EVERY and day_of_week in EVERY:
        return "every day"
    if day_of_month in EVERY:
        weekdays = _weekdays(day_of_week, aws=aws)
        return f"every {weekdays}" if weekdays else None
    if day_of_week not in EVERY:
        return None
    if day_of_month == "L":
        return "on the last day of every month"
    days = day_of_month.split(",")
    if all(NUMBER.match(day) for day in days):
        return f"on day{'s' if len(days) > 1 else ''} {', '.join(str(int(day)) for day in days)} of every month"
    return None


def _weekdays(text: str, *, aws: bool) -> str:
    """ "Monday to Friday", "Monday, Wednesday and Friday"; "" for special forms (L, #)."""
    phrases = []
    for part in text.split(","):
        bounds = part.split("-")
        if len(bounds) > 2:
            return ""
        names = [_day_name(bound, aws=aws) for bound in bounds]
        if not all(names):
            return ""
        phrases.append(" to ".join(names))
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + f" and {phrases[-1]}"


def _day_name(token: str, *, aws: bool) -> str:
    token = token.upper()
    if token in DAY_ABBREVIATIONS:
        return DAY_NAMES[DAY_ABBREVIATIONS[token]]
    if not NUMBER.match(token):
        return ""
    number = int(token)
    if aws:  # AWS counts 1-7 from Sunday
        return DAY_NAMES[number - 1] if 1 <= number <= 7 else ""
    return DAY_NAMES[number % 7] if 0 <= number <= 7 else ""
