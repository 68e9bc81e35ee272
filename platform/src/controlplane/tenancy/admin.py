"""Admin for teams, projects, memberships and tokens (token values are never shown: only hashes exist)."""

from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from controlplane.tenancy.models import PersonalToken, Project, ProjectMembership, ProjectToken, Team, TeamMembership


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Teams."""

    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]


@admin.register(Project)
class ProjectAdmin(GuardedModelAdmin):
    """Projects, with guardian's object permission view."""

    list_display = ["slug", "name", "team", "created_at"]
    list_filter = ["team"]
    search_fields = ["slug", "name"]


@admin.register(TeamMembership)
class TeamMembershipAdmin(admin.ModelAdmin):
    """Team memberships (change them through the API so permissions stay in sync)."""

    list_display = ["team", "user", "role", "source"]
    list_filter = ["team", "role", "source"]
    readonly_fields = ["team", "user", "role", "source"]


@admin.register(ProjectMembership)
class ProjectMembershipAdmin(admin.ModelAdmin):
    """Project memberships (change them through the API so permissions stay in sync)."""

    list_display = ["project", "user", "role"]
    list_filter = ["project", "role"]
    readonly_fields = ["project", "user", "role"]


@admin.register(PersonalToken, ProjectToken)
class TokenAdmin(admin.ModelAdmin):
    """API tokens: prefix and dates only."""

    list_display = ["name", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at"]
    exclude = ["token_hash"]
    readonly_fields = ["prefix", "last_used_at"]
