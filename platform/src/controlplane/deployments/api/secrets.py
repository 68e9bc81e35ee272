"""Secrets API: write-only values. Viewers see names and dates; admins set (create or replace) and delete."""

from __future__ import annotations

import django_filters
from rest_framework import serializers
from typing_extensions import override

from controlplane.api.fields import VisibleRelatedField
from controlplane.api.views import CreateMixin, DestroyMixin, ListRetrieveMixin, ScopedViewSet
from controlplane.deployments import secrets as services
from controlplane.deployments.models import EnvironmentSecret
from controlplane.deployments.selectors import environment_list
from flowyard_spec.states import Role


class SecretSerializer(serializers.ModelSerializer):
    """A secret of an environment: its name and dates, never its value."""

    class Meta:
        model = EnvironmentSecret
        fields = ["id", "environment", "name", "created_at", "updated_at", "created_by_label"]


class SecretSetSerializer(serializers.Serializer):
    """Input to set a secret: creates it, or replaces the value of the one with this name."""

    environment = VisibleRelatedField(selector=environment_list)
    name = serializers.CharField(
        max_length=services.MAX_NAME_LENGTH,
        help_text=f"An environment variable name matching {services.SECRET_NAME_PATTERN}, not starting with "
                  f"{services.RESERVED_PREFIX} (reserved for the runner)",
    )
    # Kept exactly as sent (no whitespace trimming: a key file's final newline is part of it), never echoed.
    value = serializers.CharField(
        write_only=True, trim_whitespace=False, allow_blank=True, style={"input_type": "password"},
        help_text=f"The value, at most {services.MAX_VALUE_BYTES} bytes in UTF-8. Write-only: no response shows it.",
    )

    @override
    def validate_name(self, value):
        if problems := services.secret_name_problems(value):
            raise serializers.ValidationError(problems)
        return value

    @override  # the messages never quote the value
    def validate_value(self, value):
        if problems := services.secret_value_problems(value):
            raise serializers.ValidationError(problems)
        return value


class SecretFilterSet(django_filters.FilterSet):
    """Filter secrets by project, environment or name."""

    project = django_filters.UUIDFilter(field_name="environment__project_id", help_text="Only this project's secrets.")
    environment = django_filters.UUIDFilter(field_name="environment_id", help_text="Only this environment's secrets.")

    class Meta:
        model = EnvironmentSecret
        fields = ["project", "environment", "name"]


class SecretViewSet(ListRetrieveMixin, CreateMixin, DestroyMixin, ScopedViewSet):
    """Secrets of an environment. POST sets one (creating or replacing it, 201); there is no PATCH."""

    selector = staticmethod(services.secret_list)
    output_serializer = SecretSerializer
    input_serializers = {"create": SecretSetSerializer}
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.ADMIN, "destroy": Role.ADMIN}
    project_path = "environment.project"
    filterset_class = SecretFilterSet

    def create(self, request, *args, **kwargs):
        """Set a secret: create it, or replace the value of the environment's secret of that name (201 either way)."""
        return super().create(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        """Delete a secret: runs launched afterwards no longer get it."""
        return super().destroy(request, *args, **kwargs)

    @override
    def create_object(self, data):
        return services.secret_set(actor=self.request.user, **data)

    @override
    def destroy_object(self, obj):
        services.secret_delete(actor=self.request.user, secret=obj)
