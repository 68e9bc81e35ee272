"""The table of every write the API offers: its URL, a valid body, and the least role that may do it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowyard_testkit.tenants import Tenant, digest
from flowyard_spec.states import Role


@dataclass(frozen=True)
class Write:
    """One write action against a tenant's objects."""

    route: str  # URL name in the api namespace, e.g. "run-cancel"
    method: str
    target: Callable[[Tenant], Any] | None  # the object in the URL, None for list routes
    body: Callable[[Tenant], dict[str, Any]]
    role: Role | None  # least project role allowed; None for staff-only or personal actions
    success: int

    @property
    def id(self) -> str:
        """A readable test id."""
        return f"{self.method.upper()} {self.route}"


def _id(obj: Any) -> str:
    return str(obj.pk)


V, D, P, A = Role.VIEWER, Role.DEVELOPER, Role.APPROVER, Role.ADMIN


def registration_body(t: Tenant, *, name: str = "nightly", seed: str = "build-1", **config: Any) -> dict[str, Any]:
    """What `flowyard register` sends for a branch build of workflow `name`."""
    return {
        "project": t.project.slug,
        "workflow": name,
        "image_ref": f"127.0.0.1:5000/{t.prefix}/{name}:{seed}",
        "image_digest": digest(t.prefix + name + seed),
        "git_repository": "https://git.example.invalid/data/nightly.git",
        "git_commit_sha": "a" * 40,
        "git_branch": "feature/faster",
        "git_author": "Ada <ada@example.invalid>",
        "git_message": "Make it faster",
        "config": {"name": name, "schedule-enabled": True, "schedule": "cron(0 14 * * ? *)",
                   "parameters": {"env": "test"}, "cloud-execution-environment": "docker", **config},
    }

PROJECT_WRITES: tuple[Write, ...] = (
    Write("project-detail", "patch", lambda t: t.project, lambda t: {"name": "Renamed"}, A, 200),
    Write("project-detail", "delete", lambda t: t.empty_project, lambda t: {}, A, 204),
    Write("project-member-list", "post", None,
          lambda t: {"project": _id(t.project), "user": t.spare_user.username, "role": "viewer"}, A, 201),
    Write("project-member-detail", "patch", lambda t: t.project_membership, lambda t: {"role": "developer"}, A, 200),
    Write("project-member-detail", "delete", lambda t: t.project_membership, lambda t: {}, A, 204),
    Write("ci-token-list", "post", None, lambda t: {"project": _id(t.project), "name": "github"}, A, 201),
    Write("ci-token-detail", "delete", lambda t: t.ci_token, lambda t: {}, A, 204),
    Write("environment-list", "post", None,
          lambda t: {"project": _id(t.project), "name": "staging", "order": 15}, A, 201),
    Write("environment-detail", "patch", lambda t: t.extra_env, lambda t: {"description": "for experiments"}, A, 200),
    Write("environment-detail", "delete", lambda t: t.extra_env, lambda t: {}, A, 204),
    Write("workflow-list", "post", None, lambda t: {"project": _id(t.project), "name": "new-flow"}, D, 201),
    Write("workflow-detail", "patch", lambda t: t.workflow, lambda t: {"description": "nightly"}, D, 200),
    Write("workflow-detail", "delete", lambda t: t.empty_workflow, lambda t: {}, A, 204),
    Write("version-list", "post", None, lambda t: {
        "workflow": _id(t.workflow), "image_ref": "127.0.0.1:5000/etl:v3", "image_digest": digest(t.prefix + "v3"),
        "config": {"name": "etl"},
    }, D, 201),
    Write("deployment-list", "post", None, lambda t: {
        "workflow": _id(t.ingest), "environment": _id(t.test_env), "version": _id(t.ingest_v1),
    }, D, 201),
    Write("deployment-list", "post", None, lambda t: {
        "workflow": _id(t.ingest), "environment": _id(t.production_env), "version": _id(t.ingest_v1),
    }, A, 201),
    Write("deployment-detail", "patch", lambda t: t.test_deployment, lambda t: {"is_paused": True}, D, 200),
    Write("deployment-detail", "patch", lambda t: t.production_deployment, lambda t: {"is_paused": True}, A, 200),
    Write("promotion-list", "post", None, lambda t: {
        "workflow": _id(t.report), "source_environment": _id(t.test_env), "target_environment": _id(t.production_env),
    }, D, 201),
    Write("promotion-approve", "post", lambda t: t.promotion, lambda t: {"comment": "looks good"}, P, 200),
    Write("promotion-reject", "post", lambda t: t.promotion, lambda t: {"comment": "not yet"}, P, 200),
    Write("secret-list", "post", None, lambda t: {
        "environment": _id(t.production_env), "name": "DB_PASSWORD", "value": "correct horse battery staple",
    }, A, 201),
    Write("run-list", "post", None, lambda t: {"deployment": _id(t.test_deployment), "parameters": {"limit": 5}}, D, 201),
    Write("registration-list", "post", None, lambda t: registration_body(t), D, 201),
    Write("preview-teardown", "post", None, lambda t: {"project": t.project.slug, "merge_request_iid": 7}, D, 200),
    Write("release-rules-detail", "patch", lambda t: t.extra["release_rules"], lambda t: {"preview_limit": 3}, A, 200),
    Write("repository-list", "post", None, lambda t: {
        "project": _id(t.project), "forge": "github", "repository_path": f"{t.prefix}/reports",
        "clone_url": f"https://git.example.invalid/{t.prefix}/reports.git", "workflows": [{"name": "report"}],
    }, A, 201),
    Write("repository-detail", "patch", lambda t: t.extra["repository_link"], lambda t: {"require_test_success": True},
          A, 200),
    Write("repository-detail", "delete", lambda t: t.extra["repository_link"], lambda t: {}, A, 204),
    Write("repository-rotate", "post", lambda t: t.extra["repository_link"], lambda t: {}, A, 200),
    Write("repository-sync", "post", lambda t: t.extra["repository_link"], lambda t: {}, A, 200),
    Write("run-cancel", "post", lambda t: t.run, lambda t: {}, D, 200),
    Write("schedule-pause", "post", lambda t: t.test_deployment, lambda t: {}, D, 200),
    Write("schedule-pause", "post", lambda t: t.production_deployment, lambda t: {}, A, 200),
    Write("schedule-resume", "post", lambda t: t.test_deployment, lambda t: {}, D, 200),
    Write("backfill-list", "post", None, lambda t: {
        "deployment": _id(t.test_deployment), "start": "2026-01-01", "end": "2026-01-01T03:00:00Z", "max_active": 2,
    }, D, 201),
    Write("backfill-list", "post", None, lambda t: {
        "deployment": _id(t.production_deployment), "start": "2026-01-01", "end": "2026-01-01T03:00:00Z",
    }, A, 201),
    Write("backfill-cancel", "post", lambda t: t.extra["backfill"], lambda t: {}, D, 200),
    Write("trigger-grant-list", "post", None,
          lambda t: {"project": _id(t.empty_project), "upstream_project": t.project.slug}, A, 201),
    Write("trigger-grant-detail", "delete", lambda t: t.extra["trigger_grant"], lambda t: {}, A, 204),
    # build_tenant gives the test deployment a webhook (extra["webhook"]); the others have none yet.
    Write("webhook-list", "post", None, lambda t: {"deployment": _id(t.report_test_deployment)}, D, 201),
    Write("webhook-list", "post", None, lambda t: {"deployment": _id(t.production_deployment)}, A, 201),
    Write("webhook-rotate", "post", lambda t: t.extra["webhook"], lambda t: {}, D, 200),
    Write("webhook-detail", "patch", lambda t: t.extra["webhook"], lambda t: {"is_enabled": False}, D, 200),
    Write("webhook-detail", "delete", lambda t: t.extra["webhook"], lambda t: {}, D, 204),
    Write("budget-detail", "patch", lambda t: t.project, lambda t: {"monthly_amount": "100.00"}, A, 200),
    Write("alert-channel-list", "post", None, lambda t: {
        "project": _id(t.project), "name": "oncall", "kind": "email", "target": "oncall@example.org"}, A, 201),
    Write("alert-channel-detail", "patch", lambda t: t.extra["alert_channel"], lambda t: {"rate_limit_count": 5}, A, 200),
    Write("alert-channel-detail", "delete", lambda t: t.extra["alert_channel"], lambda t: {}, A, 204),
    Write("alert-rule-list", "post", None, lambda t: {
        "project": _id(t.project), "name": "late", "events": ["schedule_late"],
        "channels": [_id(t.extra["alert_channel"])]}, A, 201),
    Write("alert-rule-detail", "patch", lambda t: t.extra["alert_rule"], lambda t: {"environments": ["production"]},
          A, 200),
    Write("alert-rule-detail", "delete", lambda t: t.extra["alert_rule"], lambda t: {}, A, 204),
)

# Writes that are not granted by a project role: platform staff manage teams; everyone manages their own tokens.
TEAM_WRITES: tuple[Write, ...] = (
    Write("team-list", "post", None, lambda t: {"slug": "new-team", "name": "New team"}, None, 201),
    Write("team-detail", "patch", lambda t: t.team, lambda t: {"name": "Renamed team"}, None, 200),
    Write("team-detail", "delete", lambda t: t.extra["empty_team"], lambda t: {}, None, 204),
    Write("team-member-list", "post", None,
          lambda t: {"team": _id(t.team), "user": t.spare_user.username, "role": "developer"}, None, 201),
    Write("team-member-detail", "patch", lambda t: t.team_membership, lambda t: {"role": "viewer"}, None, 200),
    Write("team-member-detail", "delete", lambda t: t.team_membership, lambda t: {}, None, 204),
    Write("group-mapping-list", "post", None,
          lambda t: {"group": f"{t.prefix}-approvers", "team": _id(t.team), "role": "approver"}, None, 201),
    Write("group-mapping-detail", "patch", lambda t: t.extra["group_mapping"], lambda t: {"role": "viewer"}, None, 200),
    Write("group-mapping-detail", "delete", lambda t: t.extra["group_mapping"], lambda t: {}, None, 204),
)
PERSONAL_WRITES: tuple[Write, ...] = (
    Write("personal-token-list", "post", None, lambda t: {"name": "ci-laptop"}, None, 201),
    Write("personal-token-detail", "delete", lambda t: t.personal_token, lambda t: {}, None, 204),
)
PROJECT_CREATE = Write(
    "project-list", "post", None, lambda t: {"team": _id(t.team), "slug": f"{t.prefix}-new", "name": "New"}, None, 201
)
# Only the run's own token may report on a run; no project role may.
RUNNER_REPORT = Write(
    "runner-events", "post", lambda t: t.run,
    lambda t: {"events": [{"type": "heartbeat", "at": "2026-01-01T00:00:00+00:00"}]}, None, 200,
)
# The same for the run's task cache records (tests/controlplane/runs/test_cache_records.py).
RUNNER_CACHE_RECORD = Write(
    "runner-cache", "post", lambda t: t.run, lambda t: {"key": "ab" * 32, "location": "ab/result.pickle"}, None, 200,
)
# Asking for a signed upload URL: the tenant's run keeps results in a directory, so the answer is 409 no_result_urls
# (signed URLs on an ECS target with a result bucket: tests/flowyard/test_result_store.py).
RUNNER_CACHE_UPLOAD = Write("runner-cache-upload", "post", lambda t: t.run, lambda t: {"key": "ab" * 32}, None, 409)
RUNNER_CACHE_BATCH = Write("runner-cache-batch", "post", lambda t: t.run,
                           lambda t: {"records": [{"key": "ab" * 32, "location": "ab/result.pickle"}]}, None, 200)
RUNNER_WRITES = (RUNNER_REPORT, RUNNER_CACHE_RECORD, RUNNER_CACHE_UPLOAD, RUNNER_CACHE_BATCH)
# Writes on an object build_tenant does not make: the test sets `tenant.extra[...]` first and applies the same
# role and other-team checks as to PROJECT_WRITES (tests/controlplane/deployments/test_secrets.py).
EXTRA_OBJECT_WRITES: tuple[Write, ...] = (
    Write("secret-detail", "delete", lambda t: t.extra["secret"], lambda t: {}, A, 204),
)
# Only the webhook's own secret may deliver to it (tests/controlplane/scheduling/test_webhooks.py); no role may.
WEBHOOK_DELIVERY = Write("webhook-delivery", "post", lambda t: t.extra["webhook"], lambda t: {"limit": 5}, None, 201)
# Only platform staff match forge users to people (tests/controlplane/gitops/test_repository_links_api.py).
STAFF_WRITES: tuple[Write, ...] = (
    Write("forge-identity-list", "post", None,
          lambda t: {"forge": "github", "username": f"{t.prefix}-gh", "user": t.spare_user.username}, None, 201),
    Write("forge-identity-detail", "delete", lambda t: t.extra["forge_identity"], lambda t: {}, None, 204),
    # Price tables of runtime targets (tests/controlplane/costs/test_price_tables_api.py); the test makes the target.
    Write("price-table-list", "post", None, lambda t: {
        "runtime_target": t.extra["runtime_target"].name, "vcpu_hour": "0.05", "gib_hour": "0.005"}, None, 201),
    Write("price-table-detail", "delete", lambda t: t.extra["price_table"], lambda t: {}, None, 204),
)
# Only a link's webhook secret (token or signature) may deliver to it (tests/controlplane/gitops/test_forge_webhooks.py).
FORGE_DELIVERIES: tuple[Write, ...] = (
    Write("gitops-gitlab-events", "post", lambda t: t.extra["repository_link"], lambda t: {}, None, 200),
    Write("gitops-github-events", "post", lambda t: t.extra["repository_link"], lambda t: {}, None, 200),
)
# Nobody is signed in yet when `flowyard login` calls these; without a provider configured they answer 404
# (tests/controlplane/sso/test_device_login_api.py; the CLI's end-to-end login is tests/e2e/test_sso_login.py).
CLI_LOGIN: tuple[Write, ...] = (
    Write("auth-device", "post", None, lambda t: {}, None, 404),
    Write("auth-device-token", "post", None, lambda t: {"device_code": "unknown"}, None, 404),
)
ALL_WRITES = (
    *PROJECT_WRITES, *EXTRA_OBJECT_WRITES, *TEAM_WRITES, *PERSONAL_WRITES, PROJECT_CREATE, *RUNNER_WRITES, WEBHOOK_DELIVERY,
    *STAFF_WRITES, *FORGE_DELIVERIES, *CLI_LOGIN,
)


def send(client, write: Write, tenant: Tenant):
    """Perform `write` against `tenant`'s objects with `client`."""
    from django.urls import reverse

    kwargs = {"pk": write.target(tenant).pk} if write.target else None
    url = reverse(f"api:{write.route}", kwargs=kwargs)
    return getattr(client, write.method)(url, data=write.body(tenant), format="json")
