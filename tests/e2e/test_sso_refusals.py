"""Sign-ins that must be refused, against the real provider: a tampered state, a code replayed or used by another
browser, and ID tokens with a wrong nonce, another key's signature, an expiry in the past or another audience (made
by a proxy that re-signs the provider's answer). Each is refused with 400 or 403 and an audit event, and creates
nobody. The provider rotating its signing key does not break sign-in (the JWKS is fetched again).
"""

from __future__ import annotations

import time
import urllib.parse

import pytest
import requests

from controlplane.core.models import AuditEvent
from controlplane.sso.models import SsoAccount
from django.contrib.auth import get_user_model
from flowyard_testkit.oidc import new_signing_key, oidc_provider, tampering_proxy  # noqa: F401
from flowyard_testkit.sso import SsoWorld, query_with, sso_settings, sso_world  # noqa: F401

LOGIN = "mallory-target"


def assert_refused_and_nobody_created(answer: requests.Response, status: int, code: str) -> None:
    """The callback refused with `status`, said why on the page, audited it, and created no user."""
    assert answer.status_code == status, answer.text[:500]
    assert code in answer.text
    assert AuditEvent.objects.filter(action="sso.login_failed", after__reason=code).exists()
    assert not get_user_model().objects.filter(username=LOGIN).exists()
    assert not SsoAccount.objects.exists()


@pytest.fixture
def target(sso_world: SsoWorld) -> SsoWorld:
    """A person in a mapped group, who would be let in if nothing were wrong."""
    sso_world.person(LOGIN, "analytics-developers")
    return sso_world


def test_a_tampered_state_is_refused(target: SsoWorld):
    answer = target.sign_in(LOGIN, tamper_callback=lambda url: query_with(url, state="forged-state"))
    assert_refused_and_nobody_created(answer, 400, "state_mismatch")


def test_a_code_used_in_another_browser_or_replayed_is_refused(target: SsoWorld):
    victim, attacker = requests.Session(), requests.Session()
    stolen = {}

    def steal(callback: str) -> str:
        stolen["code"] = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))["code"]
        return callback

    start = victim.get(f"{target.url}/auth/oidc/start/", allow_redirects=False, timeout=30)
    victim_callback = steal(target.provider.authorize(start.headers["Location"], LOGIN, "correct horse battery staple",
                                                      session=victim))
    # The attacker starts a sign-in of their own and swaps in the victim's code: PKCE's verifier does not match.
    answer = target.sign_in(LOGIN, attacker, tamper_callback=lambda url: query_with(url, code=stolen["code"]))
    assert_refused_and_nobody_created(answer, 400, "code_refused")
    # The victim's own use of it then works once; replayed in a new sign-in, the used code is refused.
    assert victim.get(victim_callback, allow_redirects=False, timeout=30).status_code == 302
    replay = target.sign_in(LOGIN, requests.Session(), tamper_callback=lambda url: query_with(url, code=stolen["code"]))
    assert replay.status_code == 400 and "code_refused" in replay.text


@pytest.mark.parametrize("claims, reason", [
    (lambda c: c | {"nonce": "not-the-one-we-sent"}, "nonce"),
    (lambda c: c | {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
    (lambda c: c | {"aud": "someone-else"}, "aud"),
    (lambda c: c | {"iss": "https://idp.example.invalid"}, "iss"),
    (None, "signature"),
], ids=["wrong nonce", "expired", "wrong audience", "another issuer", "signed by another key"])
def test_an_id_token_that_does_not_hold_up_is_refused(target: SsoWorld, tampering_proxy, settings, claims, reason):
    sso_settings(settings, target.provider, oidc_discovery_url=tampering_proxy.discovery_url)
    if claims is None:
        real_kid = target.provider.signing_key["kid"]
        tampering_proxy.tamper(claims=lambda c: c, key=new_signing_key(real_kid))  # same key id, another key
    else:
        tampering_proxy.tamper(claims=claims)
    answer = target.sign_in(LOGIN)
    assert_refused_and_nobody_created(answer, 403, "id_token_refused")
    assert ("POST", "/token") in [(method, path.split("?")[0]) for method, path in tampering_proxy.requests]


def test_the_untouched_answer_through_the_same_proxy_signs_in(target: SsoWorld, tampering_proxy, settings):
    sso_settings(settings, target.provider, oidc_discovery_url=tampering_proxy.discovery_url)
    assert target.sign_in(LOGIN).status_code == 302
    assert SsoAccount.objects.get().user.username == LOGIN


def test_sign_in_goes_on_working_when_the_provider_rotates_its_signing_key(target: SsoWorld):
    assert target.sign_in(LOGIN).status_code == 302
    new_key = target.provider.rotate_keys()
    answer = target.sign_in(LOGIN)  # a new browser: the provider signs with the new key, unknown to Flowyard's JWKS
    assert answer.status_code == 302, answer.text[:500]
    assert AuditEvent.objects.filter(action="sso.login").count() == 2
    assert new_key["kid"] in {key["kid"] for key in requests.get(target.provider.discovery()["jwks_uri"], timeout=30)
                              .json()["keys"]}
