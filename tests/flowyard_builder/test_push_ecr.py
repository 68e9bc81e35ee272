"""ECR: registry hosts are recognised, and credentials come from `ecr.get_authorization_token` — here
from a real moto server over HTTP on 127.0.0.1."""

from __future__ import annotations

import base64

import pytest

from flowyard_builder.images.ecr import EcrRegistry, ecr_auth_config, ecr_registry
from flowyard_builder.images.errors import PushError


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com", EcrRegistry("123456789012", "eu-west-1")),
        ("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", EcrRegistry("123456789012", "us-east-1")),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", EcrRegistry("123456789012", "cn-north-1")),
        ("127.0.0.1:5000", None),
        ("registry.example.com", None),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example", None),
        (None, None),
    ],
)
def test_ecr_hosts_are_recognised(host, expected):
    assert ecr_registry(host) == expected


def test_a_non_ecr_host_is_refused():
    with pytest.raises(ValueError):
        ecr_auth_config("127.0.0.1:5000")


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_session(monkeypatch):
    import boto3

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


def test_ecr_credentials_from_get_authorization_token(moto_endpoint, aws_session):
    host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    auth = ecr_auth_config(host, session=aws_session, endpoint_url=moto_endpoint)
    assert auth["username"] == "AWS"
    assert auth["password"]
    assert auth["serveraddress"].startswith("https://") and "123456789012" in auth["serveraddress"]
    client = aws_session.client("ecr", region_name="eu-west-1", endpoint_url=moto_endpoint)
    token = client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    assert base64.b64decode(token).decode().split(":", 1)[0] == "AWS"


def test_ecr_unreachable_is_a_push_error(aws_session):
    with pytest.raises(PushError, match="could not get ECR credentials"):
        ecr_auth_config("123456789012.dkr.ecr.eu-west-1.amazonaws.com", session=aws_session,
                        endpoint_url="http://127.0.0.1:9")
