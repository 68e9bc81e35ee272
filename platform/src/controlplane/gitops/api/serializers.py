"""GitOps API serializers: repository links (their secret shown once), deliveries, identities, merge-request
promotions."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from typing_extensions import override

from controlplane.api.fields import VisibleRelatedField
from controlplane.gitops.models import Forge, ForgeDelivery, ForgeIdentity, MergeRequestPromotion, RepositoryLink
from controlplane.gitops.approvals import counted_approvals
from controlplane.tenancy.models.teams import slug_validator
from controlplane.tenancy.selectors import project_list

REPOSITORY_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")


class RepositoryLinkSerializer(serializers.ModelSerializer):
    """A linked repository: where the forge delivers its webhooks. Never its secret or API token."""

    webhook_url = serializers.SerializerMethodField(help_text="Give this URL to the forge's webhook settings.")
    has_api_token = serializers.SerializerMethodField()

    class Meta:
        model = RepositoryLink
        fields = ["id", "project", "forge", "repository_path", "clone_url", "default_branch", "workflows",
                  "api_url", "has_api_token", "require_test_success", "webhook_url", "created_by_label",
                  "last_sync_at", "sync_error", "created_at", "updated_at"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_webhook_url(self, link: RepositoryLink) -> str:
        """The receiver of this link's forge."""
        relative = reverse(f"api:gitops-{link.forge}-events", kwargs={"pk": link.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(relative) if request is not None else relative

    def get_has_api_token(self, link: RepositoryLink) -> bool:
        """Whether Flowyard can report back to the forge (a token is set)."""
        return bool(link.encrypted_api_token)


class RepositoryLinkWithSecretSerializer(RepositoryLinkSerializer):
    """The create and rotate answer: the link and its webhook secret, shown this once."""

    webhook_secret = serializers.CharField(read_only=True, help_text="Never shown again: paste it into the forge.")

    class Meta(RepositoryLinkSerializer.Meta):
        fields = [*RepositoryLinkSerializer.Meta.fields, "webhook_secret"]


class WorkflowEntrySerializer(serializers.Serializer):
    """One workflow a repository holds."""

    name = serializers.CharField(max_length=63, validators=[slug_validator])
    path = serializers.CharField(max_length=500, default=".", help_text="The folder of its flowyard.json.")

    def validate_path(self, value: str) -> str:
        """A relative folder inside the repository."""
        if value.startswith("/") or ".." in value.split("/"):
            raise serializers.ValidationError("Give a folder inside the repository, e.g. '.' or 'etl'.")
        return value


class _LinkSettings(serializers.Serializer):
    default_branch = serializers.CharField(max_length=255, required=False)
    workflows = WorkflowEntrySerializer(many=True, required=False)
    api_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    api_token = serializers.CharField(max_length=500, required=False, allow_blank=True, write_only=True,
                                      help_text="A forge token for commit statuses and comments; write-only.")
    require_test_success = serializers.BooleanField(required=False)

    def validate_workflows(self, value: list[dict]) -> list[dict]:
        """Each workflow once."""
        names = [entry["name"] for entry in value]
        if len(names) != len(set(names)):
            raise serializers.ValidationError("List each workflow once.")
        return value


class RepositoryLinkCreateSerializer(_LinkSettings):
    """Input to link a repository to a project (project admins)."""

    project = VisibleRelatedField(selector=project_list)
    forge = serializers.ChoiceField(choices=Forge.choices)
    repository_path = serializers.CharField(max_length=255, help_text="group/name as on the forge.")
    clone_url = serializers.CharField(max_length=500)
    workflows = WorkflowEntrySerializer(many=True)

    def validate_repository_path(self, value: str) -> str:
        """group/name (nested groups allowed)."""
        if not REPOSITORY_PATH.match(value) or ".." in value:
            raise serializers.ValidationError("Give the repository as group/name, e.g. data/etl.")
        return value

    def validate_clone_url(self, value: str) -> str:
        """An https, ssh or git URL (or scp-like git@host:path); file:// only outside production, where it would let
        a project admin read any repository on the control plane's host."""
        if settings.FLOWYARD.mode != "production" and value.startswith("file://"):
            return value
        if not re.match(r"^(https://|ssh://|git://|git@[^:]+:)", value):
            raise serializers.ValidationError("Give what git clones: https://…, ssh://… or git@host:group/name"
                                              + (" (file:// only outside production)" if value.startswith("file://")
                                                 else "."))
        return value

    @override
    def validate(self, attrs):
        if RepositoryLink.objects.filter(project=attrs["project"], forge=attrs["forge"],
                                         repository_path=attrs["repository_path"]).exists():
            raise serializers.ValidationError({"repository_path": ["This repository is linked to the project already."]})
        return attrs


class RepositoryLinkUpdateSerializer(_LinkSettings):
    """Input to change a link (project admins); the forge, path and secret stay."""


class ForgeDeliverySerializer(serializers.ModelSerializer):
    """A webhook delivery kept for its link's admins."""

    class Meta:
        model = ForgeDelivery
        fields = ["id", "link", "delivery_id", "event", "action", "headers", "outcome", "detail", "received_at"]


class ForgeIdentitySerializer(serializers.ModelSerializer):
    """A forge login matched to a Flowyard user."""

    user = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = ForgeIdentity
        fields = ["id", "forge", "username", "forge_user_id", "user", "source", "created_at", "updated_at"]


class ForgeIdentityCreateSerializer(serializers.Serializer):
    """Input to match a forge login to a user (platform staff)."""

    forge = serializers.ChoiceField(choices=Forge.choices)
    username = serializers.CharField(max_length=255)
    forge_user_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    user = serializers.SlugRelatedField(slug_field="username", queryset=get_user_model().objects.filter(is_active=True),
                                        help_text="The Flowyard username this forge login is.")


class MergeRequestPromotionSerializer(serializers.ModelSerializer):
    """A merge request's promotion of one workflow: its condition, why, and the approvals that count."""

    merge_request_url = serializers.CharField(source="merge_request.url", read_only=True)
    merge_request_iid = serializers.IntegerField(source="merge_request.iid", read_only=True)
    merge_request_state = serializers.CharField(source="merge_request.state", read_only=True)
    author = serializers.CharField(source="merge_request.author", read_only=True)
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)
    project = serializers.UUIDField(source="workflow.project_id", read_only=True)
    approvals = serializers.SerializerMethodField()

    class Meta:
        model = MergeRequestPromotion
        fields = ["id", "project", "workflow", "workflow_name", "merge_request_url", "merge_request_iid",
                  "merge_request_state", "author", "head_sha", "condition", "reason", "promotion", "approvals",
                  "created_at", "updated_at"]

    def get_approvals(self, mrp: MergeRequestPromotion) -> list[str]:
        """The people whose approvals count now."""
        return [approval.user.get_username() for approval in counted_approvals(mrp)]
