"""Errors of the sso app: why a sign-in was refused, in words a person can act on."""

from controlplane.core.errors import FlowyardError


class SsoError(FlowyardError):
    """Base of every sso refusal."""

    code = "sso_error"


class SsoNotConfigured(SsoError):
    """No OpenID Connect provider is configured (FLOWYARD_OIDC_ISSUER is empty), or no CLI client."""

    code = "sso_not_configured"
    http_status = 404


class SignInRefused(SsoError):
    """The provider's answer cannot be trusted or accepted (bad state, code, signature, claims)."""

    code = "sign_in_refused"
    http_status = 403


class ProviderUnavailable(SsoError):
    """The provider did not answer (or answered nonsense)."""

    code = "provider_unavailable"
    http_status = 502


class NoAccess(SsoError):
    """Signed in at the provider, but none of the person's groups gives them a role here."""

    code = "no_access"
    http_status = 403


class CallbackInvalid(SsoError):
    """The browser came back with a state or code the provider or this session does not vouch for."""

    code = "callback_invalid"
    http_status = 400


class DeviceFlowWaiting(SsoError):
    """The person has not finished signing in for `flowyard login` yet (authorization_pending or slow_down)."""

    code = "authorization_pending"
    http_status = 400
