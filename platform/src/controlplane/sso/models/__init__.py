"""SSO models."""

from controlplane.sso.models.accounts import AccountStatus, SsoAccount

__all__ = ["AccountStatus", "SsoAccount"]
