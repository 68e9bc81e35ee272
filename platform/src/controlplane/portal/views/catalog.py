"""Portal pages: the workflow catalog and a workflow's page."""

from __future__ import annotations

urlpatterns: list = []
