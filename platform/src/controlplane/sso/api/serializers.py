"""Serializers of the CLI login API (RFC 8628 device authorization, through the control plane)."""

from rest_framework import serializers


class DeviceAuthorizationSerializer(serializers.Serializer):
    """The provider's device authorization answer, relayed: show `user_code` and `verification_uri` to the person."""

    device_code = serializers.CharField()
    user_code = serializers.CharField()
    verification_uri = serializers.CharField()
    verification_uri_complete = serializers.CharField(required=False)
    interval = serializers.IntegerField()
    expires_in = serializers.IntegerField()


class DeviceTokenRequestSerializer(serializers.Serializer):
    """Input of a poll: the device code, and the name of the personal token to mint."""

    device_code = serializers.CharField(max_length=2000)
    token_name = serializers.CharField(max_length=100, required=False, default="flowyard login")


class CliTokenSerializer(serializers.Serializer):
    """The personal token minted for the CLI; `token` is shown this once."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    username = serializers.CharField()
