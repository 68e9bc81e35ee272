"""Admin for environments, deployments and promotions."""

from django.contrib import admin

from controlplane.deployments.models import Deployment, Environment, Promotion, ReleaseRules


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    """Environments."""

    list_display = ["name", "project", "kind", "order", "requires_approval", "torn_down_at"]
    list_filter = ["project", "kind"]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    """Deployments."""

    list_display = ["workflow", "environment", "version", "is_paused", "deployed_at"]


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    """Promotions."""

    list_display = ["workflow", "source_environment", "target_environment", "state", "created_at"]
    list_filter = ["state"]


@admin.register(ReleaseRules)
class ReleaseRulesAdmin(admin.ModelAdmin):
    """Each project's release rules (where CI deploys)."""

    list_display = ["project", "branch_environment", "merge_request_previews", "preview_limit", "preview_ttl_days",
                    "default_branch_promotion"]
