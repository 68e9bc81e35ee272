"""Tenancy API: teams, projects, memberships, tokens and the caller's own identity."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.core.api.views import CreateMixin, DestroyMixin, ListRetrieveMixin, ScopedViewSet, UpdateMixin
from controlplane.core.errors import PermissionDenied
from controlplane.tenancy import filtersets, selectors, services
from controlplane.tenancy.api import serializers as s
from controlplane.tenancy.models import TeamMembership
from controlplane.tenancy.principals import is_person
from controlplane.tenancy.roles import role_for
from flowyard_spec.states import Role

V, D, A = Role.VIEWER, Role.DEVELOPER, Role.ADMIN


def _require_staff(user: Any, what: str) -> None:
    if not (user.is_staff or user.is_superuser):
        raise PermissionDenied(f"Only platform staff may {what}.")


class TeamViewSet(ListRetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """Teams: visible to their members; managed by platform staff."""

    selector = staticmethod(selectors.team_list)
    output_serializer = s.TeamSerializer
    input_serializers = {"create": s.TeamCreateSerializer, "partial_update": s.TeamUpdateSerializer}
    action_roles = {"list": V, "retrieve": V, "create": A, "partial_update": A, "destroy": A}
    cursor_ordering = "slug"
    filterset_fields = ["slug"]

    def authorize(self, action: str, target: Any) -> None:  # noqa: D102 - staff-only writes
        if action not in ("list", "retrieve"):
            _require_staff(self.request.user, "manage teams")

    def create_object(self, data):  # noqa: D102
        return services.team_create(actor=self.request.user, **data)

    def update_object(self, obj, data):  # noqa: D102
        return services.team_update(actor=self.request.user, team=obj, **data)

    def destroy_object(self, obj):  # noqa: D102
        services.team_delete(actor=self.request.user, team=obj)


class TeamMembershipViewSet(ListRetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """Team memberships: a role on all of a team's projects; managed by platform staff."""

    selector = staticmethod(selectors.team_member_list)
    output_serializer = s.TeamMembershipSerializer
    input_serializers = {"create": s.TeamMembershipCreateSerializer, "partial_update": s.RoleUpdateSerializer}
    action_roles = {"list": V, "retrieve": V, "create": A, "partial_update": A, "destroy": A}
    filterset_class = filtersets.TeamMembershipFilterSet

    def authorize(self, action: str, target: Any) -> None:  # noqa: D102 - staff-only writes
        if action not in ("list", "retrieve"):
            _require_staff(self.request.user, "manage team memberships")

    def create_object(self, data):  # noqa: D102
        return services.team_member_set(actor=self.request.user, team=data["team"], user=data["user"], role=Role(data["role"]))

    def update_object(self, obj, data):  # noqa: D102
        return services.team_member_set(actor=self.request.user, team=obj.team, user=obj.user, role=Role(data["role"]))

    def destroy_object(self, obj):  # noqa: D102
        services.team_member_remove(actor=self.request.user, membership=obj)


class ProjectViewSet(ListRetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """Projects: created by staff or the team's admins; changed and deleted by project admins."""

    selector = staticmethod(selectors.project_directory)
    output_serializer = s.ProjectSerializer
    input_serializers = {"create": s.ProjectCreateSerializer, "partial_update": s.ProjectUpdateSerializer}
    action_roles = {"list": V, "retrieve": V, "create": A, "partial_update": A, "destroy": A}
    project_path = ""
    cursor_ordering = "slug"
    filterset_class = filtersets.ProjectFilterSet

    def project_of(self, target: Any) -> Any:  # noqa: D102 - a project is its own project
        return target

    def authorize(self, action: str, target: Any) -> None:  # noqa: D102 - reads: the directory selector decides
        user = self.request.user
        if action in ("list", "retrieve"):
            return
        if action == "create":
            team = target["team"]
            is_team_admin = TeamMembership.objects.filter(team=team, user=user, role=Role.ADMIN.value).exists()
            if not (user.is_staff or user.is_superuser or is_team_admin):
                raise PermissionDenied(f"Only platform staff or admins of team {team.slug} may create its projects.")
            return
        if action == "partial_update" and (user.is_staff or user.is_superuser):
            return  # platform staff manage projects, quotas included (project_update audits it)
        super().authorize(action, target)

    def create_object(self, data):  # noqa: D102
        return services.project_create(actor=self.request.user, **data)

    def update_object(self, obj, data):  # noqa: D102
        return services.project_update(actor=self.request.user, project=obj, **data)

    def destroy_object(self, obj):  # noqa: D102
        services.project_delete(actor=self.request.user, project=obj)


class ProjectMembershipViewSet(ListRetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """Direct project memberships: visible to the project's members, managed by its admins."""

    selector = staticmethod(selectors.project_member_list)
    output_serializer = s.ProjectMembershipSerializer
    input_serializers = {"create": s.ProjectMembershipCreateSerializer, "partial_update": s.RoleUpdateSerializer}
    action_roles = {"list": V, "retrieve": V, "create": A, "partial_update": A, "destroy": A}
    filterset_class = filtersets.ProjectMembershipFilterSet

    def create_object(self, data):  # noqa: D102
        return services.project_member_set(
            actor=self.request.user, project=data["project"], user=data["user"], role=Role(data["role"])
        )

    def update_object(self, obj, data):  # noqa: D102
        return services.project_member_set(actor=self.request.user, project=obj.project, user=obj.user, role=Role(data["role"]))

    def destroy_object(self, obj):  # noqa: D102
        services.project_member_remove(actor=self.request.user, membership=obj)


class PersonalTokenViewSet(ListRetrieveMixin, CreateMixin, DestroyMixin, ScopedViewSet):
    """The caller's personal API tokens; DELETE revokes (the record stays for the audit trail)."""

    selector = staticmethod(selectors.personal_token_list)
    output_serializer = s.PersonalTokenSerializer
    input_serializers = {"create": s.PersonalTokenCreateSerializer}
    create_responses = {201: s.PersonalTokenCreatedSerializer}
    action_roles = {"list": V, "retrieve": V, "create": V, "destroy": V}

    def authorize(self, action: str, target: Any) -> None:  # noqa: D102 - the selector already limits to own
        return

    def create(self, request, *args, **kwargs) -> Response:  # noqa: D102 - shows the value once
        data = self.validated_input()
        token, value = services.personal_token_create(actor=request.user, **data)
        token.token = value
        return Response(s.PersonalTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    def destroy_object(self, obj):  # noqa: D102
        services.personal_token_revoke(actor=self.request.user, token=obj)


class ProjectTokenViewSet(ListRetrieveMixin, CreateMixin, DestroyMixin, ScopedViewSet):
    """CI tokens of a project: listed to its members (never the value), managed by its admins; DELETE revokes."""

    selector = staticmethod(selectors.ci_token_list)
    output_serializer = s.ProjectTokenSerializer
    input_serializers = {"create": s.ProjectTokenCreateSerializer}
    create_responses = {201: s.ProjectTokenCreatedSerializer}
    action_roles = {"list": V, "retrieve": V, "create": A, "destroy": A}
    filterset_class = filtersets.ProjectTokenFilterSet

    def create(self, request, *args, **kwargs) -> Response:  # noqa: D102 - shows the value once
        data = self.validated_input()
        self.authorize("create", data)
        token, value = services.ci_token_create(actor=request.user, **data)
        token.token = value
        return Response(s.ProjectTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    def destroy_object(self, obj):  # noqa: D102
        services.ci_token_revoke(actor=self.request.user, token=obj)


class MeView(APIView):
    """Who the caller is, and their role on each project they can see."""

    @extend_schema(responses=s.MeSerializer)
    def get(self, request) -> Response:
        """Return the caller's identity and roles."""
        user = request.user
        if not is_person(user):
            raise PermissionDenied("CI and run tokens have no personal identity; use a personal token.")
        roles = {project.slug: role_for(user, project).value for project in selectors.project_list(user=user)}
        data = {"username": user.get_username(), "is_staff": user.is_staff, "is_superuser": user.is_superuser, "roles": roles}
        return Response(s.MeSerializer(data).data)
