#!/usr/bin/env python3
"""Run the Flowyard control plane itself on ECS/Fargate: web, worker and beat services from one JSON config.

    python deploy/ecs/flowyard_ecs.py deploy  --config deploy/ecs/config.example.json
    python deploy/ecs/flowyard_ecs.py destroy --config deploy/ecs/config.example.json [--delete-cluster]

`deploy` creates or updates, idempotently: the cluster (if missing), the CloudWatch log group, three Fargate task
definitions (<prefix>-web, <prefix>-worker, <prefix>-beat: the control plane image with the command `web`, `worker`,
`beat`), a one-off `migrate` task (the web task definition with the command `migrate`; the deploy stops when it
does not exit 0), then the three services. A task definition gets a new revision only when its content changed (a
sha256 of the registration request is a tag on each revision); a service is updated only when its revision,
desired count or settings changed. `destroy` scales the services to 0, deletes them and deregisters the task
definitions; the log group is kept, the cluster too unless --delete-cluster.

boto3 only: no Django, nothing of Flowyard's is imported. Credentials and the account come from boto3's usual chain
(environment, profile, instance or SSO role). deploy/ecs/README.md says what the roles need and what the config means.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

SERVICES = ("web", "worker", "beat")
CONTAINER = "controlplane"  # the one container of each task definition
WEB_PORT = 8000  # the image's default FLOWYARD_BIND
FINGERPRINT_TAG = "org.flowyard.deploy-fingerprint"  # sha256 of the request, on task definitions and services
MANAGED_TAG = "org.flowyard.managed-by"
MANAGED_VALUE = "deploy/ecs"
MIGRATE_STARTED_BY = "flowyard-deploy-migrate"  # RunTask's startedBy of the migrate task (at most 36 characters)
# Fargate's ceiling for stopTimeout: a Celery worker gets it all to finish what it is doing on SIGTERM.
STOP_TIMEOUT = {"web": 30, "worker": 120, "beat": 30}
# The image's own HEALTHCHECK: `flowyard-healthcheck` GETs /healthz on FLOWYARD_BIND with Python's urllib,
# sending the first FLOWYARD_ALLOWED_HOSTS name as Host and X-Forwarded-Proto: https (deploy/images/README.md).
WEB_HEALTH_CHECK = {"command": ["CMD", "flowyard-healthcheck"], "interval": 15, "timeout": 5, "retries": 3,
                    "startPeriod": 60}
# What the control plane image refuses to start without in production (deploy/images/README.md).
REQUIRED_SECRETS = ("FLOWYARD_SECRET_KEY", "FLOWYARD_DATABASE_URL")
REQUIRED_VARIABLES = ("FLOWYARD_BROKER_URL", "FLOWYARD_PUBLIC_URL", "FLOWYARD_ALLOWED_HOSTS",
                      "FLOWYARD_CSRF_TRUSTED_ORIGINS")
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE|(^|_)KEY$|DATABASE_URL")
URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]*:[^/@\s]+@", re.IGNORECASE)
SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:\d{12}:secret:"
                        r"|ssm:[a-z0-9-]+:\d{12}:parameter/)\S+$")
FARGATE_SIZES = {256: (512, 2048), 512: (1024, 4096), 1024: (2048, 8192), 2048: (4096, 16384),
                 4096: (8192, 30720), 8192: (16384, 61440), 16384: (32768, 122880)}
DEFAULTS: dict[str, Any] = {
    "name_prefix": "flowyard",
    "assign_public_ip": False,
    "platform_version": "LATEST",
    "cpu_architecture": "X86_64",
    "log_retention_days": 30,
    "target_group_arn": None,
    "health_check_grace_seconds": 120,
    "environment": {},
    "secrets": {},
    "tags": {},
    "migrate_timeout_seconds": 1800,
    "poll_seconds": 6,
}
SERVICE_DEFAULTS = {"web": {"desired_count": 2, "cpu": 512, "memory": 1024},
                    "worker": {"desired_count": 2, "cpu": 1024, "memory": 2048},
                    "beat": {"desired_count": 1, "cpu": 256, "memory": 512}}


class DeployError(Exception):
    """The config is wrong or AWS refused a step: the message says which and why."""


# --- config ---------------------------------------------------------------------------------------------------------


def load_config(path: str) -> dict[str, Any]:
    """The JSON config at `path`, checked and with defaults filled in (see validate_config)."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except (OSError, ValueError) as exc:
        raise DeployError(f"{path}: {exc}") from exc
    return validate_config(raw)


def validate_config(raw: dict[str, Any]) -> dict[str, Any]:
    """Check a config and fill in defaults; DeployError lists every problem found.

    Secrets never go in the plain environment: a variable whose name looks secret (…SECRET…, …PASSWORD…, …TOKEN…,
    …_KEY, DATABASE_URL) or whose value is a URL with a password is refused there, and every `secrets` entry must be
    the ARN of a Secrets Manager secret or an SSM parameter (ECS fetches it with the execution role at start).
    """
    if not isinstance(raw, dict):
        raise DeployError("the config must be a JSON object")
    known = {*DEFAULTS, "region", "cluster", "image", "subnets", "security_groups", "execution_role_arn",
             "task_role_arn", "log_group", "services"}
    problems = [f"unknown key {key!r}" for key in sorted(set(raw) - known)]
    config = {**DEFAULTS, **raw}
    for key in ("region", "cluster", "image", "execution_role_arn", "task_role_arn", "log_group"):
        if not isinstance(config.get(key), str) or not config[key]:
            problems.append(f"{key!r} is required (a non-empty string)")
    for key in ("subnets", "security_groups"):
        value = config.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(item, str) and item for item in value):
            problems.append(f"{key!r} is required (a non-empty list of IDs)")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,200}", str(config["name_prefix"])):
        problems.append("'name_prefix' may hold letters, digits, '-' and '_' only")
    if config["cpu_architecture"] not in ("X86_64", "ARM64"):
        problems.append("'cpu_architecture' is X86_64 or ARM64")
    services_raw = config.get("services") or {}
    if not isinstance(services_raw, dict) or set(services_raw) - set(SERVICES):
        problems.append(f"'services' is an object with keys among {', '.join(SERVICES)}")
        services_raw = {}
    services = {}
    for name in SERVICES:
        spec = {**SERVICE_DEFAULTS[name], **(services_raw.get(name) or {})}
        extra = set(spec) - {"desired_count", "cpu", "memory"}
        if extra:
            problems.append(f"services.{name}: unknown key(s) {', '.join(sorted(extra))}")
        cpu, memory, count = spec.get("cpu"), spec.get("memory"), spec.get("desired_count")
        if cpu not in FARGATE_SIZES or not isinstance(memory, int) or not (
                FARGATE_SIZES[cpu][0] <= memory <= FARGATE_SIZES[cpu][1]):
            problems.append(f"services.{name}: cpu {cpu} / memory {memory} is not a Fargate size")
        if not isinstance(count, int) or count < 0:
            problems.append(f"services.{name}: desired_count must be a whole number >= 0")
        if name == "beat" and count != 1:
            problems.append("services.beat: desired_count is always 1 (two beats would tick every schedule twice)")
        services[name] = spec
    config["services"] = services
    environment, secrets = config["environment"], config["secrets"]
    if not isinstance(environment, dict) or not all(isinstance(v, str) for v in environment.values()):
        problems.append("'environment' maps names to string values")
        environment = {}
    if not isinstance(secrets, dict) or not all(isinstance(v, str) for v in secrets.values()):
        problems.append("'secrets' maps names to ARNs")
        secrets = {}
    for name, value in sorted(environment.items()):
        if SECRET_NAME.search(name.upper()):
            problems.append(f"environment.{name} looks secret: put its ARN under 'secrets' instead")
        elif URL_WITH_PASSWORD.match(value):
            problems.append(f"environment.{name} holds a password in its URL: put its ARN under 'secrets' instead")
        if name in secrets:
            problems.append(f"{name} is both in 'environment' and in 'secrets'")
    for name, arn in sorted(secrets.items()):
        if not SECRET_ARN.match(arn):
            problems.append(f"secrets.{name} must be a Secrets Manager secret or SSM parameter ARN, not {arn[:12]!r}…")
    problems += [f"secrets.{name} is required" for name in REQUIRED_SECRETS if name not in secrets]
    problems += [f"{name} is required in 'environment' or 'secrets'" for name in REQUIRED_VARIABLES
                 if name not in environment and name not in secrets]
    for key in ("migrate_timeout_seconds", "poll_seconds", "health_check_grace_seconds", "log_retention_days"):
        if not isinstance(config[key], int | float) or config[key] < 0:
            problems.append(f"{key!r} must be a number >= 0")
    if not isinstance(config["tags"], dict):
        problems.append("'tags' maps tag keys to values")
    if problems:
        raise DeployError("the config has problems:\n  " + "\n  ".join(problems))
    return config


# --- requests (no AWS calls) ----------------------------------------------------------------------------------------


def family_name(config: dict[str, Any], service: str) -> str:
    """The task definition family (and service name) of `service`: <name_prefix>-<service>."""
    return f"{config['name_prefix']}-{service}"


def fingerprint(request: dict[str, Any]) -> str:
    """A sha256 of a request: equal fingerprints mean nothing to change."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def resource_tags(config: dict[str, Any], digest: str | None = None) -> list[dict[str, str]]:
    """ECS tags: the config's own, who manages the resource and, given one, the fingerprint of its request."""
    tags = {**config["tags"], MANAGED_TAG: MANAGED_VALUE}
    if digest:
        tags[FINGERPRINT_TAG] = digest
    return [{"key": key, "value": str(value)} for key, value in sorted(tags.items())]


def task_definition_request(config: dict[str, Any], service: str) -> dict[str, Any]:
    """The RegisterTaskDefinition arguments (without tags) of one service: the image in that mode, at its size.

    Read-only root like the image wants: /tmp and the data directory are task volumes (Fargate has no tmpfs).
    """
    spec = config["services"][service]
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": config["image"],
        "essential": True,
        "command": [service],
        "cpu": spec["cpu"],
        "memory": spec["memory"],
        "environment": [{"name": name, "value": value} for name, value in sorted(config["environment"].items())],
        "secrets": [{"name": name, "valueFrom": arn} for name, arn in sorted(config["secrets"].items())],
        "readonlyRootFilesystem": True,
        "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False},
                        {"sourceVolume": "data", "containerPath": "/var/lib/flowyard", "readOnly": False}],
        "linuxParameters": {"initProcessEnabled": True, "capabilities": {"drop": ["ALL"]}},
        "stopTimeout": STOP_TIMEOUT[service],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": config["log_group"], "awslogs-region": config["region"],
                        "awslogs-stream-prefix": service},
        },
    }
    if service == "web":
        container["portMappings"] = [{"containerPort": WEB_PORT, "protocol": "tcp"}]
        container["healthCheck"] = dict(WEB_HEALTH_CHECK)
    return {
        "family": family_name(config, service),
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": str(spec["cpu"]),
        "memory": str(spec["memory"]),
        "runtimePlatform": {"cpuArchitecture": config["cpu_architecture"], "operatingSystemFamily": "LINUX"},
        "executionRoleArn": config["execution_role_arn"],
        "taskRoleArn": config["task_role_arn"],
        "volumes": [{"name": "tmp"}, {"name": "data"}],
        "containerDefinitions": [container],
    }


def network_configuration(config: dict[str, Any]) -> dict[str, Any]:
    """The awsvpc network of every task: the config's subnets and security groups."""
    return {"awsvpcConfiguration": {
        "subnets": list(config["subnets"]),
        "securityGroups": list(config["security_groups"]),
        "assignPublicIp": "ENABLED" if config["assign_public_ip"] else "DISABLED",
    }}


def deployment_configuration(service: str) -> dict[str, Any]:
    """Rolling updates with a circuit breaker; beat is stopped before its successor starts (never two beats)."""
    breaker = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    if service == "beat":
        return {"maximumPercent": 100, "minimumHealthyPercent": 0, **breaker}
    return {"maximumPercent": 200, "minimumHealthyPercent": 100, **breaker}


def service_settings(config: dict[str, Any], service: str) -> dict[str, Any]:
    """CreateService arguments besides cluster, name, task definition, desired count and tags (fingerprinted)."""
    settings: dict[str, Any] = {
        "launchType": "FARGATE",
        "platformVersion": config["platform_version"],
        "networkConfiguration": network_configuration(config),
        "deploymentConfiguration": deployment_configuration(service),
        "propagateTags": "SERVICE",
        "enableECSManagedTags": True,
    }
    if service == "web" and config["target_group_arn"]:
        settings["loadBalancers"] = [{"targetGroupArn": config["target_group_arn"], "containerName": CONTAINER,
                                      "containerPort": WEB_PORT}]
        settings["healthCheckGracePeriodSeconds"] = int(config["health_check_grace_seconds"])
    return settings


def migrate_failure(task: dict[str, Any]) -> str | None:
    """Why a STOPPED migrate task failed, or None when its container exited 0."""
    containers = [c for c in task.get("containers", []) if c.get("name") == CONTAINER] or task.get("containers", [])
    exit_code = containers[0].get("exitCode") if containers else None
    if exit_code == 0:
        return None
    reasons = [task.get("stoppedReason"), *(c.get("reason") for c in containers)]
    reason = "; ".join(r for r in reasons if r) or "no reason given"
    if exit_code is None:
        return f"its container did not run to an exit code ({task.get('stopCode', 'no stop code')}: {reason})"
    return f"exit code {exit_code} ({reason})"


# --- AWS ------------------------------------------------------------------------------------------------------------


class Deployer:
    """Deploys or destroys the control plane's ECS resources described by a checked config."""

    def __init__(self, config: dict[str, Any], *, endpoint_url: str | None = None,
                 out: Callable[[str], None] = print, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        session = boto3.session.Session(region_name=config["region"])
        self.ecs = session.client("ecs", endpoint_url=endpoint_url)
        self.logs = session.client("logs", endpoint_url=endpoint_url)
        self.out, self.clock, self.sleep = out, clock, sleep
        self.cluster = config["cluster"]

    # deploy

    def deploy(self, migrate: str = "auto") -> None:
        """Bring cluster, log group, task definitions, migrations and services to what the config says."""
        self.ensure_cluster()
        self.ensure_log_group()
        revisions = {service: self.ensure_task_definition(service) for service in SERVICES}
        current = self.describe_services()
        behind = [s for s in SERVICES if (current.get(s) or {}).get("taskDefinition") != revisions[s]]
        if migrate == "always" or (migrate == "auto" and behind):
            self.run_migrate(revisions["web"])
        else:
            why = "--migrate never" if migrate == "never" else "every service already runs its revision"
            self.out(f"migrate task: skipped ({why})")
        for service in SERVICES:
            self.ensure_service(service, revisions[service], current.get(service))

    def ensure_cluster(self) -> None:
        """Create the cluster unless an ACTIVE one of that name exists."""
        clusters = self.ecs.describe_clusters(clusters=[self.cluster])["clusters"]
        if any(c["status"] == "ACTIVE" for c in clusters):
            self.out(f"cluster {self.cluster}: exists")
            return
        self.ecs.create_cluster(clusterName=self.cluster, tags=resource_tags(self.config),
                                settings=[{"name": "containerInsights", "value": "enabled"}])
        self.out(f"cluster {self.cluster}: created")

    def ensure_log_group(self) -> None:
        """Create the log group unless it exists, and set its retention when it differs from the config's."""
        name, days = self.config["log_group"], int(self.config["log_retention_days"])
        groups = [g for g in self.logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
                  if g["logGroupName"] == name]
        action = "exists"
        if not groups:
            self.logs.create_log_group(logGroupName=name, tags={**self.config["tags"], MANAGED_TAG: MANAGED_VALUE})
            action, groups = "created", [{}]
        if days and groups[0].get("retentionInDays") != days:
            self.logs.put_retention_policy(logGroupName=name, retentionInDays=days)
            action += f", retention set to {days} days"
        self.out(f"log group {name}: {action}")

    def ensure_task_definition(self, service: str) -> str:
        """The ARN of the service's task definition: the latest revision if its content is the config's, else new."""
        request = task_definition_request(self.config, service)
        digest = fingerprint(request)
        try:
            answer = self.ecs.describe_task_definition(taskDefinition=request["family"], include=["TAGS"])
        except ClientError as exc:
            if "Unable to describe task definition" not in str(exc):
                raise
            answer = None
        if answer and answer["taskDefinition"].get("status") == "ACTIVE":
            tags = {tag["key"]: tag["value"] for tag in answer.get("tags", [])}
            if tags.get(FINGERPRINT_TAG) == digest:
                arn = answer["taskDefinition"]["taskDefinitionArn"]
                self.out(f"task definition {short(arn)}: unchanged")
                return arn
        arn = self.ecs.register_task_definition(**request, tags=resource_tags(self.config, digest))[
            "taskDefinition"]["taskDefinitionArn"]
        self.out(f"task definition {short(arn)}: registered")
        return arn

    def describe_services(self) -> dict[str, dict[str, Any]]:
        """The ACTIVE or DRAINING services of ours on the cluster, by service kind (web, worker, beat)."""
        names = {family_name(self.config, s): s for s in SERVICES}
        answer = self.ecs.describe_services(cluster=self.cluster, services=list(names), include=["TAGS"])
        return {names[s["serviceName"]]: s for s in answer["services"] if s["status"] != "INACTIVE"}

    def run_migrate(self, web_arn: str) -> None:
        """Run `migrate` once with the web task definition, wait for it to stop, fail unless it exited 0."""
        answer = self.ecs.run_task(
            cluster=self.cluster, taskDefinition=web_arn, count=1, launchType="FARGATE",
            platformVersion=self.config["platform_version"], networkConfiguration=network_configuration(self.config),
            overrides={"containerOverrides": [{"name": CONTAINER, "command": ["migrate"]}]},
            startedBy=MIGRATE_STARTED_BY, tags=resource_tags(self.config), propagateTags="TASK_DEFINITION")
        if answer.get("failures") or not answer.get("tasks"):
            raise DeployError(f"the migrate task did not start: {answer.get('failures')}")
        arn = answer["tasks"][0]["taskArn"]
        timeout = float(self.config["migrate_timeout_seconds"])
        deadline = self.clock() + timeout
        while True:
            tasks = self.ecs.describe_tasks(cluster=self.cluster, tasks=[arn])["tasks"]
            status = tasks[0]["lastStatus"] if tasks else "MISSING"
            if status == "STOPPED":
                break
            if self.clock() >= deadline:
                raise DeployError(
                    f"migrate task {arn} did not stop within {timeout:g} s (it is {status}); it was left running and "
                    "no service was changed: watch it in the log group, then deploy again")
            self.sleep(float(self.config["poll_seconds"]))
        failure = migrate_failure(tasks[0])
        if failure:
            raise DeployError(f"migrate task {arn} failed: {failure}; no service was changed")
        self.out(f"migrate task {arn.rsplit('/', 1)[-1]} ({short(web_arn)}): exit code 0")

    def ensure_service(self, service: str, revision: str, current: dict[str, Any] | None) -> None:
        """Create the service, or update what differs from the config: revision, desired count, settings."""
        name = family_name(self.config, service)
        desired = self.config["services"][service]["desired_count"]
        settings = service_settings(self.config, service)
        digest = fingerprint(settings)
        if current is not None and current["status"] == "DRAINING":
            raise DeployError(f"service {name} is still being deleted (DRAINING): deploy again once it is gone")
        if current is None:
            self.ecs.create_service(cluster=self.cluster, serviceName=name, taskDefinition=revision,
                                    desiredCount=desired, tags=resource_tags(self.config, digest), **settings)
            self.out(f"service {name}: created ({short(revision)}, desired {desired})")
            return
        tags = {tag["key"]: tag["value"] for tag in current.get("tags", [])}
        changes, update = [], {}
        if current.get("taskDefinition") != revision:
            changes.append(f"{short(current.get('taskDefinition') or '-')} -> {short(revision)}")
            update["taskDefinition"] = revision
        if current.get("desiredCount") != desired:
            changes.append(f"desired {current.get('desiredCount')} -> {desired}")
            update["desiredCount"] = desired
        if tags.get(FINGERPRINT_TAG) != digest:
            changes.append("settings")
            update.update({key: value for key, value in settings.items() if key != "launchType"})
            if "loadBalancers" not in settings and current.get("loadBalancers"):
                update["loadBalancers"] = []  # the target group left the config: detach it
        if not changes:
            self.out(f"service {name}: unchanged ({short(revision)}, desired {desired})")
            return
        # The deployment configuration goes with every update, so the rule it sets (one beat at most) is in force
        # for the deployment this very update starts.
        update["deploymentConfiguration"] = settings["deploymentConfiguration"]
        self.ecs.update_service(cluster=self.cluster, service=name, **update)
        if "settings" in changes:
            self.ecs.tag_resource(resourceArn=current["serviceArn"], tags=resource_tags(self.config, digest))
        self.out(f"service {name}: updated ({', '.join(changes)})")

    # destroy

    def destroy(self, delete_cluster: bool = False) -> None:
        """Scale the services to 0 and delete them, deregister the task definitions; the cluster on request."""
        current = self.describe_services()
        for service in SERVICES:
            name = family_name(self.config, service)
            found = current.get(service)
            if found is None or found["status"] != "ACTIVE":
                self.out(f"service {name}: {'draining' if found else 'absent'}")
                continue
            if found.get("desiredCount"):
                self.ecs.update_service(cluster=self.cluster, service=name, desiredCount=0)
            self.ecs.delete_service(cluster=self.cluster, service=name)
            self.out(f"service {name}: scaled to 0 and deleted")
        for service in SERVICES:
            family = family_name(self.config, service)
            arns = self.task_definition_revisions(family)
            for arn in arns:
                self.ecs.deregister_task_definition(taskDefinition=arn)
            self.out(f"task definition {family}: {len(arns)} revision(s) deregistered")
        if not delete_cluster:
            self.out(f"cluster {self.cluster}: kept (--delete-cluster deletes it)")
            return
        self.wait_services_inactive()
        self.ecs.delete_cluster(cluster=self.cluster)
        self.out(f"cluster {self.cluster}: deleted")

    def task_definition_revisions(self, family: str) -> list[str]:
        """Every ACTIVE revision ARN of exactly this family (familyPrefix also matches longer names)."""
        arns, token = [], None
        while True:
            kwargs = {"familyPrefix": family, "status": "ACTIVE", **({"nextToken": token} if token else {})}
            answer = self.ecs.list_task_definitions(**kwargs)
            arns += [a for a in answer["taskDefinitionArns"] if a.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family]
            token = answer.get("nextToken")
            if not token:
                return arns

    def wait_services_inactive(self) -> None:
        """Wait (up to the migrate timeout) until no service of ours is DRAINING: a cluster with one is not deleted."""
        deadline = self.clock() + float(self.config["migrate_timeout_seconds"])
        while draining := sorted(s["serviceName"] for s in self.describe_services().values()):
            if self.clock() >= deadline:
                raise DeployError(f"services still draining: {', '.join(draining)}; the cluster was kept")
            self.sleep(float(self.config["poll_seconds"]))


def short(arn: str) -> str:
    """family:revision of a task definition ARN."""
    return arn.rsplit("/", 1)[-1]


def main(argv: list[str] | None = None) -> int:
    """The command line: deploy or destroy; exit status 1 with the reason on stderr when a step fails."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("deploy", "destroy"))
    parser.add_argument("--config", required=True, help="the JSON config (see config.example.json)")
    parser.add_argument("--migrate", choices=("auto", "always", "never"), default="auto",
                        help="deploy: run the migrate task when a service changes revision (auto, the default), "
                             "on every deploy, or never")
    parser.add_argument("--delete-cluster", action="store_true", help="destroy: delete the cluster as well")
    parser.add_argument("--endpoint-url", help="test only: send every AWS call to this URL (a local moto server)")
    args = parser.parse_args(argv)
    try:
        deployer = Deployer(load_config(args.config), endpoint_url=args.endpoint_url)
        if args.action == "deploy":
            deployer.deploy(migrate=args.migrate)
        else:
            deployer.destroy(delete_cluster=args.delete_cluster)
    except (DeployError, ClientError) as exc:
        print(f"flowyard_ecs: {args.action} failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
