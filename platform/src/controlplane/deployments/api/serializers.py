"""Deployment API serializers."""

from rest_framework import serializers
from typing_extensions import override

from controlplane.api.fields import VisibleRelatedField
from controlplane.deployments.models import Deployment, Environment, EnvironmentKind, Promotion, ReleaseRules
from controlplane.deployments.selectors import environment_list
from controlplane.tenancy.models.teams import slug_validator
from controlplane.tenancy.selectors import project_list
from controlplane.workflows.selectors import version_list, workflow_list
from flowyard_spec.pipelines import PREVIEW_PREFIX


class EnvironmentSerializer(serializers.ModelSerializer):
    """An environment of a project."""

    class Meta:
        model = Environment
        fields = ["id", "project", "name", "order", "requires_approval", "required_approvals", "description", "kind",
                  "base_environment",
                  "merge_request_iid", "merge_request_url", "source_branch", "author", "last_pipeline_at",
                  "torn_down_at", "created_at", "updated_at"]


class EnvironmentCreateSerializer(serializers.Serializer):
    """Input to add an environment."""

    project = VisibleRelatedField(selector=project_list)
    name = serializers.CharField(max_length=63, validators=[slug_validator])
    order = serializers.IntegerField(min_value=0, max_value=32767)
    requires_approval = serializers.BooleanField(required=False, default=False)
    required_approvals = serializers.IntegerField(min_value=1, max_value=10, required=False, default=1)
    description = serializers.CharField(required=False, allow_blank=True, default="")

    @override
    def validate(self, attrs):
        existing = Environment.objects.filter(project=attrs["project"])
        if attrs["name"].startswith(PREVIEW_PREFIX):
            raise serializers.ValidationError({"name": [
                f"Names starting with {PREVIEW_PREFIX!r} belong to merge requests' preview environments, which CI "
                "makes; choose another name."]})
        if existing.filter(name=attrs["name"]).exists():
            raise serializers.ValidationError({"name": [f"This project already has an environment {attrs['name']!r}."]})
        if existing.filter(order=attrs["order"], kind=EnvironmentKind.STANDARD).exists():
            raise serializers.ValidationError({"order": ["Another environment of this project has this order."]})
        return attrs


class EnvironmentUpdateSerializer(serializers.Serializer):
    """Input to change an environment (its name is fixed)."""

    order = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    requires_approval = serializers.BooleanField(required=False)
    required_approvals = serializers.IntegerField(min_value=1, max_value=10, required=False)
    description = serializers.CharField(required=False, allow_blank=True)

    @override
    def validate_order(self, value):
        environment = self.instance
        if environment.is_preview:
            raise serializers.ValidationError("A preview environment's order is its base environment's.")
        if Environment.objects.filter(project=environment.project, order=value, kind=EnvironmentKind.STANDARD) \
                .exclude(pk=environment.pk).exists():
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
    """A promotion request, the approvals it has and needs, and its decision."""

    approvals = serializers.SerializerMethodField()
    required_approvals = serializers.IntegerField(source="target_environment.required_approvals", read_only=True)
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)
    source_environment_name = serializers.CharField(source="source_environment.name", read_only=True)
    target_environment_name = serializers.CharField(source="target_environment.name", read_only=True)
    image_digest = serializers.CharField(source="version.image_digest", read_only=True)

    class Meta:
        model = Promotion
        fields = [
            "id", "workflow", "workflow_name", "version", "image_digest", "source_environment",
            "source_environment_name", "target_environment", "target_environment_name", "state",
            "requested_by_label", "requested_for", "approvals", "required_approvals", "decided_at", "comment",
            "merge_request_url", "created_at", "updated_at",
        ]

    def get_approvals(self, promotion) -> list[dict]:
        """Who approved it through the API, and when (merge-request approvals are listed by the gitops app)."""
        return [{"user": approval.user.get_username(), "at": approval.at, "comment": approval.comment}
                for approval in promotion.approvals.select_related("user")]


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


class ReleaseRulesSerializer(serializers.ModelSerializer):
    """A project's release rules: where each kind of CI pipeline's build goes."""

    class Meta:
        model = ReleaseRules
        fields = ["id", "project", "branch_environment", "branch_patterns", "merge_request_previews", "preview_limit",
                  "preview_ttl_days", "default_branch_promotion", "updated_at"]


class ReleaseRulesUpdateSerializer(serializers.Serializer):
    """Input to change a project's release rules (project admins)."""

    branch_environment = serializers.CharField(
        max_length=63, required=False, allow_blank=True,
        help_text="An environment of the project that does not require approval; empty: branch builds are "
                  "registered only.")
    branch_patterns = serializers.ListField(
        child=serializers.CharField(min_length=1, max_length=255), required=False, max_length=50,
        help_text="fnmatch patterns of the branches whose builds are deployed, e.g. [\"*\"] or [\"feature/*\"].")
    merge_request_previews = serializers.BooleanField(required=False)
    preview_limit = serializers.IntegerField(min_value=1, max_value=100, required=False)
    preview_ttl_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    default_branch_promotion = serializers.BooleanField(required=False)

    def validate_branch_environment(self, value: str) -> str:
        """An existing open standing environment of the project (CI never deploys to production)."""
        if not value:
            return value
        environment = Environment.objects.filter(project=self.instance.project, name=value).first()
        if environment is None or environment.is_preview:
            names = ", ".join(Environment.objects.filter(project=self.instance.project, kind=EnvironmentKind.STANDARD)
                              .values_list("name", flat=True))
            raise serializers.ValidationError(f"Project {self.instance.project.slug} has no environment {value!r} "
                                              f"(it has {names}).")
        if environment.requires_approval:
            raise serializers.ValidationError(
                f"{value} requires approval: CI never deploys to it directly, whatever the rules say; builds reach "
                "it through an approved promotion. Pick an open environment such as test.")
        return value
