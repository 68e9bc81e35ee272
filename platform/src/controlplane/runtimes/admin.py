"""Admin for runtime targets (platform staff)."""

from django.contrib import admin

from controlplane.runtimes.models import RuntimeTarget


@admin.register(RuntimeTarget)
class RuntimeTargetAdmin(admin.ModelAdmin):
    """Runtime targets."""

    list_display = ["name", "kind", "is_default", "max_concurrent_runs"]
