"""Template helpers of the runs pages: durations and reason sentences."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django import template

from controlplane.portal.durations import between
from controlplane.runs.reasons import reason_sentence as sentence_for

register = template.Library()


@register.simple_tag
def duration(start: datetime.datetime | None, end: datetime.datetime | None, now: datetime.datetime | None = None) -> str:
    """How long from `start` to `end` (to `now` while there is no end; "" before a start)."""
    return between(start, end or now)


@register.filter
def reason_sentence(reason: str) -> str:
    """What a run's reason code means."""
    return sentence_for(reason)


@register.filter
def as_json(value: Any) -> str:
    """A value as compact JSON (strings keep their quotes, so "1" and 1 read differently)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
