"""Signing a person in from their checked identity: the account, memberships synced from groups, the verdict.

Writes are atomic and audited. A refusal because nobody could vouch for the answer (state, code, signature,
claims) happens before anything here runs, so it creates nothing; a refusal because the person has no role
(none of their groups is mapped) is recorded here, deactivates an existing account (its personal tokens answer
401 and its sessions end) and creates no new user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from controlplane.core.audit import SystemActor, audit_note, audit_record
from controlplane.core.encryption import encrypt_value
from controlplane.sso.errors import SignInRefused
from controlplane.sso.identity import Identity
from controlplane.sso.models import AccountStatus, SsoAccount
from controlplane.sso.signals import person_signed_in
from controlplane.tenancy.group_mappings import MembershipChange, has_any_membership, memberships_sync, roles_from_groups

SSO_ACTOR = SystemActor("sso")

NO_ROLE_MESSAGE = (
    "You signed in at your company's identity provider, but none of your groups gives you a role in Flowyard{groups}. "
    "Ask your platform admin to map one of your groups to a team, or to add you to a mapped group."
)


@dataclass(frozen=True)
class SignInOutcome:
    """What a sign-in decided: the user (None when refused before one existed), whether they may enter, and why not."""

    user: Any
    allowed: bool
    message: str = ""
    changes: list[MembershipChange] = field(default_factory=list)


def no_role_message(groups: tuple[str, ...]) -> str:
    """Why a person without a mapped group is refused, naming their groups."""
    listed = f" (your groups: {', '.join(groups)})" if groups else " (the provider listed no groups for you)"
    return NO_ROLE_MESSAGE.format(groups=listed)


def is_break_glass(user: Any) -> bool:
    """Superusers and platform staff keep access whatever their groups say (they run the installation)."""
    return bool(user.is_superuser or user.is_staff)


def _linkable_user(identity: Identity) -> Any:
    """An existing local user of the same username to link, a new one, or SignInRefused for a protected account."""
    User = get_user_model()
    existing = User.objects.filter(username=identity.username).first()
    if existing is None:
        return None
    if is_break_glass(existing) or SsoAccount.objects.filter(user=existing).exists():
        raise SignInRefused(
            f"The local account {identity.username!r} is a platform admin's or belongs to another sign-in; it is not "
            "taken over by SSO. A platform admin must rename one of the two accounts.",
            extra={"username": identity.username},
        )
    return existing


def _refused_unknown(identity: Identity, *, via: str) -> SignInOutcome:
    message = no_role_message(identity.groups)
    audit_note(actor=SSO_ACTOR, action="sso.login_refused", object_type="sso.identity", object_id=identity.subject,
               object_repr=identity.username, after={"reason": "no_role", "groups": list(identity.groups), "via": via})
    return SignInOutcome(user=None, allowed=False, message=message)


@transaction.atomic
def sign_in(*, identity: Identity, refresh_token: str = "", via: str = "browser") -> SignInOutcome:
    """Sign `identity` in: find or create their user, sync memberships from groups, and decide whether they may enter."""
    account = (SsoAccount.objects.select_for_update().select_related("user")
               .filter(issuer=identity.issuer, subject=identity.subject).first())
    if account is None:
        user = _linkable_user(identity)
        if user is None and not roles_from_groups(identity.groups):
            return _refused_unknown(identity, via=via)
        if user is None:
            user = get_user_model().objects.create_user(username=identity.username, email=identity.email)
            user.set_unusable_password()
        account = SsoAccount(user=user, issuer=identity.issuer, subject=identity.subject)
    user = account.user
    user.email = identity.email or user.email
    user.first_name, user.last_name = identity.first_and_last_name if identity.name else (user.first_name, user.last_name)
    account.groups = list(identity.groups)
    account.last_login_at = timezone.now()
    if refresh_token:
        account.encrypted_refresh_token = encrypt_value(refresh_token)
    user.save()
    account.save()
    return _decide(account, identity, via=via, action="sso.login")


def _decide(account: SsoAccount, identity: Identity, *, via: str, action: str) -> SignInOutcome:
    """Sync the memberships, then allow (active) or refuse (no role: deactivated); one audit event either way."""
    user = account.user
    changes = memberships_sync(actor=SSO_ACTOR, user=user, groups=identity.groups)
    allowed = is_break_glass(user) or has_any_membership(user)
    before_status = account.status
    account.status = AccountStatus.ACTIVE if allowed else AccountStatus.NO_ROLE
    account.save(update_fields=["status", "groups", "updated_at"])
    if user.is_active != allowed:
        user.is_active = allowed
        user.save(update_fields=["is_active"])
    details = {"via": via, "groups": list(identity.groups), "changes": [change.as_dict() for change in changes],
               "status": account.status}
    if allowed:
        audit_record(actor=user, action=action, obj=account, before={"status": before_status}, after=details)
        transaction.on_commit(lambda: person_signed_in.send(sender=SsoAccount, user=user, identity=identity))
        return SignInOutcome(user=user, allowed=True, changes=changes)
    audit_record(actor=SSO_ACTOR, action="sso.login_refused" if action == "sso.login" else "sso.access_lost",
                 obj=account, before={"status": before_status}, after={**details, "reason": "no_role"})
    return SignInOutcome(user=user, allowed=False, message=no_role_message(identity.groups), changes=changes)


@transaction.atomic
def account_recheck_apply(*, account: SsoAccount, identity: Identity, refresh_token: str = "") -> SignInOutcome:
    """Apply what a periodic re-check learnt from the provider: groups synced, access kept or lost."""
    account = SsoAccount.objects.select_for_update().select_related("user").get(pk=account.pk)
    if identity.subject != account.subject:
        raise SignInRefused("The provider answered for another person than this account's.")
    account.groups = list(identity.groups)
    account.last_checked_at = timezone.now()
    account.last_check_error = ""
    if refresh_token:
        account.encrypted_refresh_token = encrypt_value(refresh_token)
    account.save(update_fields=["groups", "last_checked_at", "last_check_error", "encrypted_refresh_token",
                                "updated_at"])
    return _decide(account, identity, via="recheck", action="sso.rechecked")


@transaction.atomic
def account_disable(*, account: SsoAccount, reason: str) -> None:
    """The provider no longer knows the person (disabled, deleted, their grant revoked): deactivate them."""
    account = SsoAccount.objects.select_for_update().select_related("user").get(pk=account.pk)
    before = account.status
    account.status = AccountStatus.DISABLED
    account.last_checked_at = timezone.now()
    account.last_check_error = reason[:500]
    account.encrypted_refresh_token = ""
    account.save()
    user = account.user
    if user.is_active and not user.is_superuser:
        user.is_active = False
        user.save(update_fields=["is_active"])
    audit_record(actor=SSO_ACTOR, action="sso.account_disabled", obj=account, before={"status": before},
                 after={"status": account.status, "reason": reason[:300]})


def account_check_failed(*, account: SsoAccount, reason: str) -> None:
    """The provider could not be asked (down, slow): keep the account as it is and note why."""
    SsoAccount.objects.filter(pk=account.pk).update(last_checked_at=timezone.now(), last_check_error=reason[:500])


def sign_in_refused_record(*, reason: str, detail: str, via: str, subject: str = "", username: str = "") -> None:
    """Audit a sign-in refused before anyone was identified (bad state, code, signature or claims)."""
    audit_note(actor=SSO_ACTOR, action="sso.login_failed", object_type="sso.identity", object_id=subject or "-",
               object_repr=username or "unknown", after={"reason": reason, "detail": detail[:300], "via": via})
