"""The API base viewset: where tenancy scoping and role checks happen, once, for every resource."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from controlplane.core.errors import PermissionDenied
from controlplane.tenancy.principals import is_ci, is_runner
from controlplane.tenancy.roles import role_for
from flowyard_spec.states import Role


def follow_path(target: Any, path: str) -> Any:
    """Walk a dotted path through dict keys (validated input) or attributes (model instances)."""
    for part in path.split("."):
        target = target[part] if isinstance(target, Mapping) else getattr(target, part)
    return target


class ScopedViewSet(viewsets.GenericViewSet):
    """Base of every API resource.

    - The queryset comes from `selector(user=...)`, so other tenants' objects are invisible (404).
    - Every action must be listed in `action_roles` with the project role it needs; an action that is
      not listed is refused, so a new action cannot be left open by accident.
    - CI tokens reach only the actions in `ci_actions`, and only in their own project.
    - Writes validate an input serializer, check the role on the target's project, call one service.
    """

    selector: ClassVar[Callable[..., QuerySet]]
    output_serializer: ClassVar[type[serializers.Serializer]]
    input_serializers: ClassVar[dict[str, type[serializers.Serializer]]] = {}
    action_roles: ClassVar[dict[str, Role]] = {}
    ci_actions: ClassVar[frozenset[str]] = frozenset()
    project_path: ClassVar[str] = "project"
    # Actions that need the admin role when the target's environment requires approval (production), and the
    # path from the target to that environment.
    admin_in_protected_environments: ClassVar[frozenset[str]] = frozenset()
    environment_path: ClassVar[str] = "environment"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    # -- scoping ---------------------------------------------------------------------------------
    def get_queryset(self) -> QuerySet:
        """The objects the caller may see, from the resource's selector."""
        return type(self).selector(user=self.request.user)

    def get_serializer_class(self) -> type[serializers.Serializer]:
        """Input serializer for writes, output serializer for everything else."""
        return self.input_serializers.get(self.action, self.output_serializer)

    def initial(self, request, *args, **kwargs) -> None:
        """Refuse unlisted actions and CI tokens outside their allowance, before anything else runs."""
        super().initial(request, *args, **kwargs)
        if self.action is None or self.action == "metadata":
            return
        if self.action not in self.action_roles:
            raise PermissionDenied(f"The action {self.action!r} has no role assigned; it is refused.")
        if is_runner(request.user):
            raise PermissionDenied("Run tokens may only report on their own run.")
        if is_ci(request.user) and self.action not in self.ci_actions:
            raise PermissionDenied(
                "CI tokens may only register versions and request promotions; use a personal token for this."
            )

    # -- authorisation ---------------------------------------------------------------------------
    def required_role(self, action: str, target: Any) -> Role:
        """The role `action` needs on `target` (a model instance, or validated input for creates)."""
        if (action in self.admin_in_protected_environments
                and follow_path(target, self.environment_path).requires_approval):
            return Role.ADMIN
        return self.action_roles[action]

    def project_of(self, target: Any) -> Any:
        """The project that owns `target`, following `project_path`."""
        return follow_path(target, self.project_path)

    def authorize(self, action: str, target: Any) -> None:
        """Raise PermissionDenied unless the caller's role on the target's project allows `action`."""
        project = self.project_of(target)
        user = self.request.user
        if is_ci(user):
            if project.pk != user.project_id:
                raise PermissionDenied("This CI token belongs to another project.")
            return
        needed = self.required_role(action, target)
        actual = role_for(user, project)
        if actual is None or not actual.includes(needed):
            raise PermissionDenied(
                f"This needs the {needed} role on project {project.slug}; you are "
                f"{actual or 'not a member'}.",
                extra={"required_role": needed.value, "your_role": actual.value if actual else None},
            )

    def get_object(self) -> Model:
        """The object named in the URL if the caller can see it (else 404) and may act on it (else 403)."""
        obj = super().get_object()
        self.authorize(self.action, obj)
        return obj

    def validated_input(self, action: str | None = None, instance: Model | None = None) -> dict[str, Any]:
        """Validate the request body with the action's input serializer; 400 names the fields."""
        serializer_class = self.input_serializers[action or self.action]
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context(), instance=instance)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def respond(self, obj: Model, status_code: int = status.HTTP_200_OK) -> Response:
        """Render `obj` with the output serializer."""
        return Response(self.output_serializer(obj, context=self.get_serializer_context()).data, status=status_code)


class ListRetrieveMixin:
    """GET list (filtered, cursor-paginated) and GET detail."""

    def list(self, request, *args, **kwargs) -> Response:
        """List the objects the caller may see."""
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        data = self.output_serializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    def retrieve(self, request, *args, **kwargs) -> Response:
        """Show one object."""
        return self.respond(self.get_object())


class CreateMixin:
    """POST: validate input, authorize on the target project, call `create_object` (one service)."""

    def create(self, request, *args, **kwargs) -> Response:
        """Create an object."""
        data = self.validated_input()
        self.authorize("create", data)
        return self.respond(self.create_object(data), status.HTTP_201_CREATED)

    def create_object(self, data: dict[str, Any]) -> Model:  # pragma: no cover - each resource defines it
        """Call the resource's create service."""
        raise NotImplementedError


class UpdateMixin:
    """PATCH: authorize on the object, validate input, call `update_object` (one service)."""

    def partial_update(self, request, *args, **kwargs) -> Response:
        """Change an object."""
        obj = self.get_object()
        data = self.validated_input(instance=obj)
        return self.respond(self.update_object(obj, data))

    def update_object(self, obj: Model, data: dict[str, Any]) -> Model:  # pragma: no cover
        """Call the resource's update service."""
        raise NotImplementedError


class DestroyMixin:
    """DELETE: authorize on the object, call `destroy_object` (one service)."""

    def destroy(self, request, *args, **kwargs) -> Response:
        """Delete (or revoke) an object."""
        self.destroy_object(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def destroy_object(self, obj: Model) -> None:  # pragma: no cover
        """Call the resource's delete service."""
        raise NotImplementedError
