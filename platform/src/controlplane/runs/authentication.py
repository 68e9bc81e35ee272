"""DRF authentication of a run's runner by its run token (`Authorization: Bearer fyr_…`)."""

from __future__ import annotations

from rest_framework import authentication, exceptions
from typing_extensions import override

from controlplane.runs.models import Run
from controlplane.tenancy.principals import RunnerPrincipal
from controlplane.tenancy.tokens import RUN_PREFIX, holder_of
from flowyard_spec.api import RUN_ENDED_CODE, RUN_TOKEN_UNKNOWN_CODE


class RunTokenAuthentication(authentication.BaseAuthentication):
    """Accepts the token of a live run; the runner acts as a RunnerPrincipal that may only report on that run.

    A run's token dies with the run: once it is terminal the token answers 401.
    """

    keyword = "Bearer"

    @override
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != self.keyword.lower().encode():
            return None
        value = header[1].decode(errors="replace")
        if not value.startswith(RUN_PREFIX):
            return None
        run = holder_of(Run.objects.only("pk", "state"), value)
        if run is None:
            raise exceptions.AuthenticationFailed("Invalid run token.", code=RUN_TOKEN_UNKNOWN_CODE)
        if run.is_terminal:
            raise exceptions.AuthenticationFailed("This run has ended; its token no longer works.", code=RUN_ENDED_CODE)
        return RunnerPrincipal(run_id=run.pk), None

    @override
    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="flowyard"'
