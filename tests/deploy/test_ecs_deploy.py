"""deploy/ecs/flowyard_ecs.py against a real moto server over HTTP on 127.0.0.1 (flowyard_testkit.aws).

What moto shows and what it does not: moto stores task definitions (with tags), services, clusters and log groups
and answers Describe* like AWS; RunTask starts nothing, the task walks RUNNING → … → STOPPED one state per
DescribeTasks (the testkit can hold it RUNNING) and its container always reports exit code 0. So the migrate step's
wait is real here (it polls DescribeTasks until STOPPED, with a deadline), while a non-zero exit code is checked on
the task payload AWS documents. moto keeps no deploymentConfiguration given to CreateService (UpdateService's it
does): the tests read beat's from the CreateService request the script sent to the server, and from DescribeServices
after an update. Every call goes to the moto server's URL (`--endpoint-url`); nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from flowyard_testkit.aws import ecs_network, moto_aws  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "ecs" / "flowyard_ecs.py"
EXAMPLE = ROOT / "deploy" / "ecs" / "config.example.json"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/flowyard/controlplane:0.1.0"
NEW_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/flowyard/controlplane:0.2.0"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:flowyard/{}-AbCdEf"


def load_script():
    """The script as a module (deploy/ is no package)."""
    spec = importlib.util.spec_from_file_location("flowyard_ecs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["flowyard_ecs"] = module
    spec.loader.exec_module(module)
    return module


fe = load_script()


@pytest.fixture
def config(moto_aws, tmp_path) -> dict[str, Any]:
    """A config for a fresh cluster, network and target group on the moto server; names unique to the test."""
    subnet, group = ecs_network(moto_aws)
    vpc = moto_aws.client("ec2").describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
    suffix = uuid.uuid4().hex[:8]
    target_group = moto_aws.client("elbv2").create_target_group(
        Name=f"fy-web-{suffix}", Protocol="HTTP", Port=8000, VpcId=vpc, TargetType="ip",
        HealthCheckPath="/healthz")["TargetGroups"][0]["TargetGroupArn"]
    return {
        "region": moto_aws.region,
        "cluster": f"flowyard-cp-{suffix}",
        "name_prefix": f"fy{suffix}",
        "image": IMAGE,
        "subnets": [subnet],
        "security_groups": [group],
        "execution_role_arn": "arn:aws:iam::123456789012:role/flowyard-controlplane-execution",
        "task_role_arn": "arn:aws:iam::123456789012:role/flowyard-controlplane",
        "log_group": f"/flowyard/controlplane-{suffix}",
        "target_group_arn": target_group,
        "services": {"web": {"desired_count": 2, "cpu": 512, "memory": 1024},
                     "worker": {"desired_count": 3, "cpu": 1024, "memory": 2048},
                     "beat": {"cpu": 256, "memory": 512}},
        "environment": {"FLOWYARD_PUBLIC_URL": "https://flowyard.example.com",
                        "FLOWYARD_ALLOWED_HOSTS": "flowyard.example.com",
                        "FLOWYARD_CSRF_TRUSTED_ORIGINS": "https://flowyard.example.com",
                        "FLOWYARD_BROKER_URL": "redis://redis.internal:6379/0"},
        "secrets": {"FLOWYARD_SECRET_KEY": SECRET_ARN.format("secret-key"),
                    "FLOWYARD_DATABASE_URL": SECRET_ARN.format("database-url"),
                    "FLOWYARD_SMTP_PASSWORD": "arn:aws:ssm:eu-west-1:123456789012:parameter/flowyard/smtp-password"},
        "migrate_timeout_seconds": 30,
        "poll_seconds": 0,  # moto moves a task on per DescribeTasks, not with time
    }


class Recorder:
    """The ECS requests a deployer sent, in order (operation name, parameters), seen by botocore's event hook."""

    def __init__(self, deployer) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        deployer.ecs.meta.events.register("provide-client-params.ecs.*", self._record)

    def _record(self, params, model, **_):
        self.calls.append((model.name, dict(params)))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


def deployer_for(config, moto_aws, lines: list[str]):
    return fe.Deployer(fe.validate_config(json.loads(json.dumps(config))), endpoint_url=moto_aws.endpoint_url,
                       out=lines.append)


def latest(moto_aws, family: str) -> dict[str, Any]:
    answer = moto_aws.client("ecs").describe_task_definition(taskDefinition=family, include=["TAGS"])
    return answer["taskDefinition"]


def services(moto_aws, config) -> dict[str, dict[str, Any]]:
    names = [f"{config['name_prefix']}-{s}" for s in fe.SERVICES]
    answer = moto_aws.client("ecs").describe_services(cluster=config["cluster"], services=names)
    return {s["serviceName"].rsplit("-", 1)[-1]: s for s in answer["services"]}


def active_revisions(moto_aws, config, service: str) -> list[str]:
    family = f"{config['name_prefix']}-{service}"
    arns = moto_aws.client("ecs").list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
    return [arn for arn in arns if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family]


def migrate_tasks(moto_aws, config) -> list[dict[str, Any]]:
    ecs = moto_aws.client("ecs")
    arns = set()
    for desired in ("RUNNING", "STOPPED"):
        arns |= set(ecs.list_tasks(cluster=config["cluster"], startedBy=fe.MIGRATE_STARTED_BY,
                                   desiredStatus=desired)["taskArns"])
    return ecs.describe_tasks(cluster=config["cluster"], tasks=sorted(arns))["tasks"] if arns else []


def test_deploy_creates_three_task_definitions_a_migrate_run_and_three_services(config, moto_aws):
    lines: list[str] = []
    deployer = deployer_for(config, moto_aws, lines)
    recorder = Recorder(deployer)
    deployer.deploy()

    prefix = config["name_prefix"]
    expected = {"web": (512, 1024), "worker": (1024, 2048), "beat": (256, 512)}
    for service, (cpu, memory) in expected.items():
        definition = latest(moto_aws, f"{prefix}-{service}")
        assert definition["revision"] == 1 and definition["status"] == "ACTIVE"
        assert definition["requiresCompatibilities"] == ["FARGATE"] and definition["networkMode"] == "awsvpc"
        assert (definition["cpu"], definition["memory"]) == (str(cpu), str(memory))
        assert definition["executionRoleArn"] == config["execution_role_arn"]
        assert definition["taskRoleArn"] == config["task_role_arn"]
        (container,) = definition["containerDefinitions"]
        assert container["image"] == IMAGE and container["command"] == [service]
        assert container["readonlyRootFilesystem"] is True
        # Secrets only by reference: the ARNs are valueFrom, no secret name or value is in the plain environment.
        assert {s["name"]: s["valueFrom"] for s in container["secrets"]} == config["secrets"]
        environment = {e["name"]: e["value"] for e in container["environment"]}
        assert environment == config["environment"]
        assert not set(environment) & set(config["secrets"])
        assert container["logConfiguration"] == {"logDriver": "awslogs", "options": {
            "awslogs-group": config["log_group"], "awslogs-region": "eu-west-1", "awslogs-stream-prefix": service}}
    web = latest(moto_aws, f"{prefix}-web")["containerDefinitions"][0]
    assert web["portMappings"] == [{"containerPort": 8000, "protocol": "tcp"}]
    assert web["healthCheck"]["command"] == ["CMD", "flowyard-healthcheck"]  # the image's urllib GET of /healthz
    for service in ("worker", "beat"):
        definition = latest(moto_aws, f"{prefix}-{service}")["containerDefinitions"][0]
        assert "healthCheck" not in definition and not definition.get("portMappings")

    found = services(moto_aws, config)
    assert {s: found[s]["desiredCount"] for s in fe.SERVICES} == {"web": 2, "worker": 3, "beat": 1}
    for service in fe.SERVICES:
        assert found[service]["status"] == "ACTIVE" and found[service]["launchType"] == "FARGATE"
        assert found[service]["taskDefinition"].endswith(f"/{prefix}-{service}:1")
        assert found[service]["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == config["subnets"]
    assert found["web"]["loadBalancers"] == [{"targetGroupArn": config["target_group_arn"],
                                              "containerName": "controlplane", "containerPort": 8000}]
    assert found["worker"]["loadBalancers"] == [] and found["beat"]["loadBalancers"] == []
    created = {p["serviceName"].rsplit("-", 1)[-1]: p for p in recorder.of("CreateService")}
    assert created["beat"]["deploymentConfiguration"]["maximumPercent"] == 100
    assert created["beat"]["deploymentConfiguration"]["minimumHealthyPercent"] == 0
    assert created["web"]["deploymentConfiguration"]["minimumHealthyPercent"] == 100

    # The migrate task ran with the web task definition and the command `migrate`, before any service existed.
    (task,) = migrate_tasks(moto_aws, config)
    assert task["taskDefinitionArn"].endswith(f"/{prefix}-web:1") and task["lastStatus"] == "STOPPED"
    assert task["overrides"]["containerOverrides"] == [{"name": "controlplane", "command": ["migrate"]}]
    names = recorder.names()
    assert names.index("RunTask") < names.index("CreateService")

    assert moto_aws.client("ecs").describe_clusters(clusters=[config["cluster"]])["clusters"][0]["status"] == "ACTIVE"
    groups = moto_aws.client("logs").describe_log_groups(logGroupNamePrefix=config["log_group"])["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [(config["log_group"], 30)]
    assert lines[:2] == [f"cluster {config['cluster']}: created",
                         f"log group {config['log_group']}: created, retention set to 30 days"]
    assert f"task definition {prefix}-web:1: registered" in lines
    assert f"service {prefix}-beat: created ({prefix}-beat:1, desired 1)" in lines
    assert len(lines) == 2 + 3 + 1 + 3  # one line per resource


def test_a_second_deploy_changes_nothing(config, moto_aws):
    deployer_for(config, moto_aws, []).deploy()
    before = services(moto_aws, config)

    lines: list[str] = []
    deployer = deployer_for(config, moto_aws, lines)
    recorder = Recorder(deployer)
    deployer.deploy()

    changing = {"RegisterTaskDefinition", "CreateService", "UpdateService", "RunTask", "CreateCluster", "TagResource"}
    assert not changing & set(recorder.names())
    for service in fe.SERVICES:
        assert len(active_revisions(moto_aws, config, service)) == 1
    after = services(moto_aws, config)
    assert {s: (v["serviceArn"], v["taskDefinition"], v["desiredCount"]) for s, v in after.items()} == {
        s: (v["serviceArn"], v["taskDefinition"], v["desiredCount"]) for s, v in before.items()}
    assert len(migrate_tasks(moto_aws, config)) == 1
    assert lines[0].endswith(": exists") and lines[1].endswith(": exists")
    assert all(line.endswith(": unchanged") for line in lines[2:5])
    assert lines[5] == "migrate task: skipped (every service already runs its revision)"
    assert all(": unchanged (" in line for line in lines[6:])


def test_a_new_image_makes_one_revision_per_task_definition_migrates_then_updates_the_services(config, moto_aws):
    deployer_for(config, moto_aws, []).deploy()

    lines: list[str] = []
    deployer = deployer_for({**config, "image": NEW_IMAGE}, moto_aws, lines)
    recorder = Recorder(deployer)
    deployer.deploy()

    prefix = config["name_prefix"]
    assert len(recorder.of("RegisterTaskDefinition")) == 3
    for service in fe.SERVICES:
        assert len(active_revisions(moto_aws, config, service)) == 2
        definition = latest(moto_aws, f"{prefix}-{service}")
        assert definition["revision"] == 2 and definition["containerDefinitions"][0]["image"] == NEW_IMAGE
    found = services(moto_aws, config)
    for service in fe.SERVICES:
        assert found[service]["taskDefinition"].endswith(f"/{prefix}-{service}:2")
    assert {s: found[s]["desiredCount"] for s in fe.SERVICES} == {"web": 2, "worker": 3, "beat": 1}
    assert found["beat"]["deploymentConfiguration"]["maximumPercent"] == 100
    assert found["beat"]["deploymentConfiguration"]["minimumHealthyPercent"] == 0
    assert not recorder.of("CreateService")

    # One more migrate, with the new web revision, before the first service moved to it.
    migrations = sorted(migrate_tasks(moto_aws, config), key=lambda t: t["taskDefinitionArn"])
    assert [t["taskDefinitionArn"].rsplit("/", 1)[-1] for t in migrations] == [f"{prefix}-web:1", f"{prefix}-web:2"]
    names = recorder.names()
    assert names.index("RunTask") < names.index("UpdateService")
    assert f"service {prefix}-web: updated ({prefix}-web:1 -> {prefix}-web:2)" in lines

    # And a third run with the new image changes nothing again.
    again = deployer_for({**config, "image": NEW_IMAGE}, moto_aws, [])
    recorder = Recorder(again)
    again.deploy()
    assert not {"RegisterTaskDefinition", "UpdateService", "RunTask"} & set(recorder.names())


def test_a_changed_desired_count_updates_only_that_service(config, moto_aws):
    deployer_for(config, moto_aws, []).deploy()
    changed = json.loads(json.dumps(config))
    changed["services"]["worker"]["desired_count"] = 5
    lines: list[str] = []
    deployer = deployer_for(changed, moto_aws, lines)
    recorder = Recorder(deployer)
    deployer.deploy()

    assert [p["service"] for p in recorder.of("UpdateService")] == [f"{config['name_prefix']}-worker"]
    assert not recorder.of("RegisterTaskDefinition") and not recorder.of("RunTask")
    assert services(moto_aws, config)["worker"]["desiredCount"] == 5
    assert f"service {config['name_prefix']}-worker: updated (desired 3 -> 5)" in lines


def test_destroy_scales_to_zero_deletes_the_services_and_deregisters_the_task_definitions(config, moto_aws):
    deployer_for(config, moto_aws, []).deploy()
    lines: list[str] = []
    deployer = deployer_for(config, moto_aws, lines)
    recorder = Recorder(deployer)
    deployer.destroy()

    scaled = [p for p in recorder.of("UpdateService") if p.get("desiredCount") == 0]
    assert len(scaled) == 3  # beat's desired count too
    assert {s["status"] for s in services(moto_aws, config).values()} == {"INACTIVE"}
    for service in fe.SERVICES:
        assert active_revisions(moto_aws, config, service) == []
    ecs = moto_aws.client("ecs")
    assert ecs.describe_clusters(clusters=[config["cluster"]])["clusters"][0]["status"] == "ACTIVE"
    assert lines[-1] == f"cluster {config['cluster']}: kept (--delete-cluster deletes it)"

    # Again: nothing left to do; then with --delete-cluster the cluster goes too.
    lines.clear()
    deployer_for(config, moto_aws, lines).destroy(delete_cluster=True)
    assert lines[:3] == [f"service {config['name_prefix']}-{s}: absent" for s in fe.SERVICES]
    assert lines[-1] == f"cluster {config['cluster']}: deleted"
    assert [c["status"] for c in ecs.describe_clusters(clusters=[config["cluster"]])["clusters"]] in ([], ["INACTIVE"])


def test_the_command_line_deploys_and_destroys_standalone(config, moto_aws, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    environment = {**os.environ, "PYTHONPATH": ""}  # the script alone: no tests/support, no Django settings

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(SCRIPT), *args, "--config", str(path),
                               "--endpoint-url", moto_aws.endpoint_url],
                              capture_output=True, text=True, env=environment, timeout=120, check=False)

    deployed = run("deploy")
    assert deployed.returncode == 0, deployed.stderr
    assert len(deployed.stdout.splitlines()) == 9
    assert f"service {config['name_prefix']}-web: created" in deployed.stdout
    destroyed = run("destroy")
    assert destroyed.returncode == 0, destroyed.stderr
    assert f"service {config['name_prefix']}-beat: scaled to 0 and deleted" in destroyed.stdout
    assert {s["status"] for s in services(moto_aws, config).values()} == {"INACTIVE"}


def test_the_script_imports_only_the_standard_library_and_boto3():
    imported = set()
    for node in ast.walk(ast.parse(SCRIPT.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) == {"boto3", "botocore"}


def test_a_migrate_task_that_does_not_stop_in_time_fails_the_deploy_and_changes_no_service(config, moto_aws):
    moto_aws.task_progression(1_000_000)  # moto keeps the task RUNNING
    try:
        lines: list[str] = []
        deployer = deployer_for({**config, "migrate_timeout_seconds": 0.3, "poll_seconds": 0.05}, moto_aws, lines)
        with pytest.raises(fe.DeployError, match="did not stop within 0.3 s .it is RUNNING.; it was left running"):
            deployer.deploy()
    finally:
        moto_aws.task_progression(None)
    assert services(moto_aws, config) == {}
    assert not any(line.startswith("service ") for line in lines)


def test_the_command_line_fails_with_the_reason_when_migrate_does_not_stop(config, moto_aws, tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**config, "migrate_timeout_seconds": 0.2, "poll_seconds": 0.05}))
    moto_aws.task_progression(1_000_000)
    try:
        status = fe.main(["deploy", "--config", str(path), "--endpoint-url", moto_aws.endpoint_url])
    finally:
        moto_aws.task_progression(None)
    assert status == 1
    assert "flowyard_ecs: deploy failed: migrate task arn:aws:ecs:" in capsys.readouterr().err


# A STOPPED task as DescribeTasks returns it on AWS (moto's container always exits 0): the migrate step's verdict.
def stopped_task(**container: Any) -> dict[str, Any]:
    return {"lastStatus": "STOPPED", "stopCode": container.pop("stop_code", "EssentialContainerExited"),
            "stoppedReason": container.pop("stopped_reason", "Essential container in task exited"),
            "containers": [{"name": "controlplane", "lastStatus": "STOPPED", **container}]}


def test_the_migrate_verdict_reads_the_containers_exit_code():
    assert fe.migrate_failure(stopped_task(exitCode=0)) is None
    assert fe.migrate_failure(stopped_task(exitCode=1)) == "exit code 1 (Essential container in task exited)"
    pull = stopped_task(stop_code="TaskFailedToStart", stopped_reason="CannotPullContainerError: pull access denied",
                        reason="CannotPullContainerError")
    assert fe.migrate_failure(pull) == ("its container did not run to an exit code (TaskFailedToStart: "
                                        "CannotPullContainerError: pull access denied; CannotPullContainerError)")


@pytest.mark.parametrize(("change", "message"), [
    ({"environment": {"FLOWYARD_SECRET_KEY": "x" * 50}}, "environment.FLOWYARD_SECRET_KEY looks secret"),
    ({"environment": {"FLOWYARD_BROKER_URL": "redis://:hunter2@redis:6379/0"}}, "holds a password in its URL"),
    ({"environment": {"FLOWYARD_METRICS_TOKEN": "abc"}}, "environment.FLOWYARD_METRICS_TOKEN looks secret"),
    ({"secrets": {"FLOWYARD_SECRET_KEY": "x" * 50}}, "must be a Secrets Manager secret or SSM parameter ARN"),
    ({"secrets": {}}, "secrets.FLOWYARD_DATABASE_URL is required"),
    ({"services": {"beat": {"desired_count": 2}}}, "services.beat: desired_count is always 1"),
    ({"services": {"web": {"cpu": 256, "memory": 4096}}}, "services.web: cpu 256 / memory 4096 is not a Fargate size"),
])
def test_the_config_is_refused_before_anything_is_created(config, moto_aws, change, message):
    changed = {**config, **change}
    if "environment" in change:
        changed["environment"] = {**config["environment"], **change["environment"]}
        if "FLOWYARD_SECRET_KEY" in change["environment"]:
            changed["secrets"] = {k: v for k, v in config["secrets"].items() if k != "FLOWYARD_SECRET_KEY"}
    elif "secrets" in change and change["secrets"]:
        changed["secrets"] = {**config["secrets"], **change["secrets"]}
    with pytest.raises(fe.DeployError, match=message):
        fe.validate_config(changed)
    assert moto_aws.client("ecs").describe_clusters(clusters=[config["cluster"]])["clusters"] == []


def test_the_example_config_is_valid():
    config = fe.load_config(str(EXAMPLE))
    assert set(config["secrets"]) >= set(fe.REQUIRED_SECRETS)
    assert all(not fe.SECRET_NAME.search(name) for name in config["environment"])
