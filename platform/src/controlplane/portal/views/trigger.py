"""Portal pages: the trigger form generated from a workflow's parameters."""

from __future__ import annotations

urlpatterns: list = []
