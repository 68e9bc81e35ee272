"""Workflow API: workflows and their registered versions."""

from rest_framework import status

from controlplane.api.views import CreateMixin, DestroyMixin, ListRetrieveMixin, ScopedViewSet, UpdateMixin
from controlplane.workflows import filtersets, registration, selectors, services
from controlplane.workflows.api import serializers as s
from flowyard_spec.states import Role

V, D, A = Role.VIEWER, Role.DEVELOPER, Role.ADMIN


class WorkflowViewSet(ListRetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """Workflows of a project: developers create and describe them, admins delete them."""

    selector = staticmethod(selectors.workflow_list)
    output_serializer = s.WorkflowSerializer
    input_serializers = {"create": s.WorkflowCreateSerializer, "partial_update": s.WorkflowUpdateSerializer}
    action_roles = {"list": V, "retrieve": V, "create": D, "partial_update": D, "destroy": A}
    filterset_class = filtersets.WorkflowFilterSet

    def create_object(self, data):  # noqa: D102
        return services.workflow_create(actor=self.request.user, **data)

    def update_object(self, obj, data):  # noqa: D102
        return services.workflow_update(actor=self.request.user, workflow=obj, **data)

    def destroy_object(self, obj):  # noqa: D102
        services.workflow_delete(actor=self.request.user, workflow=obj)


class VersionViewSet(ListRetrieveMixin, CreateMixin, ScopedViewSet):
    """Registered versions (immutable): CI tokens and developers register them."""

    selector = staticmethod(selectors.version_list)
    output_serializer = s.VersionSerializer
    input_serializers = {"create": s.VersionCreateSerializer}
    create_responses = {201: s.VersionSerializer, 200: s.VersionSerializer}
    action_roles = {"list": V, "retrieve": V, "create": D}
    ci_actions = frozenset({"create"})
    project_path = "workflow.project"
    filterset_class = filtersets.VersionFilterSet

    def create(self, request, *args, **kwargs):  # noqa: D102 - 201 when new, 200 when the digest was known
        data = self.validated_input()
        version, created = services.version_register(actor=request.user, **data)
        return self.respond(version, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class RegistrationViewSet(CreateMixin, ScopedViewSet):
    """CI registers a pushed image here: the version is recorded and a branch build is deployed to `test`."""

    selector = staticmethod(selectors.version_list)
    output_serializer = s.RegistrationResultSerializer
    input_serializers = {"create": s.RegistrationSerializer}
    create_responses = {201: s.RegistrationResultSerializer, 200: s.RegistrationResultSerializer}
    action_roles = {"create": D}
    ci_actions = frozenset({"create"})

    def create(self, request, *args, **kwargs):  # noqa: D102 - 201 when new, 200 when the digest was known
        data = self.validated_input()
        project, workflow_name = data.pop("project"), data.pop("workflow")
        result = registration.version_register_build(
            actor=request.user, project=project, workflow_name=workflow_name, **data
        )
        return self.respond(result, status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
