"""Admin for runs."""

from django.contrib import admin

from controlplane.runs.models import Run


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    """Runs (read-only: states change only through the lifecycle rules)."""

    list_display = ["id", "deployment", "state", "reason", "trigger", "created_at", "ended_at"]
    list_filter = ["state", "reason", "trigger"]

    def has_change_permission(self, request, obj=None):  # noqa: D102
        return False
