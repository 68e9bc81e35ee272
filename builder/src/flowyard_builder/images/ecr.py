"""Amazon ECR: recognise an ECR registry host and get docker credentials for it through boto3."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from flowyard_builder.images.errors import PushError

ECR_HOST = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$", re.IGNORECASE
)


@dataclass(frozen=True)
class EcrRegistry:
    """An ECR registry: AWS account and region, read from its host name."""

    account: str
    region: str


def ecr_registry(host: str | None) -> EcrRegistry | None:
    """The ECR registry named by a host such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com, else None."""
    match = ECR_HOST.match(host or "")
    return EcrRegistry(match["account"], match["region"].lower()) if match else None


def ecr_auth_config(host: str, session: Any = None, endpoint_url: str | None = None) -> dict[str, str]:
    """Docker auth_config for an ECR host from `ecr.get_authorization_token` (boto3's usual credential chain)."""
    registry = ecr_registry(host)
    if registry is None:
        raise ValueError(f"{host} is not an ECR registry host")
    import boto3  # boto3 takes ~0.3 s to import: only for ECR registries, not every push
    import botocore.exceptions

    session = session or boto3.session.Session()
    try:
        client = session.client("ecr", region_name=registry.region, endpoint_url=endpoint_url)
        response = client.get_authorization_token(registryIds=[registry.account])
        data = response["authorizationData"][0]
        username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, KeyError, IndexError, ValueError) as exc:
        raise PushError(f"could not get ECR credentials for {host}: {exc}") from None
    return {"username": username, "password": password, "serveraddress": data.get("proxyEndpoint") or f"https://{host}"}
