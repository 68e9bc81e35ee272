"""The portal header's data on every page: the projects the person can switch between and the current one."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from controlplane.tenancy.selectors import project_list

CURRENT_PROJECT_KEY = "portal_project"


def portal_header(request: HttpRequest) -> dict[str, Any]:
    """`switcher_projects` (the person's projects) and `current_project_slug` (the one last switched to)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"switcher_projects": project_list(user=user).only("slug", "name", "team"),
            "current_project_slug": request.session.get(CURRENT_PROJECT_KEY, "")}
