"""Alerts API: channels and rules (project admins write, members read), deliveries (project admins read)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from typing_extensions import override

from controlplane.alerts import selectors, services
from controlplane.alerts.api.serializers import (
    ChannelCreateSerializer,
    ChannelSerializer,
    ChannelUpdateSerializer,
    DeliverySerializer,
    RuleCreateSerializer,
    RuleSerializer,
    RuleUpdateSerializer,
)
from controlplane.alerts.filtersets import ChannelFilterSet, DeliveryFilterSet, RuleFilterSet
from controlplane.api.views import CreateMixin, DestroyMixin, ListRetrieveMixin, ScopedViewSet, UpdateMixin
from flowyard_spec.states import Role


class ChannelWithSecretSerializer(ChannelSerializer):
    """The create answer of a generic webhook channel: the channel and its signing secret, shown this once."""

    secret = serializers.CharField(read_only=True, help_text="The signing secret. It is never shown again.")

    class Meta(ChannelSerializer.Meta):
        fields = [*ChannelSerializer.Meta.fields, "secret"]


class ChannelViewSet(ListRetrieveMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """Where a project's alerts go. Addresses and secrets are write-only."""

    selector = staticmethod(selectors.channel_list)
    output_serializer = ChannelSerializer
    input_serializers = {"create": ChannelCreateSerializer, "partial_update": ChannelUpdateSerializer}
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.ADMIN, "partial_update": Role.ADMIN,
                    "destroy": Role.ADMIN}
    filterset_class = ChannelFilterSet

    @extend_schema(request=ChannelCreateSerializer, responses={201: ChannelWithSecretSerializer})
    def create(self, request, *args, **kwargs):
        """Create a channel; a generic webhook's answer holds its signing secret, shown this once."""
        channel, secret = services.channel_create(actor=request.user, **self.validated_input())
        data = ChannelSerializer(channel, context=self.get_serializer_context()).data
        return Response({**data, **({"secret": secret} if secret else {})}, status=status.HTTP_201_CREATED)

    @override
    def update_object(self, obj, data):
        return services.channel_update(actor=self.request.user, channel=obj, **data)

    @override
    def destroy_object(self, obj):
        services.channel_delete(actor=self.request.user, channel=obj)


class RuleViewSet(ListRetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ScopedViewSet):
    """Which events of a project go to which channels."""

    selector = staticmethod(selectors.rule_list)
    output_serializer = RuleSerializer
    input_serializers = {"create": RuleCreateSerializer, "partial_update": RuleUpdateSerializer}
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.ADMIN, "partial_update": Role.ADMIN,
                    "destroy": Role.ADMIN}
    filterset_class = RuleFilterSet

    @override
    def create_object(self, data):
        return services.rule_create(actor=self.request.user, **data)

    @override
    def update_object(self, obj, data):
        return services.rule_update(actor=self.request.user, rule=obj, **data)

    @override
    def destroy_object(self, obj):
        services.rule_delete(actor=self.request.user, rule=obj)


class DeliveryViewSet(ListRetrieveMixin, ScopedViewSet):
    """Every delivery of the project's alerts and every attempt: what was sent, what failed and why."""

    selector = staticmethod(selectors.delivery_list)
    output_serializer = DeliverySerializer
    action_roles = {"list": Role.ADMIN, "retrieve": Role.ADMIN}
    project_path = "channel.project"
    filterset_class = DeliveryFilterSet


ROUTES = [
    ("alert-channels", ChannelViewSet, "alert-channel"),
    ("alert-rules", RuleViewSet, "alert-rule"),
    ("alert-deliveries", DeliveryViewSet, "alert-delivery"),
]
