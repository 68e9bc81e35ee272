"""Admin for teams, projects, memberships and tokens (token values are never shown: only hashes exist)."""

from django.contrib import admin
from guardian.admin import GuardedModelAdmin
from flowyard_spec.states import Role

from controlplane.tenancy import group_mappings
from controlplane.tenancy.models import GroupMapping, PersonalToken, Project, ProjectMembership, ProjectToken, Team, TeamMembership


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


@admin.register(GroupMapping)
class GroupMappingAdmin(admin.ModelAdmin):
    """SSO group mappings; saved through the tenancy services, so every change is audited."""

    list_display = ["group", "team", "role", "description", "updated_at"]
    list_filter = ["team", "role"]
    search_fields = ["group", "description"]

    def save_model(self, request, obj, form, change):
        """Create or change the mapping through the services (audit event)."""
        if change:
            fresh = GroupMapping.objects.get(pk=obj.pk)
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            group_mappings.group_mapping_update(actor=request.user, mapping=fresh, **changes)
        else:
            created = group_mappings.group_mapping_create(
                actor=request.user, group=obj.group, team=obj.team, role=Role(obj.role), description=obj.description
            )
            obj.pk = created.pk

    def delete_model(self, request, obj):
        """Delete the mapping through the services (audit event)."""
        group_mappings.group_mapping_delete(actor=request.user, mapping=obj)

    def delete_queryset(self, request, queryset):
        """Bulk delete, one audited deletion per mapping."""
        for mapping in queryset:
            group_mappings.group_mapping_delete(actor=request.user, mapping=mapping)
