"""Admin for runs."""

from django.contrib import admin
from typing_extensions import override

from controlplane.runs.models import Run


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    """Runs (read-only: states change only through the lifecycle rules)."""

    list_display = ["id", "deployment", "state", "reason", "trigger", "created_at", "ended_at"]
    list_filter = ["state", "reason", "trigger"]

    @override
    def has_change_permission(self, request, obj=None):
        return False
