"""Admin for SSO accounts (read-only: they follow the provider; the refresh token is never shown)."""

from django.contrib import admin

from controlplane.sso.models import SsoAccount


@admin.register(SsoAccount)
class SsoAccountAdmin(admin.ModelAdmin):
    """People's identities at the provider, their groups as last seen and the last re-check."""

    list_display = ["user", "subject", "status", "last_login_at", "last_checked_at", "last_check_error"]
    list_filter = ["status", "issuer"]
    search_fields = ["user__username", "subject"]
    exclude = ["encrypted_refresh_token"]
    readonly_fields = ["user", "issuer", "subject", "groups", "status", "last_login_at", "last_checked_at",
                       "last_check_error"]

    def has_add_permission(self, request) -> bool:
        """Accounts are made by signing in."""
        return False
