"""Scheduling API: trigger grants (/api/v1/trigger-grants/), set by the downstream project's admin.

The upstream project is named by slug or id and must be one whose record the admin can see (a project they
hold a role in; platform staff see every project's record). Any other name answers "not found or not visible",
whether or not such a project exists, so the endpoint cannot be used to discover other teams' projects.
"""

from __future__ import annotations

import uuid

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from typing_extensions import override

from controlplane.api.views import CreateMixin, DestroyMixin, ListRetrieveMixin, ScopedViewSet
from controlplane.scheduling import grants
from controlplane.scheduling.models import TriggerGrant
from controlplane.tenancy.selectors import project_directory, project_list
from flowyard_spec.states import Role


@extend_schema_field(OpenApiTypes.STR)
class ProjectReferenceField(serializers.Field):
    """A project by id or slug, looked up among the projects the caller can see."""

    default_error_messages = {
        "not_visible": "No such project among the projects you can see: it does not exist, or is not visible to you.",
        "invalid": "Give a project slug or id.",
    }

    def __init__(self, selector, **kwargs) -> None:
        self.selector = selector
        super().__init__(**kwargs)

    @override
    def to_internal_value(self, data):
        if not isinstance(data, str) or not data or len(data) > 100:
            self.fail("invalid")
        visible = self.selector(user=self.context["request"].user)
        try:
            lookup = {"pk": uuid.UUID(data)}
        except ValueError:
            lookup = {"slug": data}
        project = visible.filter(**lookup).first()
        if project is None:
            self.fail("not_visible")
        return project

    @override
    def to_representation(self, value):
        return str(value.pk)


class TriggerGrantSerializer(serializers.ModelSerializer):
    """A grant: workflows of `upstream_project` may start workflows of `project` on success."""

    project_slug = serializers.CharField(source="project.slug", read_only=True)
    upstream_project_slug = serializers.CharField(source="upstream_project.slug", read_only=True)

    class Meta:
        model = TriggerGrant
        fields = ["id", "project", "project_slug", "upstream_project", "upstream_project_slug", "created_by_label",
                  "created_at"]


class TriggerGrantCreateSerializer(serializers.Serializer):
    """Input to allow another project to trigger this project's workflows."""

    project = ProjectReferenceField(selector=project_list, help_text="The downstream project (slug or id): yours.")
    upstream_project = ProjectReferenceField(
        selector=project_directory, help_text="The project whose workflows may trigger (slug or id).")


class TriggerGrantFilterSet(django_filters.FilterSet):
    """Filter grants by downstream or upstream project."""

    project = django_filters.UUIDFilter(field_name="project_id")
    upstream_project = django_filters.UUIDFilter(field_name="upstream_project_id")

    class Meta:
        model = TriggerGrant
        fields = ["project", "upstream_project"]


class TriggerGrantViewSet(ListRetrieveMixin, CreateMixin, DestroyMixin, ScopedViewSet):
    """Trigger grants of a project: viewers read them, its admins add and withdraw them."""

    selector = staticmethod(grants.trigger_grant_list)
    output_serializer = TriggerGrantSerializer
    input_serializers = {"create": TriggerGrantCreateSerializer}
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.ADMIN, "destroy": Role.ADMIN}
    filterset_class = TriggerGrantFilterSet

    @override
    def create_object(self, data):
        return grants.trigger_grant_create(actor=self.request.user, **data)

    @override
    def destroy_object(self, obj):
        grants.trigger_grant_delete(actor=self.request.user, grant=obj)


ROUTES: list = [("trigger-grants", TriggerGrantViewSet, "trigger-grant")]  # (prefix, viewset, basename)
URLS: list = []  # plain django.urls.path() entries
