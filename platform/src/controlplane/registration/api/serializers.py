"""Registration API serializers: a build's input (by workflow id, or by project slug and name) and the outcome."""

from rest_framework import serializers

from flowyard_spec.pipelines import PipelineEvent

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
    event = serializers.ChoiceField(
        choices=[event.value for event in PipelineEvent], required=False, allow_null=True, default=None,
        help_text="What started the pipeline: the project's release rules decide where its build goes (branch_push "
                  "→ test, merge_request → the preview mr-<merge_request_iid>, default_branch → test and a promotion "
                  "request, other → nowhere). Omitted: branch_push when git_branch is set, else other.")
    request_promotion = serializers.BooleanField(
        required=False, default=False,
        help_text="Ask to promote this build from test to production (what a default-branch pipeline does; the "
                  "same as event default_branch); a re-run finds the promotion it asked for before.")
    requested_for = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="",
        help_text="Who made the change (the merge request's author), who may then not approve it.")


class RegistrationResultSerializer(serializers.Serializer):
    """What a registration did."""

    version = VersionSerializer()
    created = serializers.BooleanField(help_text="False when this digest was registered before.")
    deployment = serializers.SerializerMethodField()
    promotion = serializers.SerializerMethodField()
    why = serializers.SerializerMethodField()

    def get_deployment(self, result) -> dict | None:
        """The deployment running this build (test, or the merge request's preview): deployed now, or already
        there when the same pipeline runs again."""
        return DeploymentSerializer(result.deployment).data if result.deployment else None

    def get_promotion(self, result) -> dict | None:
        """The promotion test → production asked for with `request_promotion`, if any."""
        return PromotionSerializer(result.promotion).data if result.promotion else None

    def get_why(self, result) -> str:
        """Why the build went where it went (the release rules' decision)."""
        return result.decision.why if result.decision else ""


class PreviewTeardownSerializer(serializers.Serializer):
    """Input to tear down a merge request's preview environment (CI on merge-request close, or a developer)."""

    project = VisibleSlugRelatedField(selector=project_list)
    merge_request_iid = serializers.IntegerField(min_value=1, help_text="The merge (pull) request's number.")
