"""Query filters for tenancy lists."""

import django_filters

from controlplane.tenancy.models import GroupMapping, Project, ProjectMembership, ProjectToken, TeamMembership


class ProjectFilterSet(django_filters.FilterSet):
    """Filter projects by team or slug."""

    team = django_filters.UUIDFilter(field_name="team_id")

    class Meta:
        model = Project
        fields = ["team", "slug"]


class TeamMembershipFilterSet(django_filters.FilterSet):
    """Filter team memberships by team, username or role."""

    team = django_filters.UUIDFilter(field_name="team_id")
    user = django_filters.CharFilter(field_name="user__username")

    class Meta:
        model = TeamMembership
        fields = ["team", "user", "role"]


class ProjectMembershipFilterSet(django_filters.FilterSet):
    """Filter project memberships by project, username or role."""

    project = django_filters.UUIDFilter(field_name="project_id")
    user = django_filters.CharFilter(field_name="user__username")

    class Meta:
        model = ProjectMembership
        fields = ["project", "user", "role"]


class ProjectTokenFilterSet(django_filters.FilterSet):
    """Filter CI tokens by project."""

    project = django_filters.UUIDFilter(field_name="project_id")

    class Meta:
        model = ProjectToken
        fields = ["project"]


class GroupMappingFilterSet(django_filters.FilterSet):
    """Filter SSO group mappings by group, team or role."""

    team = django_filters.UUIDFilter(field_name="team_id")

    class Meta:
        model = GroupMapping
        fields = ["group", "team", "role"]
