"""`flowyard-admin seed_demo`: two demo teams, a project each, a user of every role; idempotent."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

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

    def add_arguments(self, parser):  # noqa: D102
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the server will listen.")

    @transaction.atomic
    def handle(self, *args, url: str, **options):  # noqa: D102
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
        self.stdout.write(self._banner(url))

    def _banner(self, url: str) -> str:
        people = ", ".join(f"{team}-{{viewer,developer,approver,admin}}" for team, *_ in DEMO_TEAMS)
        return (
            "\nFlowyard demo is ready.\n"
            f"  Admin:     {url}/admin/      user admin, password {DEMO_PASSWORD}\n"
            f"  API:       {url}/api/v1/     (log in at {url}/api/auth/login/)\n"
            f"  API docs:  {url}/api/docs/\n"
            f"  Users:     {people} (password {DEMO_PASSWORD})\n"
        )
