"""Audit of password sign-ins (SSO sign-ins are audited by controlplane.sso.services, with their groups)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from controlplane.core.audit import SystemActor, audit_note
from controlplane.sso.backends import SSO_SESSION_BACKEND


@receiver(user_logged_in, dispatch_uid="sso.audit_password_login")
def audit_password_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Record a password sign-in (the page's form, the admin's, the browsable API's)."""
    if getattr(user, "backend", "") == SSO_SESSION_BACKEND:
        return
    audit_note(actor=user, action="auth.login", object_type="auth.user", object_id=str(user.pk),
               object_repr=user.get_username(), after={"via": "password"})


@receiver(user_login_failed, dispatch_uid="sso.audit_password_login_failed")
def audit_password_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """Record a refused password sign-in with the username tried (Django has already removed the password)."""
    username = str(credentials.get("username") or "")
    audit_note(actor=SystemActor("auth"), action="auth.login_failed", object_type="auth.user", object_id="-",
               object_repr=username, after={"via": "password", "username": username[:150]})
