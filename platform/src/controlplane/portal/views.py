"""Portal pages; every read goes through the selectors, which take the signed-in user."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from controlplane.tenancy.roles import role_for
from controlplane.tenancy.selectors import project_list


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Home: the signed-in person's projects, with their team and the person's role on each."""
    projects = [(project, role_for(request.user, project)) for project in project_list(user=request.user)]
    return render(request, "portal/home.html", {"projects": projects})
