"""The API base viewset: where tenancy scoping and access checks happen, once, for every resource."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from controlplane.api.access import Requirement, as_requirement, follow_path
from controlplane.core.errors import FlowyardError, PermissionDenied
from controlplane.tenancy.principals import is_ci, is_runner
from flowyard_spec.states import Role


class AccessNotChecked(FlowyardError):
    """An action answered without its declared access having been checked: a bug, refused rather than served."""

    code = "access_not_checked"
    http_status = 500


class ScopedViewSet(viewsets.GenericViewSet):
    """Base of every API resource.

    - The queryset comes from `selector(user=...)`, so other tenants' objects are invisible (404).
    - Every action must be listed in `action_roles` with what it needs: a `Role` on the target's project or a
      `Requirement` (controlplane/api/access.py); an action that is not listed is refused, so a new action
      cannot be left open by accident.
    - The need is checked where the target becomes known: `get_object()` (actions on an object) and
      `validated_input()` (creates and other actions on the collection). `list` is scoped by the selector.
      A response from an action that was never checked is replaced by a 500 `access_not_checked`.
    - CI tokens reach only the actions in `ci_actions`, and only in their own project.
    """

    selector: ClassVar[Callable[..., QuerySet]]
    output_serializer: ClassVar[type[serializers.Serializer]]
    input_serializers: ClassVar[dict[str, type[serializers.Serializer]]] = {}
    action_roles: ClassVar[dict[str, Role | Requirement]] = {}
    ci_actions: ClassVar[frozenset[str]] = frozenset()
    project_path: ClassVar[str] = "project"
    # Actions that need the admin role when the target's environment requires approval (production), and the
    # path from the target to that environment.
    admin_in_protected_environments: ClassVar[frozenset[str]] = frozenset()
    environment_path: ClassVar[str] = "environment"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    access_checked = False

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
            self.access_checked = True  # OPTIONS and unknown methods: DRF answers without touching data
            return
        if self.action not in self.action_roles:
            raise PermissionDenied(f"The action {self.action!r} has no role assigned; it is refused.")
        if is_runner(request.user):
            raise PermissionDenied("Run tokens may only report on their own run.")
        if is_ci(request.user) and self.action not in self.ci_actions:
            raise PermissionDenied(
                "CI tokens may only register versions, request promotions, start and follow smoke runs and tear "
                "down previews; use a personal token for this."
            )
        if self.action == "list":
            self.access_checked = True  # the selector returns only what the caller may see

    def finalize_response(self, request, response, *args, **kwargs):
        """Fail closed: a successful answer from an action whose access was never checked is not sent."""
        if response.status_code < 400 and not self.access_checked:
            response = self.handle_exception(AccessNotChecked(
                f"The action {self.action!r} answered without checking access; it is refused. "
                "Fetch the object with get_object() or the input with validated_input()."
            ))
        return super().finalize_response(request, response, *args, **kwargs)

    # -- authorisation ---------------------------------------------------------------------------
    def role_needed(self, action: str, target: Any, declared: Role) -> Role:
        """The role `action` needs on `target`: the declared one, or admin in a protected environment."""
        if (action in self.admin_in_protected_environments
                and follow_path(target, self.environment_path).requires_approval):
            return Role.ADMIN
        return declared

    def project_of(self, target: Any) -> Any:
        """The project that owns `target`, following `project_path`."""
        return follow_path(target, self.project_path)

    def authorize(self, action: str, target: Any) -> None:
        """Raise PermissionDenied unless the caller meets what `action` declares on `target`."""
        as_requirement(self.action_roles[action]).check(self, action, target)
        self.access_checked = True

    def get_object(self) -> Model:
        """The object named in the URL if the caller can see it (else 404) and may act on it (else 403)."""
        obj = super().get_object()
        self.authorize(self.action, obj)
        return obj

    def validated_input(self, action: str | None = None, instance: Model | None = None) -> dict[str, Any]:
        """Validate the request body with the action's input serializer; 400 names the fields.

        On a collection action (a create) the validated input is the target, so access is checked here.
        """
        action = action or self.action
        serializer_class = self.input_serializers[action]
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context(), instance=instance)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if not self.detail:
            self.authorize(action, data)
        return data

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
    """POST: validate input (which checks access on it), call `create_object` (one service)."""

    def create(self, request, *args, **kwargs) -> Response:
        """Create an object."""
        return self.respond(self.create_object(self.validated_input()), status.HTTP_201_CREATED)

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
