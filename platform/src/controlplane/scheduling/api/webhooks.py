"""Scheduling API: webhooks. `/webhooks/` manages a deployment's webhook; `/hooks/{id}/` is the URL callers POST to."""

from __future__ import annotations

from django.http import Http404
from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from typing_extensions import override

from controlplane.api.fields import VisibleRelatedField
from controlplane.api.views import DestroyMixin, ListRetrieveMixin, ScopedViewSet, UpdateMixin
from controlplane.deployments.selectors import deployment_list
from controlplane.scheduling import webhooks as services
from controlplane.scheduling.filtersets import WebhookFilterSet
from controlplane.scheduling.models import DeploymentWebhook
from controlplane.scheduling.payload_mapping import MAX_SOURCE_LENGTH
from flowyard_spec.states import Role

MAPPING_HELP = (
    "Parameter name → where its value is in a delivery's JSON body: a JSON pointer (RFC 6901, e.g. "
    "'/object_attributes/iid') or a template with '{{ /pointer }}' placeholders (e.g. 'branch-{{ /ref }}'). "
    "Values are typed like the parameter's declared default. With a mapping, only mapped values are taken from "
    "the body; {} (the default) means the body is the parameter overrides."
)


def mapping_field(**kwargs) -> serializers.DictField:
    """The `parameter_mapping` field: an object of parameter names to pointer or template strings."""
    child = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=MAX_SOURCE_LENGTH)
    return serializers.DictField(child=child, help_text=MAPPING_HELP, **kwargs)


class WebhookSerializer(serializers.ModelSerializer):
    """A deployment's webhook: where to POST, and whether it is enabled. Never its secret."""

    project = serializers.UUIDField(source="deployment.environment.project_id", read_only=True)
    workflow = serializers.UUIDField(source="deployment.workflow_id", read_only=True)
    workflow_name = serializers.CharField(source="deployment.workflow.name", read_only=True)
    environment = serializers.UUIDField(source="deployment.environment_id", read_only=True)
    environment_name = serializers.CharField(source="deployment.environment.name", read_only=True)
    url = serializers.SerializerMethodField(help_text="The URL to POST deliveries to.")
    parameter_mapping = mapping_field(read_only=True)

    class Meta:
        model = DeploymentWebhook
        fields = [
            "id", "project", "deployment", "workflow", "workflow_name", "environment", "environment_name", "url",
            "is_enabled", "parameter_mapping", "created_by_label", "created_at", "updated_at",
        ]

    @override
    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, webhook: DeploymentWebhook) -> str:
        relative = reverse("api:webhook-delivery", kwargs={"pk": webhook.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(relative) if request is not None else relative


class WebhookWithSecretSerializer(WebhookSerializer):
    """The create and rotate answer: the webhook and its secret, shown this once."""

    secret = serializers.CharField(read_only=True, help_text="The webhook's secret. It is never shown again.")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class WebhookCreateSerializer(serializers.Serializer):
    """Input to give a deployment its webhook."""

    deployment = VisibleRelatedField(selector=deployment_list)
    parameter_mapping = mapping_field(required=False)


class WebhookUpdateSerializer(serializers.Serializer):
    """Input to enable or disable a webhook, or to replace its parameter mapping."""

    is_enabled = serializers.BooleanField(
        required=False, help_text="A disabled webhook answers 404 and starts nothing."
    )
    parameter_mapping = mapping_field(required=False)


class WebhookRotateSerializer(serializers.Serializer):
    """Input to rotate a webhook's secret (nothing is needed)."""


class WebhookViewSet(ListRetrieveMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """Webhooks of deployments: developers manage them (admins in environments that require approval)."""

    selector = staticmethod(services.webhook_list)
    output_serializer = WebhookSerializer
    input_serializers = {
        "create": WebhookCreateSerializer, "partial_update": WebhookUpdateSerializer, "rotate": WebhookRotateSerializer,
    }
    action_roles = {
        "list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.DEVELOPER, "partial_update": Role.DEVELOPER,
        "destroy": Role.DEVELOPER, "rotate": Role.DEVELOPER,
    }
    project_path = "deployment.environment.project"
    filterset_class = WebhookFilterSet
    admin_in_protected_environments = frozenset({"create", "partial_update", "destroy", "rotate"})
    environment_path = "deployment.environment"


    @extend_schema(request=WebhookCreateSerializer, responses={201: WebhookWithSecretSerializer})
    def create(self, request, *args, **kwargs):
        """Give a deployment its webhook; the answer holds the secret, which is never shown again."""
        data = self.validated_input()
        webhook, secret = services.webhook_create(actor=request.user, **data)
        return self._with_secret(webhook, secret, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: WebhookWithSecretSerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        """Replace the secret: the old one stops working at once; the answer holds the new one, shown this once."""
        webhook, secret = services.webhook_rotate(actor=request.user, webhook=self.get_object())
        return self._with_secret(webhook, secret, status.HTTP_200_OK)

    def partial_update(self, request, *args, **kwargs):
        """Enable or disable the webhook, or replace its parameter mapping ({} removes it)."""
        return super().partial_update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        """Delete the webhook: its URL answers 404 from now on (the runs it started stay)."""
        return super().destroy(request, *args, **kwargs)

    @override
    def update_object(self, obj, data):
        return services.webhook_update(actor=self.request.user, webhook=obj, **data)

    @override
    def destroy_object(self, obj):
        services.webhook_delete(actor=self.request.user, webhook=obj)

    def _with_secret(self, webhook: DeploymentWebhook, secret: str, status_code: int) -> Response:
        webhook = self.get_queryset().get(pk=webhook.pk)
        data = WebhookSerializer(webhook, context=self.get_serializer_context()).data
        return Response({**data, "secret": secret}, status=status_code)


class WebhookDeliveryView(APIView):
    """POST here to start a run: the webhook's own secret is the credential, never a session or a user token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        auth=[],
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("X-Flowyard-Signature", str, OpenApiParameter.HEADER, required=False,
                             description='"sha256=" and the hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed with '
                                         "the secret (else send Authorization: Bearer <secret>)"),
            OpenApiParameter("X-Flowyard-Timestamp", int, OpenApiParameter.HEADER, required=False,
                             description=f"Unix seconds; within {services.REPLAY_WINDOW_SECONDS} s of the server's "
                                         "clock (signed deliveries only)"),
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                             description="A replay with the same key and body answers the first run (200)"),
        ],
        responses={
            201: OpenApiResponse(description="A run was started: {run, state, replayed: false}."),
            200: OpenApiResponse(description="A replay of an idempotency key: the first run, nothing created."),
            400: OpenApiResponse(description="The body is not a JSON object, names undeclared parameters, or does "
                                             "not fit the webhook's parameter mapping (a pointer finds nothing, a "
                                             "value of the wrong type)."),
            401: OpenApiResponse(description="No credential, a wrong one, or a stale timestamp."),
            404: OpenApiResponse(description="No such webhook, or it is disabled."),
            409: OpenApiResponse(description="Nothing is deployed, or the idempotency key came with another body."),
            413: OpenApiResponse(description="The body is larger than 64 KiB."),
        },
    )
    def post(self, request, pk):
        """Verify the delivery and start a run with the body's parameter overrides."""
        webhook = services.webhook_for_delivery(pk)
        if webhook is None:
            raise Http404
        meta = request.META
        headers = services.DeliveryHeaders(
            authorization=meta.get("HTTP_AUTHORIZATION"),
            signature=meta.get("HTTP_X_FLOWYARD_SIGNATURE"),
            timestamp=meta.get("HTTP_X_FLOWYARD_TIMESTAMP"),
            idempotency_key=meta.get("HTTP_IDEMPOTENCY_KEY"),
            content_length=meta.get("CONTENT_LENGTH"),
        )
        services.check_body_size(headers.content_length)  # before reading it
        body = request.body
        services.check_body_size(len(body))
        result = services.webhook_deliver(webhook=webhook, body=body, headers=headers)
        run = result.run
        reply = {"run": str(run.pk) if run else None, "state": run.state if run else None, "replayed": result.replayed}
        return Response(reply, status=status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED)

    @override  # a 401 says which scheme to use
    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if response is not None and response.status_code == status.HTTP_401_UNAUTHORIZED:
            response["WWW-Authenticate"] = 'Bearer realm="flowyard-webhook"'
        return response


ROUTES: list = [("webhooks", WebhookViewSet, "webhook")]  # (prefix, viewset, basename)
URLS: list = [path("hooks/<uuid:pk>/", WebhookDeliveryView.as_view(), name="webhook-delivery")]
