"""Registration API serializers: a build's input (by workflow id, or by project slug and name) and the outcome."""

from rest_framework import serializers

from controlplane.api.fields import VisibleRelatedField, VisibleSlugRelatedField
from controlplane.deployments.api.serializers import DeploymentSerializer
from controlplane.tenancy.models.teams import slug_validator
from controlplane.tenancy.selectors import project_list
from controlplane.workflows.api.serializers import BuildSerializer, VersionSerializer
from controlplane.workflows.selectors import workflow_list


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
        """The `test` deployment running this build: deployed now, or already there for a known digest."""
        return DeploymentSerializer(result.deployment).data if result.deployment else None
