"""Django admin of the alerts app: channels, rules and deliveries to look at; changes go through the API, whose
services check, encrypt and audit them."""

from django.contrib import admin

from controlplane.alerts.models import Channel, Delivery, Rule


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin page that shows and never writes (the API's services own the writes)."""

    def has_add_permission(self, request, obj=None) -> bool:
        """Never: create through the API."""
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        """Never: change through the API."""
        return False


@admin.register(Channel)
class ChannelAdmin(ReadOnlyAdmin):
    """Channels: kind, hint and rate limit (never the address or secret)."""

    list_display = ["name", "project", "kind", "target_hint", "is_enabled", "rate_limit_count", "rate_limit_seconds"]
    list_filter = ["kind", "is_enabled"]
    exclude = ["encrypted_target", "encrypted_secret"]


@admin.register(Rule)
class RuleAdmin(ReadOnlyAdmin):
    """Rules: events, filters and channels."""

    list_display = ["name", "project", "events", "environments", "workflows", "is_enabled"]
    list_filter = ["is_enabled"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Deliveries with their state and last error."""

    list_display = ["created_at", "channel", "alert", "state", "attempts", "last_error"]
    list_filter = ["state", "channel__kind"]
