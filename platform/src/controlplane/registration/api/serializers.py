"""Registration API serializers: a build's input (by workflow id, or by project slug and name) and the outcome."""

from rest_framework import serializers

from controlplane.api.fields import VisibleRelatedField, VisibleSlugRelatedField
from controlplane.deployments.api.serializers import DeploymentSerializer, PromotionSerializer
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
    request_promotion = serializers.BooleanField(
        required=False, default=False,
        help_text="Also ask to promote this build from test to production (what a default-branch pipeline does); "
                  "a re-run finds the promotion it asked for before.")
    requested_for = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="",
        help_text="Who made the change (the merge request's author), who may then not approve it.")


class RegistrationResultSerializer(serializers.Serializer):
    """What a registration did."""

    version = VersionSerializer()
    created = serializers.BooleanField(help_text="False when this digest was registered before.")
    deployment = serializers.SerializerMethodField()
    promotion = serializers.SerializerMethodField()

    def get_deployment(self, result) -> dict | None:
        """The `test` deployment running this build: deployed now, or already there for a known digest."""
        return DeploymentSerializer(result.deployment).data if result.deployment else None

    def get_promotion(self, result) -> dict | None:
        """The promotion test → production asked for with `request_promotion`, if any."""
        return PromotionSerializer(result.promotion).data if result.promotion else None
