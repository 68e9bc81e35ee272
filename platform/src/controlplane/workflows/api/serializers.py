"""Workflow API serializers."""

from rest_framework import serializers

from controlplane.api.fields import VisibleRelatedField, VisibleSlugRelatedField
from controlplane.core.errors import ValidationFailed
from controlplane.tenancy.models.teams import slug_validator
from controlplane.tenancy.selectors import project_list
from controlplane.workflows.models import Workflow, WorkflowVersion
from controlplane.workflows.models.workflows import commit_validator, digest_validator
from controlplane.workflows.selectors import workflow_list


def _validated_config(value):
    """The config validated by the workflow config schema; errors are nested under `config.`."""
    from controlplane.workflows.registration import validated_config

    try:
        return validated_config(value)
    except ValidationFailed as exc:
        raise serializers.ValidationError(exc.extra["fields"]) from None


class WorkflowSerializer(serializers.ModelSerializer):
    """A workflow."""

    class Meta:
        model = Workflow
        fields = ["id", "project", "name", "description", "created_at", "updated_at"]


class WorkflowCreateSerializer(serializers.Serializer):
    """Input to create a workflow."""

    project = VisibleRelatedField(selector=project_list)
    name = serializers.CharField(max_length=63, validators=[slug_validator])
    description = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, attrs):  # noqa: D102
        if Workflow.objects.filter(project=attrs["project"], name=attrs["name"]).exists():
            raise serializers.ValidationError({"name": [f"This project already has a workflow named {attrs['name']!r}."]})
        return attrs


class WorkflowUpdateSerializer(serializers.Serializer):
    """Input to change a workflow's description."""

    description = serializers.CharField(allow_blank=True)


class VersionSerializer(serializers.ModelSerializer):
    """A registered version: the image, the commit and the config it was built from."""

    class Meta:
        model = WorkflowVersion
        fields = [
            "id", "workflow", "image_ref", "image_digest", "git_repository", "git_commit_sha", "git_branch",
            "git_author", "git_message", "config", "config_hash", "registered_by_label", "created_at",
        ]


class BuildSerializer(serializers.Serializer):
    """What every registration of a build carries: the pushed image, its git metadata and flowyard.json."""

    image_ref = serializers.CharField(max_length=500)
    image_digest = serializers.CharField(max_length=71, validators=[digest_validator])
    git_repository = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    git_commit_sha = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                           validators=[commit_validator])
    git_branch = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    git_author = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    git_message = serializers.CharField(required=False, allow_blank=True, default="")
    config = serializers.JSONField(help_text="The content of flowyard.json, validated by the workflow config schema.")

    def validate_config(self, value):  # noqa: D102
        return _validated_config(value)

    def validate(self, attrs):  # noqa: D102 - the project's per-run quotas, once the project is known
        from controlplane.workflows.registration import quota_errors

        project = attrs["project"] if "project" in attrs else attrs["workflow"].project
        if errors := quota_errors(project, attrs["config"]):
            raise serializers.ValidationError({"config": errors})
        return attrs


class VersionCreateSerializer(BuildSerializer):
    """Input to register a built image of an existing workflow, by id."""

    workflow = VisibleRelatedField(selector=workflow_list)


class RegistrationSerializer(BuildSerializer):
    """Input from CI: the project by slug and the workflow by name (created on its first build)."""

    project = VisibleSlugRelatedField(selector=project_list)
    workflow = serializers.CharField(max_length=63, validators=[slug_validator], help_text="The config's name.")


class RegistrationResultSerializer(serializers.Serializer):
    """What a registration did."""

    version = VersionSerializer()
    created = serializers.BooleanField(help_text="False when this digest was registered before.")
    deployment = serializers.SerializerMethodField()

    def get_deployment(self, result) -> dict | None:
        """The `test` deployment a branch build was deployed to, if any."""
        from controlplane.deployments.api.serializers import DeploymentSerializer

        return DeploymentSerializer(result.deployment).data if result.deployment else None
