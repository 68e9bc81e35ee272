"""Deployment API: environments, deployments and promotions."""

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from typing_extensions import override

from controlplane.api.views import CreateMixin, DestroyMixin, ListRetrieveMixin, ScopedViewSet, UpdateMixin
from controlplane.deployments import filtersets, selectors, services
from controlplane.deployments.api import serializers
from flowyard_spec.states import Role


class EnvironmentViewSet(ListRetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """Environments of a project, managed by its admins."""

    selector = staticmethod(selectors.environment_list)
    output_serializer = serializers.EnvironmentSerializer
    input_serializers = {
        "create": serializers.EnvironmentCreateSerializer,
        "partial_update": serializers.EnvironmentUpdateSerializer,
    }
    action_roles = {
        "list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.ADMIN, "partial_update": Role.ADMIN,
        "destroy": Role.ADMIN,
    }
    cursor_ordering = "order"
    filterset_class = filtersets.EnvironmentFilterSet

    @override
    def create_object(self, data):
        return services.environment_create(actor=self.request.user, **data)

    @override
    def update_object(self, obj, data):
        return services.environment_update(actor=self.request.user, environment=obj, **data)

    @override
    def destroy_object(self, obj):
        services.environment_delete(actor=self.request.user, environment=obj)


class DeploymentViewSet(ListRetrieveMixin, CreateMixin, UpdateMixin, ScopedViewSet):
    """Deployments: developers manage those in open environments; protected ones need an admin (or a promotion)."""

    selector = staticmethod(selectors.deployment_list)
    output_serializer = serializers.DeploymentSerializer
    input_serializers = {
        "create": serializers.DeploymentCreateSerializer,
        "partial_update": serializers.DeploymentUpdateSerializer,
    }
    action_roles = {
        "list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.DEVELOPER, "partial_update": Role.DEVELOPER,
    }
    project_path = "environment.project"
    filterset_class = filtersets.DeploymentFilterSet
    admin_in_protected_environments = frozenset({"create", "partial_update"})


    @override
    def create_object(self, data):
        return services.deployment_set(actor=self.request.user, **data)

    @override
    def update_object(self, obj, data):
        return services.deployment_update(actor=self.request.user, deployment=obj, **data)


class PromotionViewSet(ListRetrieveMixin, CreateMixin, ScopedViewSet):
    """Promotions: developers and CI request them; approvers approve (never their own) or reject (their own too: a withdrawal)."""

    selector = staticmethod(selectors.promotion_list)
    output_serializer = serializers.PromotionSerializer
    input_serializers = {
        "create": serializers.PromotionCreateSerializer,
        "approve": serializers.PromotionDecisionSerializer,
        "reject": serializers.PromotionDecisionSerializer,
    }
    action_roles = {
        "list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.DEVELOPER, "approve": Role.APPROVER,
        "reject": Role.APPROVER,
    }
    ci_actions = frozenset({"create"})
    project_path = "workflow.project"
    filterset_class = filtersets.PromotionFilterSet

    @override
    def create_object(self, data):
        return services.promotion_request(actor=self.request.user, **data)

    @extend_schema(request=serializers.PromotionDecisionSerializer, responses=serializers.PromotionSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve: the exact version is deployed to the target environment."""
        promotion = self.get_object()
        return self.respond(services.promotion_approve(actor=request.user, promotion=promotion, **self.validated_input()))

    @extend_schema(request=serializers.PromotionDecisionSerializer, responses=serializers.PromotionSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject: nothing is deployed."""
        promotion = self.get_object()
        return self.respond(services.promotion_reject(actor=request.user, promotion=promotion, **self.validated_input()))


class ReleaseRulesViewSet(ListRetrieveMixin, UpdateMixin, ScopedViewSet):
    """Each project's release rules: where CI deploys branch, merge-request and default-branch builds. Project
    admins change them; CI never deploys to an environment that requires approval."""

    selector = staticmethod(selectors.release_rules_list)
    output_serializer = serializers.ReleaseRulesSerializer
    input_serializers = {"partial_update": serializers.ReleaseRulesUpdateSerializer}
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "partial_update": Role.ADMIN}
    filterset_class = filtersets.ReleaseRulesFilterSet
    cursor_ordering = "created_at"

    @override
    def update_object(self, obj, data):
        return services.release_rules_update(actor=self.request.user, rules=obj, **data)
