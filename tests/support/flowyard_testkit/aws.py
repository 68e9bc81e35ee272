"""AWS for tests: a real moto server over HTTP on 127.0.0.1, and an ECS cluster with a network on it.

Nothing reaches AWS: every client is pointed at the moto server with `endpoint_url`, the credentials are moto's
dummy ones from the environment (boto3's normal chain), and instance metadata lookups are switched off.
Import the fixtures you use into the test module: `from flowyard_testkit.aws import moto_aws, ecs_target`.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

REGION = "eu-west-1"
AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",  # never ask 169.254.169.254 for credentials
    "AWS_CONFIG_FILE": os.devnull,  # no profile of the machine's user changes what the tests do
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
AWS_UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
             "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
TASK_MODEL = "ecs::task"  # moto's name for the ECS task lifecycle in its state manager


@dataclass(frozen=True)
class MotoAws:
    """A running moto server: its endpoint, boto3 clients for it, and its control API."""

    endpoint_url: str
    region: str = REGION

    def client(self, service: str) -> Any:
        """A boto3 client of `service` that talks to the moto server."""
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url)

    def _moto_api(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def task_progression(self, describes_per_step: int | None) -> None:
        """How moto moves ECS tasks on: one lifecycle state per `describes_per_step` DescribeTasks calls.

        moto starts a Fargate task RUNNING and walks it RUNNING → DEACTIVATING → STOPPING → DEPROVISIONING →
        STOPPED (exit code 0), by default one step per DescribeTasks. None restores that default.
        """
        if describes_per_step is None:
            self._moto_api("state-manager/unset-transition", {"model_name": TASK_MODEL})
        else:
            self._moto_api("state-manager/set-transition", {
                "model_name": TASK_MODEL, "transition": {"progression": "manual", "times": describes_per_step}})


def _set_environment() -> dict[str, str | None]:
    saved = {key: os.environ.get(key) for key in (*AWS_ENVIRONMENT, *AWS_UNSET)}
    os.environ.update(AWS_ENVIRONMENT)
    for key in AWS_UNSET:
        os.environ.pop(key, None)
    return saved


def _restore_environment(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def moto_aws() -> Iterator[MotoAws]:
    """A moto server on 127.0.0.1 (a free port) for a test module, with moto's credentials in the environment.

    Module scope: the environment is put back after the module, so no other test sees moto's credentials.
    """
    from moto.server import ThreadedMotoServer

    saved = _set_environment()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield MotoAws(endpoint_url=f"http://{host}:{port}")
    finally:
        server.stop()
        _restore_environment(saved)


def ecs_network(aws: MotoAws) -> tuple[str, str]:
    """A VPC with DNS hostnames (Fargate needs them), one subnet and one security group: (subnet, group)."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]  # only a record in moto: no traffic goes there
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"flowyard-{uuid.uuid4().hex[:8]}", Description="Flowyard runs",
                                      VpcId=vpc)["GroupId"]
    return subnet, group


@pytest.fixture
def ecs_target(moto_aws: MotoAws) -> Iterator[dict[str, Any]]:
    """Settings of an ECS runtime target on a fresh cluster and network; moto keeps tasks RUNNING until stopped."""
    cluster = f"flowyard-{uuid.uuid4().hex[:12]}"
    moto_aws.client("ecs").create_cluster(clusterName=cluster)
    subnet, group = ecs_network(moto_aws)
    moto_aws.task_progression(1_000_000)
    try:
        yield {
            "region": moto_aws.region,
            "cluster": cluster,
            "subnets": [subnet],
            "security_groups": [group],
            "execution_role_arn": "arn:aws:iam::123456789012:role/flowyard-execution",
            "task_role_arn": "arn:aws:iam::123456789012:role/flowyard-run",
            "log_group": f"/flowyard/{cluster}",
            "endpoint_url": moto_aws.endpoint_url,
        }
    finally:
        moto_aws.task_progression(None)
