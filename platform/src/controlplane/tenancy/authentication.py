"""DRF authentication by `Authorization: Bearer <token>` for personal and CI tokens.

Run tokens (`fyr_`) are left to the next authenticator, `runs.authentication.RunTokenAuthentication`: runs sit
above tenancy, so tenancy never looks runs up."""

from __future__ import annotations

import datetime
from django.utils import timezone
from rest_framework import authentication, exceptions
from typing_extensions import override

from controlplane.tenancy.models import PersonalToken, ProjectToken
from controlplane.tenancy.principals import CIPrincipal
from controlplane.tenancy.tokens import CI_PREFIX, PERSONAL_PREFIX, RUN_PREFIX, holder_of

LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


def _touch(token: PersonalToken | ProjectToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        type(token).objects.filter(pk=token.pk).update(last_used_at=now)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Accepts personal tokens (act as their user) and CI tokens (act as a CIPrincipal)."""

    keyword = "Bearer"

    @override
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        try:
            value = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("The token contains invalid characters.") from None
        if value.startswith(PERSONAL_PREFIX):
            return self._personal(value)
        if value.startswith(CI_PREFIX):
            return self._ci(value)
        if value.startswith(RUN_PREFIX):
            return None  # a run token: RunTokenAuthentication (runs/) answers for it
        raise exceptions.AuthenticationFailed("Unknown token type; use a personal (fyp_) or CI (fyc_) token.")

    def _personal(self, value: str):
        token = holder_of(PersonalToken.objects.select_related("user"), value)
        if token is None or not token.is_active or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        _touch(token)
        return token.user, token

    def _ci(self, value: str):
        token = holder_of(ProjectToken.objects.select_related("project"), value)
        if token is None or not token.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        _touch(token)
        principal = CIPrincipal(
            token_id=token.pk, token_name=token.name, project_id=token.project_id, project_slug=token.project.slug
        )
        return principal, token

    @override
    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="flowyard"'
