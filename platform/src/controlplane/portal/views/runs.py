"""Portal pages: the runs list and a run's detail (header, task graph, timeline, task table, log viewer)."""

from __future__ import annotations

urlpatterns: list = []
