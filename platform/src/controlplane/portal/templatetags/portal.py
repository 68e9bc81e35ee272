"""Template helpers of the portal: state chips that never rely on colour alone, and the person's role."""

from __future__ import annotations

from typing import Any

from django import template

from controlplane.tenancy.roles import role_for

register = template.Library()

# A symbol and a word for every state, so a state reads the same without colour (and to a screen reader).
STATE_SYMBOLS = {
    "SUCCEEDED": "✓", "FAILED": "✗", "CRASHED": "✗", "TIMED_OUT": "⏱", "CANCELLED": "⊘", "CANCELLING": "⊘",
    "RUNNING": "▶", "STARTING": "…", "QUEUED": "…", "SCHEDULED": "◷", "PENDING": "…", "RETRYING": "↻",
    "SKIPPED": "↷", "CACHED": "✓", "APPROVED": "✓", "REJECTED": "✗", "SUPERSEDED": "↷",
}


@register.inclusion_tag("portal/_state_chip.html")
def state_chip(state: str) -> dict[str, Any]:
    """A state as a chip: a symbol, the state's word, and a colour class (the colour only repeats the word)."""
    value = str(state or "").upper()
    return {"state": value, "symbol": STATE_SYMBOLS.get(value, "•"), "css": value.lower().replace("_", "-")}


@register.simple_tag
def role_on(user: Any, project: Any) -> str:
    """The user's role on the project, or "" when they have none."""
    role = role_for(user, project) if project is not None else None
    return role.value if role else ""
