"""Portal pages: a project's audit events."""

from __future__ import annotations

urlpatterns: list = []
