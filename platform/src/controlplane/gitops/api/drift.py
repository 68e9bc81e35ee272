"""GitOps API serializers of reconciling from Git: a link's drift report (`diff`) and what a sync applied (`sync`)."""

from __future__ import annotations

from rest_framework import serializers


class FieldChangeSerializer(serializers.Serializer):
    """One field that differs: its value in Git and its deployed value (any JSON)."""

    field = serializers.CharField()
    git = serializers.JSONField(allow_null=True)
    deployed = serializers.JSONField(allow_null=True)


class DriftSerializer(serializers.Serializer):
    """One way a workflow's deployment in one environment differs from the branch head."""

    kind = serializers.ChoiceField(choices=["changed_outside_git", "not_built", "removed_from_git", "config_differs",
                                            "production_not_promoted"])
    workflow = serializers.CharField()
    environment = serializers.CharField()
    head_sha = serializers.CharField()
    summary = serializers.CharField()
    fix = serializers.ChoiceField(choices=["deploy", "pause", "report"],
                                  help_text="What the sync does: deploy Git's CI build, pause, or only report.")
    why_not_fixed = serializers.CharField(allow_blank=True)
    changes = FieldChangeSerializer(many=True)
    deployment = serializers.UUIDField(allow_null=True)
    git_version = serializers.UUIDField(allow_null=True, help_text="The version Git wants there, when there is one.")


class AppliedSerializer(serializers.Serializer):
    """One fix a sync applied."""

    kind = serializers.CharField()
    workflow = serializers.CharField()
    environment = serializers.CharField()
    action = serializers.ChoiceField(choices=["deployed", "paused"])
    detail = serializers.CharField()
    version = serializers.UUIDField(required=False)


class DriftReportSerializer(serializers.Serializer):
    """A link's drift from its default branch's head; with `error` (git's message) when it could not be read."""

    link = serializers.UUIDField()
    project = serializers.UUIDField()
    repository = serializers.CharField(help_text="forge:group/name")
    clone_url = serializers.CharField(help_text="Without any credentials.")
    branch = serializers.CharField()
    head_sha = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True, help_text="Why the repository could not be read (git's message).")
    error_code = serializers.CharField(allow_blank=True)
    drift = DriftSerializer(many=True)
    diff = serializers.CharField(allow_blank=True, help_text="The drift as `git diff` shows changes.")
    applied = AppliedSerializer(many=True, help_text="What the sync applied (always empty for a diff).")
    last_sync_at = serializers.DateTimeField(allow_null=True)
    sync_error = serializers.CharField(allow_blank=True, help_text="The link's error state after its last sync.")
