"""Writes of the gitops app: link a repository (its webhook secret shown once), rotate the secret, unlink it, and
match forge users to people. Merge-request events are applied by `gitops.promotions`."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from controlplane.core.audit import actor_user_and_label, audit_record, snapshot
from controlplane.core.services import model_update
from controlplane.deployments.models import ReleaseRules
from controlplane.gitops.models import ForgeIdentity, RepositoryLink
from controlplane.gitops.secrets import encrypt_secret, new_webhook_secret
from controlplane.tenancy.models import Project


@transaction.atomic
def repository_link(*, actor: Any, project: Project, api_token: str = "", **fields: Any) -> tuple[RepositoryLink, str]:
    """Link a repository to `project`; the link and its webhook secret, which is shown this once.

    From now on the project's merge requests drive its promotions, so a default-branch build no longer asks
    for one itself (its release rules' default_branch_promotion is turned off, audited)."""
    secret = new_webhook_secret()
    _, label = actor_user_and_label(actor)
    link = RepositoryLink(project=project, encrypted_webhook_secret=encrypt_secret(secret), created_by_label=label,
                          encrypted_api_token=encrypt_secret(api_token) if api_token else "", **fields)
    link.full_clean(exclude=["encrypted_api_token"])
    link.save()
    rules, _ = ReleaseRules.objects.get_or_create(project=project)
    turned_off = rules.default_branch_promotion
    if turned_off:
        rules.default_branch_promotion = False
        rules.save(update_fields=["default_branch_promotion", "updated_at"])
    audit_record(actor=actor, action="repository.linked", obj=link, project=project,
                 after=snapshot(link) | {"default_branch_promotion_turned_off": turned_off})
    return link, secret


@transaction.atomic
def repository_link_update(*, actor: Any, link: RepositoryLink, api_token: str | None = None,
                           **changes: Any) -> RepositoryLink:
    """Change a link's settings (the forge, path and secret stay; rotate the secret separately)."""
    if api_token is not None:
        changes["encrypted_api_token"] = encrypt_secret(api_token) if api_token else ""
    return model_update(actor=actor, obj=link, changes=changes, action="repository.updated", project=link.project)


@transaction.atomic
def repository_secret_rotate(*, actor: Any, link: RepositoryLink) -> tuple[RepositoryLink, str]:
    """Give the link a new webhook secret (shown once); the old one stops verifying deliveries at once."""
    secret = new_webhook_secret()
    link.encrypted_webhook_secret = encrypt_secret(secret)
    link.save(update_fields=["encrypted_webhook_secret", "updated_at"])
    audit_record(actor=actor, action="repository.secret_rotated", obj=link, project=link.project)
    return link, secret


@transaction.atomic
def repository_unlink(*, actor: Any, link: RepositoryLink) -> None:
    """Remove the link (its merge requests and deliveries with it; promotions and audit events stay)."""
    audit_record(actor=actor, action="repository.unlinked", obj=link, before=snapshot(link), project=link.project)
    link.delete()


@transaction.atomic
def forge_identity_set(*, actor: Any, forge: str, username: str, user: Any, forge_user_id: str = "",
                       source: str = "manual") -> ForgeIdentity:
    """Match forge login `username` to `user` (platform staff; later SSO); replaces an earlier match."""
    identity, created = ForgeIdentity.objects.update_or_create(
        forge=forge, username=username.lower(),
        defaults={"user": user, "forge_user_id": forge_user_id, "source": source})
    audit_record(actor=actor, action="forge_identity.set", obj=identity, after=snapshot(identity) | {"created": created})
    return identity


@transaction.atomic
def forge_identity_delete(*, actor: Any, identity: ForgeIdentity) -> None:
    """Forget a match: that forge user's approvals count for nobody from now on."""
    audit_record(actor=actor, action="forge_identity.deleted", obj=identity, before=snapshot(identity))
    identity.delete()


@transaction.atomic
def forge_identity_from_sso(*, actor: Any, forge: str, username: str, user: Any) -> ForgeIdentity | None:
    """Record the forge login the provider's claim names for `user` (FLOWYARD_OIDC_FORGE_CLAIM); the claim is the
    authority, so it replaces a match of that login to someone else, and the user's older SSO logins on that forge go.
    Nothing is written (or audited) when the match is already there."""
    username = username.strip().lower()
    if not username:
        return None
    stale = ForgeIdentity.objects.filter(forge=forge, user=user, source="sso").exclude(username=username)
    for identity in stale:
        forge_identity_delete(actor=actor, identity=identity)
    current = ForgeIdentity.objects.filter(forge=forge, username=username).first()
    if current is not None and current.user_id == user.pk and current.source == "sso":
        return current
    return forge_identity_set(actor=actor, forge=forge, username=username, user=user, source="sso")
