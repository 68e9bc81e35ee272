"""The SSO test kit itself: the real OIDC provider (flowyard_testkit.oidc), its tampering proxy and the chromium
fixture (flowyard_testkit.browser), exercised without the control plane (the clients redirect to a dead port
that is never contacted: redirects are read, not followed, and the browser's is answered by a Playwright route)."""

from __future__ import annotations

import asyncio
import secrets
import time
import urllib.parse
from collections.abc import Iterator

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet, import_key
from playwright.sync_api import expect

from flowyard_testkit.browser import browser, page  # noqa: F401
from flowyard_testkit.oidc import (DEVICE_CODE_GRANT, OidcProvider, TamperingProxy, device_client, new_signing_key,
                                   parse_forms, public_jwk, web_client)

WEB = "testkit-web"
SECRET = "testkit-web-secret"
CLI = "testkit-cli"
REDIRECT_URI = "http://127.0.0.1:9/cb"
LOGGED_OUT_URI = "http://127.0.0.1:9/logged-out"
SCOPE = "openid profile email groups"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    """A provider with a web client and a device client, and alice (admins) and bob (a disabled account)."""
    with OidcProvider([web_client(WEB, secret=SECRET, redirect_uris=[REDIRECT_URI],
                                  post_logout_redirect_uris=[LOGGED_OUT_URI]),
                       device_client(CLI)]) as started:
        yield started


@pytest.fixture
def alice(provider: OidcProvider) -> str:
    """alice, in the admins group, with her GitLab username (reset for each test)."""
    provider.set_user("alice", password="alice-pw", email="alice@example.test", name="Alice Liddell",
                      groups=["flowyard-admins"], gitlab_username="alice.gl")
    return "alice"


@pytest.fixture
def discovery(provider: OidcProvider) -> dict:
    """The provider's discovery document."""
    return provider.discovery()


def web_session() -> OAuth2Session:
    """The web client's OAuth 2.0 session, PKCE with S256."""
    return OAuth2Session(WEB, SECRET, scope=SCOPE, redirect_uri=REDIRECT_URI, code_challenge_method="S256")


def sign_in(provider: OidcProvider, discovery: dict, login: str, password: str, *,
            token_endpoint: str | None = None, session: requests.Session | None = None) -> dict:
    """The authorization code flow with PKCE: authorize, sign in, exchange the code; returns the token answer."""
    client = web_session()
    verifier = generate_token(48)
    nonce = secrets.token_urlsafe(12)
    url, _state = client.create_authorization_url(discovery["authorization_endpoint"], code_verifier=verifier,
                                                  nonce=nonce)
    location = provider.authorize(url, login, password, session=session)
    assert location.startswith(REDIRECT_URI + "?"), location
    token = client.fetch_token(token_endpoint or discovery["token_endpoint"], authorization_response=location,
                               code_verifier=verifier)
    token["nonce"] = nonce
    return token


def verified_claims(id_token: str, jwks: dict) -> dict:
    """The claims of an ID token whose signature verifies against `jwks` (public or private keys)."""
    return jwt.decode(id_token, KeySet.import_key_set(jwks)).claims


def public(provider: OidcProvider) -> dict:
    """What the provider's jwks_uri serves."""
    return requests.get(provider.discovery()["jwks_uri"], timeout=10).json()


def test_discovery_names_the_issuer_and_requires_s256(provider, discovery):
    assert provider.issuer.startswith("http://127.0.0.1:")
    assert discovery["issuer"] == provider.issuer
    assert discovery["token_endpoint"] == provider.issuer + "/token"
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert {"openid", "profile", "email", "groups", "offline_access"} <= set(discovery["scopes_supported"])
    assert discovery["device_authorization_endpoint"] and discovery["end_session_endpoint"]


def test_the_code_flow_with_pkce_gives_an_id_token_with_groups_and_the_gitlab_username(provider, discovery, alice):
    token = sign_in(provider, discovery, "alice", "alice-pw")
    claims = verified_claims(token["id_token"], public(provider))
    assert claims["iss"] == provider.issuer and claims["aud"] == WEB and claims["sub"] == "alice"
    assert claims["nonce"] == token["nonce"]
    assert claims["groups"] == ["flowyard-admins"] and claims["gitlab_username"] == "alice.gl"
    assert claims["email"] == "alice@example.test" and claims["email_verified"] is True
    assert claims["name"] == "Alice Liddell" and claims["preferred_username"] == "alice"
    assert 3590 <= claims["exp"] - claims["iat"] <= 3600
    assert token["refresh_token"]
    userinfo = requests.get(discovery["userinfo_endpoint"], timeout=10,
                            headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert userinfo["groups"] == ["flowyard-admins"]


def test_an_authorization_request_without_pkce_is_refused(provider, discovery):
    url = discovery["authorization_endpoint"] + "?" + urllib.parse.urlencode(
        {"client_id": WEB, "response_type": "code", "scope": SCOPE, "redirect_uri": REDIRECT_URI, "state": "s1"})
    answer = requests.get(url, allow_redirects=False, timeout=10)
    error = urllib.parse.parse_qs(urllib.parse.urlsplit(answer.headers["Location"]).query)
    assert error["error"] == ["invalid_request"] and "requires PKCE" in error["error_description"][0]


def test_a_wrong_password_an_unknown_or_a_disabled_user_is_refused(provider, discovery, alice):
    provider.set_user("bob", password="bob-pw", groups=["g"], disabled=True)
    for login, password in (("alice", "wrong"), ("nobody", "x"), ("bob", "bob-pw")):
        url, _ = web_session().create_authorization_url(discovery["authorization_endpoint"],
                                                        code_verifier=generate_token(48))
        with pytest.raises(AssertionError, match="Invalid login"):
            provider.authorize(url, login, password)


def test_a_refresh_returns_an_id_token_with_the_current_groups(provider, discovery, alice):
    token = sign_in(provider, discovery, "alice", "alice-pw")
    provider.set_user("alice", password="alice-pw", email="alice@example.test", groups=["flowyard-viewers"],
                      gitlab_username="alice.gl")
    refreshed = web_session().refresh_token(discovery["token_endpoint"], refresh_token=token["refresh_token"])
    claims = verified_claims(refreshed["id_token"], public(provider))
    assert claims["groups"] == ["flowyard-viewers"] and claims["sub"] == "alice"


def test_a_refresh_for_a_disabled_user_fails_with_invalid_grant(provider, discovery, alice):
    token = sign_in(provider, discovery, "alice", "alice-pw")
    provider.set_user("alice", password="alice-pw", groups=["flowyard-admins"], disabled=True)
    with pytest.raises(OAuthError) as refused:
        web_session().refresh_token(discovery["token_endpoint"], refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"


def test_rp_initiated_logout_redirects_back_and_ends_the_session_s_refresh_tokens(provider, discovery, alice):
    browser_session = requests.Session()
    token = sign_in(provider, discovery, "alice", "alice-pw", session=browser_session)
    url = discovery["end_session_endpoint"] + "?" + urllib.parse.urlencode(
        {"id_token_hint": token["id_token"], "post_logout_redirect_uri": LOGGED_OUT_URI, "state": "bye"})
    confirm = browser_session.get(url, timeout=10)
    [form] = parse_forms(confirm.text)
    done = form.submit(browser_session, confirm.url, button="Yes, sign me out")
    assert done.status_code in (302, 303) and done.headers["Location"] == f"{LOGGED_OUT_URI}?state=bye"
    with pytest.raises(OAuthError) as refused:  # refresh tokens without offline_access live with the session
        web_session().refresh_token(discovery["token_endpoint"], refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"


def test_the_device_flow_gives_the_public_client_tokens(provider, discovery, alice):
    started = requests.post(discovery["device_authorization_endpoint"], timeout=10,
                            data={"client_id": CLI, "scope": "openid profile groups"}).json()
    poll = {"grant_type": DEVICE_CODE_GRANT, "device_code": started["device_code"], "client_id": CLI}
    assert requests.post(discovery["token_endpoint"], data=poll, timeout=10).json()["error"] == "authorization_pending"
    provider.device_approve(started["verification_uri_complete"], "alice", "alice-pw")
    token = requests.post(discovery["token_endpoint"], data=poll, timeout=10).json()
    claims = verified_claims(token["id_token"], public(provider))
    assert claims["aud"] == CLI and claims["groups"] == ["flowyard-admins"]
    refreshed = requests.post(discovery["token_endpoint"], timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"], "client_id": CLI}).json()
    assert verified_claims(refreshed["id_token"], public(provider))["sub"] == "alice"


def test_rotating_keys_publishes_both_and_signs_with_the_new_one_keeping_refresh_tokens(provider, discovery, alice):
    before = sign_in(provider, discovery, "alice", "alice-pw")
    old = provider.signing_key
    new = provider.rotate_keys()
    published = public(provider)
    assert [key["kid"] for key in published["keys"]] == [new["kid"], old["kid"]]
    assert all("d" not in key for key in published["keys"])
    after = sign_in(provider, discovery, "alice", "alice-pw")
    assert jwt.decode(after["id_token"], import_key(public_jwk(new))).header["kid"] == new["kid"]
    with pytest.raises(BadSignatureError):
        jwt.decode(after["id_token"], import_key(public_jwk(old)))
    refreshed = web_session().refresh_token(discovery["token_endpoint"], refresh_token=before["refresh_token"])
    assert jwt.decode(refreshed["id_token"], import_key(new)).header["kid"] == new["kid"]


def test_the_proxy_relays_and_rewrites_only_the_token_endpoint_in_discovery(provider, discovery):
    with TamperingProxy(provider) as proxy:
        document = requests.get(proxy.discovery_url, timeout=10).json()
    assert document["token_endpoint"] == proxy.url + "/token" == proxy.token_endpoint
    assert {**document, "token_endpoint": discovery["token_endpoint"]} == discovery


def test_the_proxy_rewrites_claims_and_signs_with_the_key_it_is_given(provider, discovery, alice):
    with TamperingProxy(provider) as proxy:
        token = sign_in(provider, discovery, "alice", "alice-pw", token_endpoint=proxy.token_endpoint)
        assert verified_claims(token["id_token"], public(provider))["aud"] == WEB  # untouched until tamper()
        proxy.tamper(claims=lambda claims: {**claims, "aud": "someone-else", "exp": int(time.time()) - 60})
        token = sign_in(provider, discovery, "alice", "alice-pw", token_endpoint=proxy.token_endpoint)
        claims = verified_claims(token["id_token"], public(provider))  # still validly signed by the real key
        assert claims["aud"] == "someone-else" and claims["exp"] < time.time()
        assert claims["groups"] == ["flowyard-admins"]
        stranger = new_signing_key("stranger")
        proxy.tamper(key=stranger)
        token = sign_in(provider, discovery, "alice", "alice-pw", token_endpoint=proxy.token_endpoint)
        assert jwt.decode(token["id_token"], import_key(public_jwk(stranger))).header["kid"] == "stranger"
        with pytest.raises(BadSignatureError):
            jwt.decode(token["id_token"], import_key(public_jwk(provider.signing_key)))
        proxy.reset()
        token = sign_in(provider, discovery, "alice", "alice-pw", token_endpoint=proxy.token_endpoint)
        assert verified_claims(token["id_token"], public(provider))["aud"] == WEB
        assert ("POST", "/token") in proxy.requests


def test_the_browser_signs_in_on_the_provider_s_login_page(provider, discovery, alice, page):  # noqa: F811
    url, _ = web_session().create_authorization_url(discovery["authorization_endpoint"],
                                                    code_verifier=generate_token(48))
    callbacks, requested = [], []
    page.on("request", lambda request: requested.append(request.url))
    page.route(REDIRECT_URI + "**", lambda route: (callbacks.append(route.request.url),
                                                   route.fulfill(status=200, body="callback reached")))
    page.goto(url)
    page.fill("input[name=login]", "alice")
    page.fill("input[name=password]", "wrong")
    page.click("text=Sign in")
    expect(page.get_by_role("alert")).to_have_text("Invalid login")
    page.fill("input[name=password]", "alice-pw")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(REDIRECT_URI + "**")
    [callback] = callbacks
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)["code"]
    assert requested and all(url.startswith("http://127.0.0.1:") for url in requested), requested  # no web fonts


def test_the_browser_reaches_loopback_directly_and_nothing_beyond(provider, page):  # noqa: F811
    answer = page.goto("http://flowyard-guard-probe.invalid/some/page")
    assert answer.status == 403
    assert "http://flowyard-guard-probe.invalid/some/page" in page.context.browser.guard.blocked
    for host in ("127.0.0.1", "localhost"):  # the live server is http://localhost:<port>
        url = provider.discovery_url.replace("127.0.0.1", host)
        assert page.goto(url).status == 200 and url not in page.context.browser.guard.blocked


def test_django_s_async_unsafe_guard_lets_the_test_thread_through_while_the_browser_runs(browser):  # noqa: F811
    from django.utils.asyncio import async_unsafe

    asyncio.get_running_loop()  # Playwright's sync API: an event loop is marked running in this thread
    assert async_unsafe("an ORM call")(lambda: "ran")() == "ran"
