"""Builds a tenant for tests: a team, its projects and users of every role, and objects of every kind."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model

from controlplane.deployments import services as deployments
from controlplane.deployments.models import Deployment, Environment, Promotion
from controlplane.runs import services as runs
from controlplane.runs.models import Run, RunLogLine, TaskRun
from controlplane.tenancy import services as tenancy
from controlplane.tenancy.models import PersonalToken, Project, ProjectMembership, ProjectToken, Team, TeamMembership
from controlplane.workflows import services as workflows
from flowyard_testkit.registration import register_version
from controlplane.workflows.models import Workflow, WorkflowVersion
from flowyard_spec.states import Role, TaskState


def digest(seed: str) -> str:
    """A well-formed OCI digest derived from `seed`."""
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


@dataclass
class Tenant:
    """Everything one test team owns, by name."""

    prefix: str
    team: Team
    project: Project
    empty_project: Project
    users: dict[Role, Any]
    spare_user: Any
    direct_member: Any
    team_membership: TeamMembership
    project_membership: ProjectMembership
    test_env: Environment
    production_env: Environment
    extra_env: Environment
    workflow: Workflow
    report: Workflow
    ingest: Workflow
    empty_workflow: Workflow
    v1: WorkflowVersion
    v2: WorkflowVersion
    report_v1: WorkflowVersion
    ingest_v1: WorkflowVersion
    test_deployment: Deployment
    production_deployment: Deployment
    report_test_deployment: Deployment
    promotion: Promotion
    run: Run
    task_run: TaskRun
    log_lines: list[RunLogLine]
    ci_token: ProjectToken
    ci_token_value: str
    personal_token: PersonalToken
    personal_token_value: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def admin(self) -> Any:
        """The tenant's project admin (through the team)."""
        return self.users[Role.ADMIN]

    def owned_ids(self) -> set[str]:
        """The ids of every object this tenant owns (to look for in another tenant's responses)."""
        ids = {
            str(obj.pk)
            for obj in (
                self.team, self.project, self.empty_project, self.team_membership, self.project_membership,
                self.test_env, self.production_env, self.extra_env, self.workflow, self.report, self.ingest,
                self.empty_workflow, self.v1, self.v2, self.report_v1, self.ingest_v1, self.test_deployment,
                self.production_deployment, self.report_test_deployment, self.promotion, self.run, self.ci_token,
                self.personal_token,
            )
        }
        ids |= {str(self.extra[name].pk) for name in ("repository_link", "forge_identity", "merge_request_promotion",
                                                      "group_mapping") if name in self.extra}
        if "forge_delivery" in self.extra:
            ids.add(self.extra["forge_delivery"].delivery_id)
        return ids

    def audit_event_ids(self) -> set[int]:
        """The ids of the audit events of this tenant's team and projects."""
        from controlplane.core.models import AuditEvent

        return set(AuditEvent.objects.filter(team=self.team).values_list("pk", flat=True))


def build_tenant(prefix: str) -> Tenant:
    """Create a team `prefix` with two projects, a user per role, workflows, deployments, a run and tokens."""
    users = get_user_model().objects
    system = None
    team = tenancy.team_create(actor=system, slug=prefix, name=f"Team {prefix}")
    role_users = {}
    for role in Role:
        user = users.create_user(f"{prefix}-{role.value}", password="pw")
        role_users[role] = user
        membership = tenancy.team_member_set(actor=system, team=team, user=user, role=role)
    team_membership = membership
    admin = role_users[Role.ADMIN]
    developer = role_users[Role.DEVELOPER]
    project = tenancy.project_create(actor=admin, team=team, slug=f"{prefix}-main", name="Main")
    empty_project = tenancy.project_create(actor=admin, team=team, slug=f"{prefix}-empty", name="Empty")
    spare_user = users.create_user(f"{prefix}-spare", password="pw")
    direct_member = users.create_user(f"{prefix}-direct", password="pw")
    project_membership = tenancy.project_member_set(actor=admin, project=project, user=direct_member, role=Role.VIEWER)

    test_env = Environment.objects.get(project=project, name="test")
    production_env = Environment.objects.get(project=project, name="production")
    extra_env = deployments.environment_create(actor=admin, project=project, name="sandbox", order=30)

    workflow = workflows.workflow_create(actor=developer, project=project, name="etl")
    report = workflows.workflow_create(actor=developer, project=project, name="report")
    ingest = workflows.workflow_create(actor=developer, project=project, name="ingest")
    empty_workflow = workflows.workflow_create(actor=developer, project=project, name="empty")
    # An hourly schedule, off: backfills have ticks to run, and no scheduler fires a tenant's workflow.
    config = {"name": "etl", "parameters": {"day": "2026-01-01", "limit": 10},
              "schedule": "cron(0 * * * ? *)", "schedule-enabled": False}

    def register(wf: Workflow, seed: str):
        return register_version(
            actor=developer, workflow=wf, image_digest=digest(prefix + seed), image_ref=f"127.0.0.1:5000/{prefix}/{wf.name}:{seed}",
            git_commit_sha=hashlib.sha1(seed.encode()).hexdigest(), git_branch="main", config={**config, "name": wf.name},
        )

    v1, v2 = register(workflow, "v1"), register(workflow, "v2")
    report_v1, ingest_v1 = register(report, "r1"), register(ingest, "i1")
    production_deployment = deployments.deployment_set(actor=admin, workflow=workflow, environment=production_env, version=v1)
    test_deployment = deployments.deployment_set(actor=developer, workflow=workflow, environment=test_env, version=v2)
    report_test_deployment = deployments.deployment_set(actor=developer, workflow=report, environment=test_env, version=report_v1)
    promotion = deployments.promotion_request(
        actor=developer, workflow=workflow, source_environment=test_env, target_environment=production_env
    )
    run = runs.run_trigger(actor=developer, deployment=test_deployment, parameters={"day": "2026-02-01"})
    task_run = TaskRun.objects.create(run=run, task_key="extract-0", name="extract", state=TaskState.SUCCEEDED)
    log_lines = [
        RunLogLine.objects.create(run=run, seq=seq, at=run.created_at, message=f"{prefix} line {seq}") for seq in (1, 2, 3)
    ]
    ci_token, ci_token_value = tenancy.ci_token_create(actor=admin, project=project, name="gitlab")
    personal_token, personal_token_value = tenancy.personal_token_create(actor=admin, name="laptop")
    from controlplane.scheduling.grants import trigger_grant_create

    trigger_grant = trigger_grant_create(actor=admin, project=project, upstream_project=empty_project)
    from controlplane.scheduling.webhooks import webhook_create

    webhook, webhook_secret = webhook_create(actor=developer, deployment=test_deployment)
    from controlplane.scheduling.models import Backfill

    # A backfill whose two ticks were both handled (skipped): listed and cancellable, and it never creates a run.
    from controlplane.deployments.models import ReleaseRules
    from controlplane.registration.previews import preview_ensure

    release_rules = ReleaseRules.objects.get(project=project)
    preview = preview_ensure(actor=developer, project=project, rules=release_rules, base=test_env, merge_request=7,
                             merge_request_url="https://git.example.invalid/data/etl/-/merge_requests/7",
                             branch="feature/preview", author="ada")
    from controlplane.gitops import services as gitops
    from controlplane.gitops.models import ForgeDelivery, MergeRequest, MergeRequestPromotion, RepositoryLink
    from controlplane.gitops.secrets import encrypt_secret

    # Made directly, not through repository_link: linking would also turn the project's default-branch promotion
    # requests off, which other tests of this tenant rely on.
    repository_link = RepositoryLink.objects.create(
        project=project, forge="gitlab", repository_path=f"{prefix}/etl",
        clone_url=f"https://git.example.invalid/{prefix}/etl.git", workflows=[{"name": "etl", "path": "."}],
        encrypted_webhook_secret=encrypt_secret(f"fyg_{prefix}-secret"))
    forge_identity = gitops.forge_identity_set(actor=None, forge="gitlab", username=f"{prefix}-admin-gl", user=admin)
    merge_request = MergeRequest.objects.create(
        link=repository_link, iid=5, url=f"https://git.example.invalid/{prefix}/etl/-/merge_requests/5",
        author=f"{prefix}-dev-gl", source_branch="feature/x", target_branch="main", head_sha="e" * 40)
    merge_request_promotion = MergeRequestPromotion.objects.create(
        merge_request=merge_request, workflow=workflow, head_sha="e" * 40, reason="waiting for CI")
    from controlplane.tenancy.group_mappings import group_mapping_create

    group_mapping = group_mapping_create(actor=None, group=f"{prefix}-developers", team=team, role=Role.DEVELOPER)
    forge_delivery = ForgeDelivery.objects.create(link=repository_link, delivery_id=f"{prefix}-delivery-1",
                                                  event="merge_request", action="open")
    backfill = Backfill.objects.create(
        deployment=test_deployment, start="2026-01-01T00:00:00+00:00", end="2026-01-01T01:00:00+00:00",
        ticks=["2026-01-01T00:00:00+00:00", "2026-01-01T01:00:00+00:00"], next_index=2, skipped_ticks=2,
        created_by=developer, created_by_label=developer.get_username(),
    )
    from controlplane.alerts import services as alerts
    from controlplane.alerts.models import Alert, Delivery

    # Disabled, so that the runs other tests fail raise nothing through it.
    alert_channel, _ = alerts.channel_create(actor=admin, project=project, name="seeded", kind="webhook",
                                             target=f"http://127.0.0.1:9/{prefix}/hook", is_enabled=False)
    alert_rule = alerts.rule_create(actor=admin, project=project, name="seeded", events=["run_failed"],
                                    channels=[alert_channel], is_enabled=False)
    alert = Alert.objects.create(rule=alert_rule, event="run_failed", subject=f"run:{run.pk}", run=run,
                                 title=f"[Flowyard] FAILED: {prefix}", text="seeded")
    alert_delivery = Delivery.objects.create(alert=alert, channel=alert_channel, state="sent")
    return Tenant(
        prefix=prefix, team=team, project=project, empty_project=empty_project, users=role_users, spare_user=spare_user,
        direct_member=direct_member, team_membership=team_membership, project_membership=project_membership,
        test_env=test_env, production_env=production_env, extra_env=extra_env, workflow=workflow, report=report,
        ingest=ingest, empty_workflow=empty_workflow, v1=v1, v2=v2, report_v1=report_v1, ingest_v1=ingest_v1,
        test_deployment=test_deployment, production_deployment=production_deployment,
        report_test_deployment=report_test_deployment, promotion=promotion, run=run, task_run=task_run,
        log_lines=log_lines, ci_token=ci_token, ci_token_value=ci_token_value, personal_token=personal_token,
        personal_token_value=personal_token_value,
        extra={"backfill": backfill, "trigger_grant": trigger_grant, "webhook": webhook, "webhook_secret": webhook_secret,
               "release_rules": release_rules, "preview": preview, "repository_link": repository_link,
               "forge_identity": forge_identity, "merge_request_promotion": merge_request_promotion,
               "forge_delivery": forge_delivery, "group_mapping": group_mapping, "alert_channel": alert_channel,
               "alert_rule": alert_rule, "alert_delivery": alert_delivery},
    )
