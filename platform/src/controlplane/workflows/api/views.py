"""Workflow API: workflows and their registered versions."""

from typing_extensions import override

from controlplane.api.views import CreateMixin, DestroyMixin, ListRetrieveMixin, ScopedViewSet, UpdateMixin
from controlplane.workflows import filtersets, selectors, services
from controlplane.workflows.api import serializers
from flowyard_spec.states import Role


class WorkflowViewSet(ListRetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """Workflows of a project: developers create and describe them, admins delete them."""

    selector = staticmethod(selectors.workflow_list)
    output_serializer = serializers.WorkflowSerializer
    input_serializers = {
        "create": serializers.WorkflowCreateSerializer,
        "partial_update": serializers.WorkflowUpdateSerializer,
    }
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.DEVELOPER,
                    "partial_update": Role.DEVELOPER, "destroy": Role.ADMIN}
    filterset_class = filtersets.WorkflowFilterSet

    @override
    def create_object(self, data):
        return services.workflow_create(actor=self.request.user, **data)

    @override
    def update_object(self, obj, data):
        return services.workflow_update(actor=self.request.user, workflow=obj, **data)

    @override
    def destroy_object(self, obj):
        services.workflow_delete(actor=self.request.user, workflow=obj)


class VersionViewSet(ListRetrieveMixin, ScopedViewSet):
    """Registered versions (immutable). They are registered through the registration app, which serves POST."""

    selector = staticmethod(selectors.version_list)
    output_serializer = serializers.VersionSerializer
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER}
    project_path = "workflow.project"
    filterset_class = filtersets.VersionFilterSet
