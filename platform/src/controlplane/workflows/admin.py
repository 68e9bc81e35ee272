"""Admin for workflows and versions."""

from django.contrib import admin
from typing_extensions import override

from controlplane.workflows.models import Workflow, WorkflowVersion


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    """Workflows."""

    list_display = ["name", "project", "created_at"]
    list_filter = ["project"]


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    """Registered versions (immutable)."""

    list_display = ["workflow", "image_digest", "git_branch", "git_commit_sha", "created_at"]
    list_filter = ["workflow__project"]

    @override
    def has_change_permission(self, request, obj=None):
        return False
