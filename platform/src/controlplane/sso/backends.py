"""Authentication backends: passwords (off for all but superusers under FLOWYARD_SSO_ONLY) and SSO sessions."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend, ModelBackend
from typing_extensions import override


class PasswordBackend(ModelBackend):
    """Django's username/password check, refused for everyone but superusers ("break-glass") when SSO is the only way in."""

    @override
    def user_can_authenticate(self, user) -> bool:
        if settings.FLOWYARD.sso_only and not getattr(user, "is_superuser", False):
            return False
        return super().user_can_authenticate(user)


class SsoSessionBackend(BaseBackend):
    """The backend a session started by an SSO sign-in records: it finds the session's user (active ones only) and
    authenticates nothing by itself (controlplane.sso.flows does)."""

    @override
    def get_user(self, user_id):
        user = get_user_model()._default_manager.filter(pk=user_id).first()
        return user if user is not None and user.is_active else None


SSO_SESSION_BACKEND = f"{SsoSessionBackend.__module__}.{SsoSessionBackend.__qualname__}"
