"""`flowyard-admin seed_demo`: two demo teams, a project each, a user of every role; idempotent."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from typing_extensions import override

from controlplane.runtimes.models import RuntimeTarget
from controlplane.tenancy import services
from controlplane.tenancy.models import Project, Team, TeamMembership
from flowyard_spec.states import Role

DEMO_PASSWORD = "flowyard-demo"
DEMO_TEAMS = (
    ("analytics", "Analytics", "sales-reports", "Sales reports"),
    ("ml", "Machine learning", "churn-model", "Churn model"),
)


class Command(BaseCommand):
    """Seed demo data for the embedded demo (never run it against a production database)."""

    help = "Create demo teams, projects and users (one per role per team). Safe to run again."

    @override
    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the server will listen.")
        parser.add_argument("--runtime", choices=["docker", "local"], help="Make this the default runtime target.")
        parser.add_argument("--token-dir", help="Write a CI token and a developer's personal token here (mode 600).")

    @override
    @transaction.atomic
    def handle(self, *args, url: str, runtime: str | None = None, token_dir: str | None = None, **options):
        users = get_user_model().objects
        admin = users.filter(username="admin").first()
        if admin is None:
            admin = users.create_superuser("admin", "admin@example.invalid", DEMO_PASSWORD)
        for team_slug, team_name, project_slug, project_name in DEMO_TEAMS:
            team = Team.objects.filter(slug=team_slug).first() or services.team_create(
                actor=admin, slug=team_slug, name=team_name
            )
            if not Project.objects.filter(slug=project_slug).exists():
                services.project_create(actor=admin, team=team, slug=project_slug, name=project_name)
            for role in Role:
                username = f"{team_slug}-{role.value}"
                user = users.filter(username=username).first()
                if user is None:
                    user = users.create_user(username, f"{username}@example.invalid", DEMO_PASSWORD)
                if not TeamMembership.objects.filter(team=team, user=user, role=role.value).exists():
                    services.team_member_set(actor=admin, team=team, user=user, role=role)
        if runtime:
            self._default_runtime(runtime)
        if token_dir:
            self._tokens(Path(token_dir), admin)
        self.stdout.write(self._banner(url))

    def _default_runtime(self, kind: str) -> None:
        """Make a `demo-<kind>` target the default (the demo's runs go there)."""
        settings_by_kind = {
            "docker": {"network_mode": "host"},
            "local": {"state_dir": str(Path(settings.DATA_DIR) / "local-runs")},
        }
        RuntimeTarget.objects.filter(is_default=True).exclude(name=f"demo-{kind}").update(is_default=False)
        RuntimeTarget.objects.update_or_create(
            name=f"demo-{kind}", defaults={"kind": kind, "settings": settings_by_kind[kind], "is_default": True}
        )

    def _tokens(self, directory: Path, admin) -> None:
        """A CI token of the first demo project and a personal token of its developer, each written once."""
        directory.mkdir(parents=True, exist_ok=True)
        team_slug, _, project_slug, _ = DEMO_TEAMS[0]
        project = Project.objects.get(slug=project_slug)
        developer = get_user_model().objects.get(username=f"{team_slug}-developer")
        makers = {
            "ci.token": lambda: services.ci_token_create(actor=admin, project=project, name=f"demo-ci-{secrets.token_hex(3)}"),
            "developer.token": lambda: services.personal_token_create(actor=developer, name="demo"),
        }
        for filename, make in makers.items():
            path = directory / filename
            if not path.exists():
                _, value = make()
                path.touch(mode=0o600)
                path.write_text(value)

    def _banner(self, url: str) -> str:
        people = ", ".join(f"{team}-{{viewer,developer,approver,admin}}" for team, *_ in DEMO_TEAMS)
        return (
            "\nFlowyard demo is ready.\n"
            f"  Admin:     {url}/admin/      user admin, password {DEMO_PASSWORD}\n"
            f"  API:       {url}/api/v1/     (log in at {url}/api/auth/login/)\n"
            f"  API docs:  {url}/api/docs/\n"
            f"  Users:     {people} (password {DEMO_PASSWORD})\n"
        )
