"""Tenancy API serializers: output ModelSerializers, input plain Serializers."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers
from typing_extensions import override

from controlplane.api.fields import UsernameField, VisibleRelatedField
from controlplane.tenancy.models import GroupMapping, PersonalToken, Project, ProjectMembership, ProjectToken, Team, TeamMembership
from controlplane.tenancy.models.teams import slug_validator, validate_timezone
from controlplane.tenancy.roles import role_for, roles_for
from controlplane.tenancy.selectors import project_list, team_list
from flowyard_spec.states import Role

ROLE_FIELD_CHOICES = [role.value for role in Role]


class TeamSerializer(serializers.ModelSerializer):
    """A team."""

    class Meta:
        model = Team
        fields = ["id", "slug", "name", "description", "created_at", "updated_at"]


class TeamCreateSerializer(serializers.Serializer):
    """Input to create a team."""

    slug = serializers.CharField(max_length=63, validators=[slug_validator])
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")

    @override
    def validate_slug(self, value: str) -> str:
        if Team.objects.filter(slug=value).exists():
            raise serializers.ValidationError(f"A team with slug {value!r} already exists; pick another slug.")
        return value


class TeamUpdateSerializer(serializers.Serializer):
    """Input to change a team (its slug is fixed)."""

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class TeamMembershipSerializer(serializers.ModelSerializer):
    """A user's role on every project of a team."""

    user = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = TeamMembership
        fields = ["id", "team", "user", "role", "source", "created_at", "updated_at"]


class TeamMembershipCreateSerializer(serializers.Serializer):
    """Input to add a user to a team with a role."""

    team = VisibleRelatedField(selector=team_list)
    user = UsernameField()
    role = serializers.ChoiceField(choices=ROLE_FIELD_CHOICES)

    @override
    def validate(self, attrs):
        if TeamMembership.objects.filter(team=attrs["team"], user=attrs["user"]).exists():
            raise serializers.ValidationError(
                {"user": [f"{attrs['user'].username} is already in this team; change their membership's role instead."]}
            )
        return attrs


class RoleUpdateSerializer(serializers.Serializer):
    """Input to change a membership's role."""

    role = serializers.ChoiceField(choices=ROLE_FIELD_CHOICES)


class ProjectListSerializer(serializers.ListSerializer):
    """A page of projects: the caller's roles on all of them are read at once (`roles_for`), not one per row."""

    @override
    def to_representation(self, data):
        """Each project, with the roles looked up for the whole page first."""
        projects = list(data.all() if hasattr(data, "all") else data)
        request = self.context.get("request")
        if request is not None:
            self.context["project_roles"] = roles_for(request.user, projects)  # shared with the child
        return super().to_representation(projects)


class ProjectSerializer(serializers.ModelSerializer):
    """A project, with the caller's role on it."""

    team_slug = serializers.CharField(source="team.slug", read_only=True)
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id", "team", "team_slug", "slug", "name", "description", "timezone", "max_cpu_per_run",
            "max_memory_mib_per_run", "max_concurrent_runs", "my_role", "created_at", "updated_at",
        ]
        list_serializer_class = ProjectListSerializer

    def get_my_role(self, project: Project) -> str | None:
        """The caller's effective role on this project (from the page's lookup when listed)."""
        known = self.context.get("project_roles", {})
        if project.pk in known:
            role = known[project.pk]
        else:
            request = self.context.get("request")
            role = role_for(request.user, project) if request else None
        return role.value if role else None


class ProjectCreateSerializer(serializers.Serializer):
    """Input to create a project in a team."""

    team = VisibleRelatedField(selector=team_list)
    slug = serializers.CharField(max_length=63, validators=[slug_validator])
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")

    @override
    def validate_slug(self, value: str) -> str:
        if Project.objects.filter(slug=value).exists():
            raise serializers.ValidationError(f"A project with slug {value!r} already exists; pick another slug.")
        return value


class ProjectUpdateSerializer(serializers.Serializer):
    """Input to change a project (its slug and team are fixed); its quotas only by platform staff."""

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False, validators=[validate_timezone],
                                     help_text="IANA time zone the portal shows the project's times in.")
    max_cpu_per_run = serializers.IntegerField(
        required=False, allow_null=True, min_value=128,
        help_text="Platform staff only. Most CPU units (1024 = one vCPU) per run (null: no limit)",
    )
    max_memory_mib_per_run = serializers.IntegerField(
        required=False, allow_null=True, min_value=128,
        help_text="Platform staff only. Most memory in MiB per run (null: no limit)",
    )
    max_concurrent_runs = serializers.IntegerField(
        required=False, allow_null=True, min_value=1,
        help_text="Platform staff only. Most runs of the project starting or running at once (null: no limit)",
    )


class ProjectMembershipSerializer(serializers.ModelSerializer):
    """A user's direct role on a project."""

    user = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = ProjectMembership
        fields = ["id", "project", "user", "role", "created_at", "updated_at"]


class ProjectMembershipCreateSerializer(serializers.Serializer):
    """Input to give a user a role on a project."""

    project = VisibleRelatedField(selector=project_list)
    user = UsernameField()
    role = serializers.ChoiceField(choices=ROLE_FIELD_CHOICES)

    @override
    def validate(self, attrs):
        if ProjectMembership.objects.filter(project=attrs["project"], user=attrs["user"]).exists():
            raise serializers.ValidationError(
                {"user": [f"{attrs['user'].username} is already a member; change their membership's role instead."]}
            )
        return attrs


class PersonalTokenSerializer(serializers.ModelSerializer):
    """A personal token as listed: never its value."""

    class Meta:
        model = PersonalToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at"]


class PersonalTokenCreatedSerializer(PersonalTokenSerializer):
    """A personal token just created: the only time its value is shown."""

    token = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(PersonalTokenSerializer.Meta):
        fields = [*PersonalTokenSerializer.Meta.fields, "token"]


def _future(value: datetime.datetime | None) -> datetime.datetime | None:
    if value is not None and value <= timezone.now():
        raise serializers.ValidationError("Must be in the future.")
    return value


class PersonalTokenCreateSerializer(serializers.Serializer):
    """Input to create a personal token."""

    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Default: 90 days from now.")

    @override
    def validate_expires_at(self, value):
        value = _future(value)
        limit = timezone.now() + datetime.timedelta(days=settings.FLOWYARD.personal_token_max_days)
        if value is not None and value > limit:
            raise serializers.ValidationError(
                f"At most {settings.FLOWYARD.personal_token_max_days} days ahead (until {limit:%Y-%m-%d})."
            )
        return value


class ProjectTokenSerializer(serializers.ModelSerializer):
    """A CI token as listed: never its value."""

    class Meta:
        model = ProjectToken
        fields = ["id", "project", "name", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at"]


class ProjectTokenCreatedSerializer(ProjectTokenSerializer):
    """A CI token just created: the only time its value is shown."""

    token = serializers.CharField(read_only=True, help_text="Shown once; store it in your CI secrets now.")

    class Meta(ProjectTokenSerializer.Meta):
        fields = [*ProjectTokenSerializer.Meta.fields, "token"]


class ProjectTokenCreateSerializer(serializers.Serializer):
    """Input to create a CI token for a project."""

    project = VisibleRelatedField(selector=project_list)
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    @override
    def validate_expires_at(self, value):
        return _future(value)

    @override
    def validate(self, attrs):
        if ProjectToken.objects.filter(project=attrs["project"], name=attrs["name"]).exists():
            raise serializers.ValidationError({"name": ["This project already has a CI token with that name."]})
        return attrs


class MeSerializer(serializers.Serializer):
    """The caller: who they are and their role on each project they can see."""

    username = serializers.CharField()
    is_staff = serializers.BooleanField()
    is_superuser = serializers.BooleanField()
    roles = serializers.DictField(child=serializers.CharField(), help_text="project slug → role")


class GroupMappingSerializer(serializers.ModelSerializer):
    """An IdP group giving its members a role on a team."""

    team_slug = serializers.CharField(source="team.slug", read_only=True)

    class Meta:
        model = GroupMapping
        fields = ["id", "group", "team", "team_slug", "role", "description", "created_at", "updated_at"]


class GroupMappingCreateSerializer(serializers.Serializer):
    """Input to map an IdP group to a role on a team."""

    group = serializers.CharField(max_length=255, help_text="The group exactly as the provider's groups claim lists it.")
    team = VisibleRelatedField(selector=team_list)
    role = serializers.ChoiceField(choices=ROLE_FIELD_CHOICES)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @override
    def validate_group(self, value: str) -> str:
        if value != value.strip() or not value:
            raise serializers.ValidationError("Give the group without leading or trailing spaces, as the claim lists it.")
        return value

    @override
    def validate(self, attrs):
        existing = GroupMapping.objects.filter(group=attrs["group"], team=attrs["team"]).first()
        if existing is not None:
            raise serializers.ValidationError({"group": [
                f"{attrs['group']!r} already maps to team {attrs['team'].slug} as {existing.role}; change that "
                f"mapping's role instead (PATCH /api/v1/group-mappings/{existing.pk}/)."]})
        return attrs


class GroupMappingUpdateSerializer(serializers.Serializer):
    """Input to change a mapping's role or description."""

    role = serializers.ChoiceField(choices=ROLE_FIELD_CHOICES, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
