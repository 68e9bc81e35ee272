"""Admin for environments, deployments and promotions."""

from django.contrib import admin

from controlplane.deployments.models import Deployment, Environment, Promotion


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    """Environments."""

    list_display = ["name", "project", "order", "requires_approval"]
    list_filter = ["project"]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    """Deployments."""

    list_display = ["workflow", "environment", "version", "is_paused", "deployed_at"]


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    """Promotions."""

    list_display = ["workflow", "source_environment", "target_environment", "state", "created_at"]
    list_filter = ["state"]
