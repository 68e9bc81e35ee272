"""Deployment API serializers."""

from rest_framework import serializers
from typing_extensions import override

from controlplane.api.fields import VisibleRelatedField
from controlplane.deployments.models import Deployment, Environment, Promotion
from controlplane.deployments.selectors import environment_list
from controlplane.tenancy.models.teams import slug_validator
from controlplane.tenancy.selectors import project_list
from controlplane.workflows.selectors import version_list, workflow_list


class EnvironmentSerializer(serializers.ModelSerializer):
    """An environment of a project."""

    class Meta:
        model = Environment
        fields = ["id", "project", "name", "order", "requires_approval", "description", "created_at", "updated_at"]


class EnvironmentCreateSerializer(serializers.Serializer):
    """Input to add an environment."""

    project = VisibleRelatedField(selector=project_list)
    name = serializers.CharField(max_length=63, validators=[slug_validator])
    order = serializers.IntegerField(min_value=0, max_value=32767)
    requires_approval = serializers.BooleanField(required=False, default=False)
    description = serializers.CharField(required=False, allow_blank=True, default="")

    @override
    def validate(self, attrs):
        existing = Environment.objects.filter(project=attrs["project"])
        if existing.filter(name=attrs["name"]).exists():
            raise serializers.ValidationError({"name": [f"This project already has an environment {attrs['name']!r}."]})
        if existing.filter(order=attrs["order"]).exists():
            raise serializers.ValidationError({"order": ["Another environment of this project has this order."]})
        return attrs


class EnvironmentUpdateSerializer(serializers.Serializer):
    """Input to change an environment (its name is fixed)."""

    order = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    requires_approval = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)

    @override
    def validate_order(self, value):
        environment = self.instance
        if Environment.objects.filter(project=environment.project, order=value).exclude(pk=environment.pk).exists():
            raise serializers.ValidationError("Another environment of this project has this order.")
        return value


class DeploymentSerializer(serializers.ModelSerializer):
    """A workflow's deployment to one environment."""

    environment_name = serializers.CharField(source="environment.name", read_only=True)
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)
    project = serializers.UUIDField(source="environment.project_id", read_only=True)

    class Meta:
        model = Deployment
        fields = [
            "id", "project", "workflow", "workflow_name", "environment", "environment_name", "version", "is_paused",
            "deployed_at", "deployed_by_label", "created_at", "updated_at",
        ]


class DeploymentCreateSerializer(serializers.Serializer):
    """Input to deploy a version of a workflow to an environment."""

    workflow = VisibleRelatedField(selector=workflow_list)
    environment = VisibleRelatedField(selector=environment_list)
    version = VisibleRelatedField(selector=version_list)
    is_paused = serializers.BooleanField(required=False, default=False)

    @override
    def validate(self, attrs):
        existing = Deployment.objects.filter(workflow=attrs["workflow"], environment=attrs["environment"]).first()
        if existing is not None:
            raise serializers.ValidationError(
                {"environment": [f"Already deployed there; PATCH deployment {existing.pk} to change its version."]}
            )
        return attrs


class DeploymentUpdateSerializer(serializers.Serializer):
    """Input to change the deployed version or pause/resume the schedule."""

    version = VisibleRelatedField(selector=version_list, required=False)
    is_paused = serializers.BooleanField(required=False)

    @override
    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["Give a version, is_paused, or both."]})
        return attrs


class PromotionSerializer(serializers.ModelSerializer):
    """A promotion request and its decision."""

    class Meta:
        model = Promotion
        fields = [
            "id", "workflow", "version", "source_environment", "target_environment", "state", "requested_by_label",
            "requested_for", "decided_at", "comment", "merge_request_url", "created_at", "updated_at",
        ]


class PromotionCreateSerializer(serializers.Serializer):
    """Input to request the promotion of the version tested in one environment to the next."""

    workflow = VisibleRelatedField(selector=workflow_list)
    source_environment = VisibleRelatedField(selector=environment_list)
    target_environment = VisibleRelatedField(selector=environment_list)
    version = VisibleRelatedField(selector=version_list, required=False)
    requested_for = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    merge_request_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")


class PromotionDecisionSerializer(serializers.Serializer):
    """Input to approve or reject a promotion."""

    comment = serializers.CharField(required=False, allow_blank=True, default="")
