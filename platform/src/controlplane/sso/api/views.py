"""The CLI login API: `flowyard login` starts a device authorization and polls for its personal token.

Both endpoints take no credentials (the person has none yet); what they hand out is only the provider's device
code (secret to the CLI that asked) and, once the person signed in at the provider, a personal token of theirs.
Each call is a call to the provider, so both are rate-limited per client address (`cli-login` in
REST_FRAMEWORK's DEFAULT_THROTTLE_RATES; 429 `throttled` with Retry-After beyond it).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from controlplane.sso.api import serializers
from controlplane.sso.errors import DeviceFlowWaiting, NoAccess, SsoError, SsoNotConfigured
from controlplane.sso.flows import device_authorization_start, device_token_exchange
from controlplane.sso.services import sign_in_refused_record


class DeviceAuthorizationView(APIView):
    """Start `flowyard login`: a device code and the code the person enters at the provider."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "cli-login"

    @extend_schema(request=None, responses=serializers.DeviceAuthorizationSerializer)
    def post(self, request: Request) -> Response:
        """Ask the provider for a device authorization."""
        return Response(serializers.DeviceAuthorizationSerializer(device_authorization_start()).data)


class DeviceTokenView(APIView):
    """Poll for `flowyard login`'s token: 400 authorization_pending/slow_down until the person signed in, then 201."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "cli-login"

    @extend_schema(request=serializers.DeviceTokenRequestSerializer, responses={201: serializers.CliTokenSerializer})
    def post(self, request: Request) -> Response:
        """Exchange the device code; on success sign the person in and mint a personal token with an expiry."""
        data = serializers.DeviceTokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            login = device_token_exchange(device_code=data.validated_data["device_code"],
                                          token_name=data.validated_data["token_name"])
        except (DeviceFlowWaiting, NoAccess, SsoNotConfigured):
            raise  # nothing to audit yet, or audited by the sign-in itself
        except SsoError as exc:
            sign_in_refused_record(reason=exc.code, detail=exc.message, via="cli")
            raise
        token = login.token
        body = {"id": token.pk, "name": token.name, "prefix": token.prefix, "token": login.value,
                "expires_at": token.expires_at, "username": login.username}
        return Response(serializers.CliTokenSerializer(body).data, status=status.HTTP_201_CREATED)
