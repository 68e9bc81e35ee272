"""Serializers of the alerts API: channels (target and secret write-only), rules, and deliveries with attempts."""

from __future__ import annotations

from rest_framework import serializers

from controlplane.alerts.models import AlertEvent, Channel, ChannelKind, Delivery, DeliveryAttempt, Rule
from controlplane.alerts.selectors import channel_list
from controlplane.api.fields import VisibleRelatedField
from controlplane.tenancy.selectors import project_list


class ChannelSerializer(serializers.ModelSerializer):
    """A channel as anyone in the project sees it: never its address or secret, only a hint."""

    class Meta:
        model = Channel
        fields = ["id", "project", "name", "kind", "target_hint", "is_enabled", "rate_limit_count",
                  "rate_limit_seconds", "created_at", "updated_at"]


class ChannelCreateSerializer(serializers.Serializer):
    """Input to create a channel."""

    project = VisibleRelatedField(selector=project_list)
    name = serializers.SlugField(max_length=63)
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    target = serializers.CharField(max_length=2000, help_text="E-mail addresses (comma-separated) or the webhook URL. "
                                                              "Write-only: never shown again.")
    secret = serializers.CharField(max_length=200, required=False, allow_blank=True, min_length=16,
                                   help_text="Generic webhooks: the signing secret; left out, one is made and shown "
                                             "once in the answer.")
    rate_limit_count = serializers.IntegerField(min_value=1, max_value=1000, default=10)
    rate_limit_seconds = serializers.IntegerField(min_value=10, max_value=86400, default=600)
    is_enabled = serializers.BooleanField(default=True)


class ChannelUpdateSerializer(serializers.Serializer):
    """Input to change a channel (a new target or secret replaces the old one)."""

    name = serializers.SlugField(max_length=63, required=False)
    target = serializers.CharField(max_length=2000, required=False)
    secret = serializers.CharField(max_length=200, required=False, min_length=16)
    rate_limit_count = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    rate_limit_seconds = serializers.IntegerField(min_value=10, max_value=86400, required=False)
    is_enabled = serializers.BooleanField(required=False)


class RuleSerializer(serializers.ModelSerializer):
    """A rule: which events, filtered how, go to which channels."""

    channels = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Rule
        fields = ["id", "project", "name", "events", "environments", "workflows", "channels", "run_long_seconds",
                  "run_long_p95_factor", "is_enabled", "created_at", "updated_at"]


class _RuleFields(serializers.Serializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=AlertEvent.choices), max_length=20)
    environments = serializers.ListField(child=serializers.SlugField(max_length=63), max_length=50, required=False)
    workflows = serializers.ListField(child=serializers.SlugField(max_length=63), max_length=200, required=False)
    channels = serializers.ListField(child=VisibleRelatedField(selector=channel_list), max_length=20)
    run_long_seconds = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    run_long_p95_factor = serializers.FloatField(min_value=1.0, max_value=100.0, required=False, allow_null=True)
    is_enabled = serializers.BooleanField(required=False)


class RuleCreateSerializer(_RuleFields):
    """Input to create a rule."""

    project = VisibleRelatedField(selector=project_list)
    name = serializers.SlugField(max_length=63)


class RuleUpdateSerializer(_RuleFields):
    """Input to change a rule (every field optional)."""

    name = serializers.SlugField(max_length=63, required=False)
    events = serializers.ListField(child=serializers.ChoiceField(choices=AlertEvent.choices), max_length=20,
                                   required=False)
    channels = serializers.ListField(child=VisibleRelatedField(selector=channel_list), max_length=20, required=False)


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    """One attempt: when, whether the channel accepted it, its answer or error."""

    class Meta:
        model = DeliveryAttempt
        fields = ["number", "at", "ok", "status_code", "error", "duration_ms"]


class DeliverySerializer(serializers.ModelSerializer):
    """A delivery of an alert (or of a digest) to a channel, with every attempt."""

    project = serializers.UUIDField(source="channel.project_id", read_only=True)
    channel_name = serializers.CharField(source="channel.name", read_only=True)
    channel_kind = serializers.CharField(source="channel.kind", read_only=True)
    rule = serializers.UUIDField(source="alert.rule_id", read_only=True, allow_null=True, default=None)
    event = serializers.CharField(source="alert.event", read_only=True, default="digest")
    title = serializers.SerializerMethodField()
    run = serializers.UUIDField(source="alert.run_id", read_only=True, allow_null=True, default=None)
    attempt_log = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "project", "channel", "channel_name", "channel_kind", "rule", "event", "title", "run", "state",
                  "attempts", "next_attempt_at", "sent_at", "last_error", "folded_into", "attempt_log", "created_at"]

    def get_title(self, delivery: Delivery) -> str:
        """The alert's title, or the digest's."""
        return delivery.alert.title if delivery.alert_id else "Digest of alerts held by the rate limit"
