"""Addresses and time bounds shared by the provider, its proxy and the sign-in page helpers."""

DISCOVERY_PATH = "/.well-known/openid-configuration"

STOP_TIMEOUT_SECONDS = 10.0
HTTP_TIMEOUT_SECONDS = 30.0
