"""The periodic re-check: ask the provider about each person with their refresh token, and apply its answer.

A person the provider no longer knows (disabled, deleted, grant revoked: `invalid_grant`) is deactivated, so their
personal tokens answer 401; one whose groups changed gets their memberships synced; a provider that does not
answer changes nothing (the error is kept on the account for the admin page).
"""

from __future__ import annotations

from authlib.integrations.base_client import OAuthError
from joserfc.errors import JoseError
from requests import RequestException

from controlplane.core.encryption import decrypt_text
from controlplane.sso import provider
from controlplane.sso.errors import SsoError
from controlplane.sso.flows import identity_of
from controlplane.sso.models import AccountStatus, SsoAccount
from controlplane.sso.services import account_check_failed, account_disable, account_recheck_apply

GONE_ERRORS = frozenset({"invalid_grant", "unauthorized_client", "access_denied", "invalid_client"})


def account_recheck(account_id: object) -> str:
    """Re-check one account; returns what happened: skipped, active, no_role, disabled or failed."""
    account = SsoAccount.objects.select_related("user").filter(pk=account_id).first()
    if account is None or not account.encrypted_refresh_token or account.status == AccountStatus.DISABLED:
        return "skipped"
    refresh_token = decrypt_text(account.encrypted_refresh_token)
    if refresh_token is None:
        account_check_failed(account=account, reason="the stored refresh token cannot be decrypted (secret key changed)")
        return "failed"
    client = provider.web_client()
    try:
        provider.metadata(client)
        # No scope: the grant's own (RFC 6749 §6); asking for more than the refresh token carries is refused.
        token = client.fetch_access_token(grant_type="refresh_token", refresh_token=refresh_token, scope=None)
    except OAuthError as exc:
        if exc.error in GONE_ERRORS:
            account_disable(account=account, reason=f"the provider refused the refresh token: {exc.error}")
            return "disabled"
        account_check_failed(account=account, reason=provider.describe_oauth_error(exc))
        return "failed"
    except (RequestException, SsoError, ValueError) as exc:
        account_check_failed(account=account, reason=f"the provider did not answer: {type(exc).__name__}")
        return "failed"
    try:
        if token.get("id_token"):
            claims = provider.checked_claims(client, token)
        else:
            claims = dict(client.userinfo(token=token))
        identity = identity_of(client, token, claims)
        outcome = account_recheck_apply(account=account, identity=identity,
                                        refresh_token=token.get("refresh_token") or "")
    except (SsoError, JoseError, OAuthError, RequestException) as exc:
        account_check_failed(account=account, reason=f"the provider's answer was refused: {type(exc).__name__}")
        return "failed"
    return "active" if outcome.allowed else "no_role"
