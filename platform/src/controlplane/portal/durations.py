"""Durations as people read them: "850 ms", "12 s", "3 min 4 s", "2 h 5 min", "1 d 3 h"."""

from __future__ import annotations

import datetime


def duration_text(seconds: float) -> str:
    """A duration in seconds as its two largest units."""
    if seconds < 0:
        seconds = 0.0
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{round(seconds)} s"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s"


def between(start: datetime.datetime | None, end: datetime.datetime | None) -> str:
    """The duration from `start` to `end` as text, or "" when either is unknown."""
    if start is None or end is None:
        return ""
    return duration_text((end - start).total_seconds())
