"""The sign-in pages: the login page (SSO button, password form where allowed), the OIDC start and callback,
logout (with the provider's RP-initiated logout where it offers one) and the signed-out page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import REDIRECT_FIELD_NAME, login, logout
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from controlplane.core.audit import audit_note
from controlplane.sso import provider
from controlplane.sso.backends import SSO_SESSION_BACKEND
from controlplane.sso.errors import SsoError
from controlplane.sso.flows import browser_sign_in
from controlplane.sso.services import sign_in_refused_record

NEXT_SESSION_KEY = "sso_next"
ID_TOKEN_SESSION_KEY = "sso_id_token"
HOME = "/"


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        return candidate
    return HOME


def _login_context(request: HttpRequest, form: AuthenticationForm | None = None, **extra: Any) -> dict[str, Any]:
    current = provider.config()
    return {"sso_enabled": current.sso_enabled, "password_allowed": not current.sso_only,
            "next": _safe_next(request, request.GET.get(REDIRECT_FIELD_NAME) or request.POST.get(REDIRECT_FIELD_NAME)),
            "form": form or AuthenticationForm(request), **extra}


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    """The sign-in page: "Sign in with SSO", and the password form unless FLOWYARD_SSO_ONLY (superusers may still post it)."""
    if request.method == "GET":
        return render(request, "sso/login.html", _login_context(request))
    form = AuthenticationForm(request, data=request.POST)
    if not form.is_valid():
        return render(request, "sso/login.html", _login_context(request, form), status=400)
    login(request, form.get_user())
    request.session.set_expiry(provider.config().session_seconds)
    return HttpResponseRedirect(_safe_next(request, request.POST.get(REDIRECT_FIELD_NAME)))


@never_cache
@require_GET
def sso_start(request: HttpRequest) -> HttpResponse:
    """Send the browser to the provider (Authlib: PKCE S256, state and nonce kept in this session)."""
    try:
        client = provider.web_client()
        provider.metadata(client)
    except SsoError as exc:
        return _refused(request, exc)
    request.session[NEXT_SESSION_KEY] = _safe_next(request, request.GET.get(REDIRECT_FIELD_NAME))
    return client.authorize_redirect(request, request.build_absolute_uri(reverse("sso:callback")))


@never_cache
@require_GET
def sso_callback(request: HttpRequest) -> HttpResponse:
    """Where the provider sends the browser back: check everything, sign the person in or say why not."""
    try:
        outcome, token = browser_sign_in(request)
    except SsoError as exc:
        sign_in_refused_record(reason=exc.code, detail=exc.message, via="browser")
        return _refused(request, exc)
    if not outcome.allowed:
        logout(request)
        return render(request, "sso/refused.html", {"message": outcome.message, "code": "no_access"}, status=403)
    next_url = request.session.pop(NEXT_SESSION_KEY, HOME)
    login(request, outcome.user, backend=SSO_SESSION_BACKEND)
    request.session[ID_TOKEN_SESSION_KEY] = token.get("id_token", "")
    request.session.set_expiry(provider.config().session_seconds)
    return HttpResponseRedirect(_safe_next(request, next_url))


def _refused(request: HttpRequest, exc: SsoError) -> HttpResponse:
    return render(request, "sso/refused.html", {"message": exc.message, "code": exc.code}, status=exc.http_status)


@require_POST
@csrf_protect
def logout_view(request: HttpRequest) -> HttpResponse:
    """End the Flowyard session and, where the provider offers RP-initiated logout, the provider's session too."""
    id_token = request.session.get(ID_TOKEN_SESSION_KEY, "")
    user = request.user if request.user.is_authenticated else None
    if user is not None:
        audit_note(actor=user, action="auth.logout", object_type="auth.user", object_id=str(user.pk),
                   object_repr=user.get_username())
    logout(request)
    logged_out = request.build_absolute_uri(reverse("sso:logged-out"))
    if id_token and provider.config().sso_enabled:
        try:
            client = provider.web_client()
            if provider.metadata(client).get("end_session_endpoint"):
                return client.logout_redirect(request, post_logout_redirect_uri=logged_out, id_token_hint=id_token)
        except SsoError:
            pass  # the provider is down: the Flowyard session is over all the same
    return HttpResponseRedirect(logged_out)


@never_cache
@require_GET
def logged_out(request: HttpRequest) -> HttpResponse:
    """The page after logout."""
    return render(request, "sso/logged_out.html", {"sso_enabled": provider.config().sso_enabled})
