"""`seed_demo` creates the demo teams once, and the people it prints can log in and see their roles."""

from __future__ import annotations

import io
import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from rest_framework.test import APIClient

from controlplane.tenancy.models import (
    Project,
    ProjectGroupObjectPermission,
    ProjectMembership,
    ProjectUserObjectPermission,
    Team,
    TeamMembership,
)

COUNTED = (get_user_model(), Team, Project, TeamMembership, ProjectMembership, Group, ProjectGroupObjectPermission,
           ProjectUserObjectPermission)


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in COUNTED}


def printed_logins(banner: str) -> dict[str, str]:
    """username → password for every person the banner names (it writes `team-{a,b}` for several users)."""
    logins = {}
    admin = re.search(r"user (\S+), password (\S+)", banner)
    assert admin, banner
    logins[admin[1]] = admin[2]
    users = re.search(r"Users:\s+(.+) \(password (\S+)\)", banner)
    assert users, banner
    for prefix, alternatives in re.findall(r"([\w-]+)\{([^}]*)\}", users[1]):
        for alternative in alternatives.split(","):
            logins[prefix + alternative.strip()] = users[2]
    return logins


def test_seeding_twice_creates_the_same_rows(fingerprint):
    seed()
    first = counts()
    assert first["tenancy.Team"] == 2 and first["tenancy.Project"] == 2 and first["tenancy.TeamMembership"] == 8
    rows = fingerprint()
    seed()
    assert counts() == first
    assert fingerprint() == rows, "the second run must change nothing at all"


def test_every_printed_user_logs_in_with_the_printed_password_and_sees_their_role():
    logins = printed_logins(seed())
    assert len(logins) == 9, logins
    every_project = set(Project.objects.values_list("slug", flat=True))
    for username, password in logins.items():
        client = APIClient()
        assert client.login(username=username, password=password), f"{username} cannot log in"
        me = client.get("/api/v1/me/")
        assert me.status_code == 200, (username, me.json())
        if username == "admin":
            assert me.json()["is_superuser"] is True
            assert me.json()["roles"] == {slug: "admin" for slug in every_project}
            continue
        team_slug, role = username.rsplit("-", 1)
        projects = Project.objects.filter(team__slug=team_slug).values_list("slug", flat=True)
        assert projects, f"{username} names no seeded team"
        assert me.json()["roles"] == {slug: role for slug in projects}, username

