"""Workflow API serializers."""

from rest_framework import serializers
from typing_extensions import override

from controlplane.api.fields import VisibleRelatedField
from controlplane.core.errors import ValidationFailed
from controlplane.tenancy.models.teams import slug_validator
from controlplane.tenancy.selectors import project_list
from controlplane.workflows.configs import validated_config
from controlplane.workflows.models import Workflow, WorkflowVersion
from controlplane.workflows.models.workflows import commit_validator, digest_validator
from flowyard_spec.config import MAX_DESCRIPTION_LENGTH


def _validated_config(value):
    """The config validated by the workflow config schema; errors are nested under `config.`."""
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

    @override
    def validate(self, attrs):
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
            "git_author", "git_message", "ci_pipeline_url", "merge_request_iid", "merge_request_url", "config",
            "config_hash", "readme_excerpt", "registered_by_label", "created_at",
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
    ci_pipeline_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="",
                                           help_text="The CI pipeline that built it.")
    merge_request_iid = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                                 help_text="The merge (pull) request it was built for.")
    merge_request_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    config = serializers.JSONField(help_text="The content of flowyard.json, validated by the workflow config schema.")
    readme_excerpt = serializers.CharField(
        max_length=MAX_DESCRIPTION_LENGTH, required=False, allow_blank=True, default="",
        help_text="The first paragraph of the repository's README, which `flowyard register` sends when flowyard.json "
                  "has no `description`; the catalog then shows it.")

    @override
    def validate_config(self, value):
        return _validated_config(value)
