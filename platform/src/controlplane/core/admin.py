"""Admin for the audit log (read-only)."""

from django.contrib import admin
from typing_extensions import override

from controlplane.core.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log, never editable."""

    list_display = ["at", "actor_label", "action", "object_type", "object_repr", "project"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_label", "object_repr", "object_id"]

    @override
    def has_add_permission(self, request):
        return False

    @override
    def has_change_permission(self, request, obj=None):
        return False

    @override
    def has_delete_permission(self, request, obj=None):
        return False
