"""Receivers of lower apps' signals: a version registered by CI completes the merge-request promotions that
waited for its build; a promotion a merge request drives is not approved through the API; a person signing in
through SSO gets the forge login their provider's claim names."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.dispatch import receiver

from controlplane.deployments.models import Promotion
from controlplane.deployments.signals import promotion_approving
from controlplane.gitops.promotions import builds_registered, refuse_api_approval
from controlplane.gitops.services import forge_identity_from_sso
from controlplane.registration.signals import version_registered
from controlplane.sso.models import SsoAccount
from controlplane.sso.services import SSO_ACTOR
from controlplane.sso.signals import person_signed_in
from controlplane.workflows.models import WorkflowVersion


@receiver(version_registered, sender=WorkflowVersion, dispatch_uid="gitops.complete_waiting_promotions")
def complete_waiting_promotions(sender: type, version: WorkflowVersion, **kwargs: Any) -> int:
    """Attach the new build to the merge-request promotions that waited for its commit."""
    return builds_registered(version)


@receiver(promotion_approving, sender=Promotion, dispatch_uid="gitops.approve_in_merge_request")
def approve_in_merge_request(sender: type, promotion: Promotion, **kwargs: Any) -> None:
    """Refuse an API approval of a promotion that follows a merge request."""
    refuse_api_approval(promotion)


@receiver(person_signed_in, sender=SsoAccount, dispatch_uid="gitops.forge_identity_from_sso")
def record_forge_identity(sender: type, user: Any, identity: Any, **kwargs: Any) -> None:
    """Match the forge login in the FLOWYARD_OIDC_FORGE_CLAIM claim to the person, so their approvals count."""
    if identity.forge_login:
        forge_identity_from_sso(actor=SSO_ACTOR, forge=settings.FLOWYARD.oidc_forge, username=identity.forge_login,
                                user=user)
