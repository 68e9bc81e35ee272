"""Tenancy API: teams, projects, memberships, tokens and the caller's own identity."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView
from typing_extensions import override

from controlplane.api.access import VISIBLE, PlatformStaff, StaffOr, TeamRole
from controlplane.api.tenancy import serializers
from controlplane.api.views import CreateMixin, DestroyMixin, ListRetrieveMixin, ScopedViewSet, UpdateMixin
from controlplane.core.errors import PermissionDenied
from controlplane.tenancy import filtersets, group_mappings, selectors, services
from controlplane.tenancy.principals import is_person
from controlplane.tenancy.roles import role_for
from flowyard_spec.states import Role

MANAGE_TEAMS = PlatformStaff("manage teams")
MANAGE_TEAM_MEMBERS = PlatformStaff("manage team memberships")
MANAGE_GROUP_MAPPINGS = PlatformStaff("manage SSO group mappings")


class TeamViewSet(ListRetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """Teams: visible to their members; managed by platform staff."""

    selector = staticmethod(selectors.team_list)
    output_serializer = serializers.TeamSerializer
    input_serializers = {
        "create": serializers.TeamCreateSerializer,
        "partial_update": serializers.TeamUpdateSerializer,
    }
    action_roles = {"list": VISIBLE, "retrieve": VISIBLE, "create": MANAGE_TEAMS, "partial_update": MANAGE_TEAMS,
                    "destroy": MANAGE_TEAMS}
    cursor_ordering = "slug"
    filterset_fields = ["slug"]

    @override
    def create_object(self, data):
        return services.team_create(actor=self.request.user, **data)

    @override
    def update_object(self, obj, data):
        return services.team_update(actor=self.request.user, team=obj, **data)

    @override
    def destroy_object(self, obj):
        services.team_delete(actor=self.request.user, team=obj)


class TeamMembershipViewSet(ListRetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """Team memberships: a role on all of a team's projects; managed by platform staff."""

    selector = staticmethod(selectors.team_member_list)
    output_serializer = serializers.TeamMembershipSerializer
    input_serializers = {
        "create": serializers.TeamMembershipCreateSerializer, "partial_update": serializers.RoleUpdateSerializer,
    }
    action_roles = {"list": VISIBLE, "retrieve": VISIBLE, "create": MANAGE_TEAM_MEMBERS,
                    "partial_update": MANAGE_TEAM_MEMBERS, "destroy": MANAGE_TEAM_MEMBERS}
    filterset_class = filtersets.TeamMembershipFilterSet

    @override
    def create_object(self, data):
        return services.team_member_set(actor=self.request.user, team=data["team"], user=data["user"], role=Role(data["role"]))

    @override
    def update_object(self, obj, data):
        return services.team_member_set(actor=self.request.user, team=obj.team, user=obj.user, role=Role(data["role"]))

    @override
    def destroy_object(self, obj):
        services.team_member_remove(actor=self.request.user, membership=obj)


class ProjectViewSet(ListRetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """Projects: created by staff or the team's admins; changed and deleted by project admins."""

    selector = staticmethod(selectors.project_directory)
    output_serializer = serializers.ProjectSerializer
    input_serializers = {
        "create": serializers.ProjectCreateSerializer,
        "partial_update": serializers.ProjectUpdateSerializer,
    }
    # Reads: the directory selector decides. Staff manage every project, quotas included (project_update
    # audits it); a team's admins create its projects; a project's admins change and delete it.
    action_roles = {
        "list": VISIBLE, "retrieve": VISIBLE,
        "create": StaffOr(TeamRole(Role.ADMIN, team_path="team", what="create its projects")),
        "partial_update": StaffOr(Role.ADMIN), "destroy": Role.ADMIN,
    }
    project_path = ""  # a project is its own project
    cursor_ordering = "slug"
    filterset_class = filtersets.ProjectFilterSet

    @override
    def create_object(self, data):
        return services.project_create(actor=self.request.user, **data)

    @override
    def update_object(self, obj, data):
        return services.project_update(actor=self.request.user, project=obj, **data)

    @override
    def destroy_object(self, obj):
        services.project_delete(actor=self.request.user, project=obj)


class ProjectMembershipViewSet(ListRetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """Direct project memberships: visible to the project's members, managed by its admins."""

    selector = staticmethod(selectors.project_member_list)
    output_serializer = serializers.ProjectMembershipSerializer
    input_serializers = {
        "create": serializers.ProjectMembershipCreateSerializer,
        "partial_update": serializers.RoleUpdateSerializer,
    }
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.ADMIN,
                    "partial_update": Role.ADMIN, "destroy": Role.ADMIN}
    filterset_class = filtersets.ProjectMembershipFilterSet

    @override
    def create_object(self, data):
        return services.project_member_set(
            actor=self.request.user, project=data["project"], user=data["user"], role=Role(data["role"])
        )

    @override
    def update_object(self, obj, data):
        return services.project_member_set(actor=self.request.user, project=obj.project, user=obj.user, role=Role(data["role"]))

    @override
    def destroy_object(self, obj):
        services.project_member_remove(actor=self.request.user, membership=obj)


class GroupMappingViewSet(ListRetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """SSO group mappings (an IdP group gives a role on a team): read by the team's members, managed by platform staff."""

    selector = staticmethod(selectors.group_mapping_list)
    output_serializer = serializers.GroupMappingSerializer
    input_serializers = {
        "create": serializers.GroupMappingCreateSerializer, "partial_update": serializers.GroupMappingUpdateSerializer,
    }
    action_roles = {"list": VISIBLE, "retrieve": VISIBLE, "create": MANAGE_GROUP_MAPPINGS,
                    "partial_update": MANAGE_GROUP_MAPPINGS, "destroy": MANAGE_GROUP_MAPPINGS}
    filterset_class = filtersets.GroupMappingFilterSet

    @override
    def create_object(self, data):
        return group_mappings.group_mapping_create(actor=self.request.user, group=data["group"], team=data["team"],
                                                   role=Role(data["role"]), description=data["description"])

    @override
    def update_object(self, obj, data):
        return group_mappings.group_mapping_update(actor=self.request.user, mapping=obj, **data)

    @override
    def destroy_object(self, obj):
        group_mappings.group_mapping_delete(actor=self.request.user, mapping=obj)


class PersonalTokenViewSet(ListRetrieveMixin, CreateMixin, DestroyMixin, ScopedViewSet):
    """The caller's personal API tokens; DELETE revokes (the record stays for the audit trail)."""

    selector = staticmethod(selectors.personal_token_list)
    output_serializer = serializers.PersonalTokenSerializer
    input_serializers = {"create": serializers.PersonalTokenCreateSerializer}
    create_responses = {201: serializers.PersonalTokenCreatedSerializer}
    action_roles = {"list": VISIBLE, "retrieve": VISIBLE, "create": VISIBLE, "destroy": VISIBLE}  # one's own

    @override  # shows the value once
    def create(self, request, *args, **kwargs) -> Response:
        data = self.validated_input()
        token, value = services.personal_token_create(actor=request.user, **data)
        token.token = value
        return Response(serializers.PersonalTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @override
    def destroy_object(self, obj):
        services.personal_token_revoke(actor=self.request.user, token=obj)


class ProjectTokenViewSet(ListRetrieveMixin, CreateMixin, DestroyMixin, ScopedViewSet):
    """CI tokens of a project: listed to its members (never the value), managed by its admins; DELETE revokes."""

    selector = staticmethod(selectors.ci_token_list)
    output_serializer = serializers.ProjectTokenSerializer
    input_serializers = {"create": serializers.ProjectTokenCreateSerializer}
    create_responses = {201: serializers.ProjectTokenCreatedSerializer}
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.ADMIN, "destroy": Role.ADMIN}
    filterset_class = filtersets.ProjectTokenFilterSet

    @override  # shows the value once
    def create(self, request, *args, **kwargs) -> Response:
        data = self.validated_input()
        token, value = services.ci_token_create(actor=request.user, **data)
        token.token = value
        return Response(serializers.ProjectTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @override
    def destroy_object(self, obj):
        services.ci_token_revoke(actor=self.request.user, token=obj)


class MeView(APIView):
    """Who the caller is, and their role on each project they can see."""

    @extend_schema(responses=serializers.MeSerializer)
    def get(self, request) -> Response:
        """Return the caller's identity and roles."""
        user = request.user
        if not is_person(user):
            raise PermissionDenied("CI and run tokens have no personal identity; use a personal token.")
        roles = {project.slug: role_for(user, project).value for project in selectors.project_list(user=user)}
        data = {"username": user.get_username(), "is_staff": user.is_staff, "is_superuser": user.is_superuser, "roles": roles}
        return Response(serializers.MeSerializer(data).data)
