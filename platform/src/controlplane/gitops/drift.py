"""Drift between what Git says and what is deployed: `drift_report(link, desired)` compares, and writes nothing.

Git's desired state is the head of the link's default branch (`git.fetch_desired`): which listed workflows still
have a flowyard.json, their configs, and for each the version this project's CI built from that commit (or from
an earlier commit since which its folder has not changed). The branch environment (test) should run that build;
an environment that requires approval (production) should run what its latest APPROVED promotion moved there.

Drift kinds, each with a field-level diff (`changes`, git side and deployed side):

- `changed_outside_git`: a person (through the API or the admin) deployed another version to test than Git's build;
- `not_built`: the config at the head has no CI build yet (the diff: what will change once it is built);
- `removed_from_git`: the workflow's flowyard.json is gone at the head but it is still deployed (live);
- `config_differs`: the config test runs differs from the head's in schedule, resources or parameters (reported
  when neither of the first two already says so);
- `production_not_promoted`: production runs another version than its latest approved promotion.

What the sync may fix is said by `fix`: `deploy` (Git's build to test), `pause` (a removed workflow, paused until
an admin confirms, never deleted), or `report` (production and anything Git has no build for).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from controlplane.deployments.models import Deployment, Environment, EnvironmentKind, Promotion, PromotionState
from controlplane.deployments.release import release_rules_of
from controlplane.gitops.git import DesiredState, DesiredWorkflow
from controlplane.gitops.models import RepositoryLink
from controlplane.workflows.models import Workflow, WorkflowVersion
from flowyard_spec.config import parse_config

NONE = "(none)"
# Deployments made by these principals follow Git (CI, the forge's merges, this sync); any other is a person's.
MACHINE_LABELS = ("ci-token:", "forge:", "gitops:", "runner:")
# The fields shown first in a config diff; any other field that differs follows in name order.
CONFIG_FIELDS = ("schedule-enabled", "schedule", "timezone", "parameters", "memory", "cpu",
                 "cloud-execution-environment")
NOT_COMPARED = frozenset({"name", "environments", "ci", "$schema"})


class DriftKind(StrEnum):
    """How a deployment differs from Git."""

    CHANGED_OUTSIDE_GIT = "changed_outside_git"
    NOT_BUILT = "not_built"
    REMOVED_FROM_GIT = "removed_from_git"
    CONFIG_DIFFERS = "config_differs"
    PRODUCTION_NOT_PROMOTED = "production_not_promoted"


class Fix(StrEnum):
    """What the sync does about a drift."""

    DEPLOY = "deploy"
    PAUSE = "pause"
    REPORT = "report"


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: its value in Git and its deployed value."""

    field: str
    git: Any
    deployed: Any

    def as_dict(self) -> dict[str, Any]:
        """The change as JSON."""
        return {"field": self.field, "git": self.git, "deployed": self.deployed}


@dataclass
class Drift:
    """One way a workflow's deployment in one environment differs from the branch head."""

    kind: DriftKind
    workflow: str
    environment: str
    head_sha: str
    summary: str
    changes: list[FieldChange] = field(default_factory=list)
    fix: Fix = Fix.REPORT
    why_not_fixed: str = ""
    deployment: Deployment | None = field(default=None, repr=False, compare=False)
    version: WorkflowVersion | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The drift as JSON (the API's and the audit log's shape)."""
        return {
            "kind": str(self.kind), "workflow": self.workflow, "environment": self.environment,
            "head_sha": self.head_sha, "summary": self.summary, "fix": str(self.fix),
            "why_not_fixed": self.why_not_fixed, "changes": [change.as_dict() for change in self.changes],
            "deployment": str(self.deployment.pk) if self.deployment is not None else None,
            "git_version": str(self.version.pk) if self.version is not None else None,
        }

    def as_diff_lines(self) -> list[str]:
        """The drift as `git diff` shows a change: the deployed side `-`, Git's side `+`."""
        lines = [f"--- deployed/{self.environment}/{self.workflow}",
                 f"+++ git/{self.head_sha[:8]}/{self.workflow}",
                 f"@@ {self.kind}: {self.summary} @@"]
        for change in self.changes:
            lines.append(f"-{change.field}: {shown(change.deployed)}")
            lines.append(f"+{change.field}: {shown(change.git)}")
        return lines


def shown(value: Any) -> str:
    """A value as a diff line shows it: strings as they are, absent as (none), anything else as JSON."""
    if value is None:
        return NONE
    if isinstance(value, str):
        return value or '""'
    return json.dumps(value, sort_keys=True)


def diff_text(drifts: list[Drift]) -> str:
    """Every drift as one `git diff`-like text ("" when there is none)."""
    return "\n".join(line for drift in drifts for line in drift.as_diff_lines())


def is_persons(deployment: Deployment) -> bool:
    """Whether a person (through the API or the admin), not CI, the forge or the sync, made the deployment."""
    label = deployment.deployed_by_label or ""
    if deployment.deployed_by_id is not None:
        return True
    return bool(label) and label != "system" and not label.startswith(MACHINE_LABELS)


def effective_config(config: dict[str, Any] | None, environment: Environment) -> dict[str, Any]:
    """A config with `environment`'s overrides applied, as the compared fields ({} for none)."""
    if not config:
        return {}
    try:
        parsed = parse_config(config).for_environment(environment.config_name)
        values = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
    except (ValidationError, ValueError):  # a version stored under an older schema: compare what it says
        values = dict(config)
    return {key: value for key, value in values.items() if key not in NOT_COMPARED}


def config_changes(git: dict[str, Any], deployed: dict[str, Any]) -> list[FieldChange]:
    """The fields that differ between two effective configs, the usual ones first."""
    keys = [*CONFIG_FIELDS, *sorted((set(git) | set(deployed)) - set(CONFIG_FIELDS))]
    return [FieldChange(key, git.get(key), deployed.get(key)) for key in keys if git.get(key) != deployed.get(key)]


def git_build(workflow: Workflow | None, commits: tuple[str, ...]) -> WorkflowVersion | None:
    """The CI build Git wants: this project's CI's build of the newest of `commits` that has one (as
    approvals.ci_build_of: a person's or another project's build never counts)."""
    if workflow is None or not commits:
        return None
    builds: dict[str, WorkflowVersion] = {}
    for version in WorkflowVersion.objects.filter(
            workflow=workflow, git_commit_sha__in=commits, registered_by__isnull=True,
            registered_by_label__startswith="ci-token:",
            registered_by_label__endswith=f"@{workflow.project.slug}").order_by("-created_at"):
        builds[version.git_commit_sha] = version  # the first one registered of each commit wins
    return next((builds[sha] for sha in commits if sha in builds), None)


def _digest(version: WorkflowVersion | None) -> str | None:
    return version.image_digest if version is not None else None


def _commit(version: WorkflowVersion | None) -> str | None:
    return (version.git_commit_sha or NONE) if version is not None else None


def _is_protected(environment: Environment) -> bool:
    return environment.requires_approval


class _Comparison:
    """The comparison of one link's workflows with the project's deployments."""

    def __init__(self, link: RepositoryLink, desired: DesiredState) -> None:
        self.link, self.desired = link, desired
        self.head = desired.head_sha
        project = link.project
        rules = release_rules_of(project)
        environments = list(Environment.objects.filter(project=project, kind=EnvironmentKind.STANDARD))
        branch_name = rules.stage_environment
        self.branch_environment = next((env for env in environments if env.name == branch_name
                                        and not _is_protected(env)), None)
        self.protected = [env for env in environments if _is_protected(env)]
        self.workflows = {wf.name: wf for wf in Workflow.objects.filter(project=project,
                                                                        name__in=list(desired.workflows))}
        self.drifts: list[Drift] = []

    def deployments(self, workflow: Workflow | None) -> list[Deployment]:
        """The live deployments of `workflow` in standing environments (previews follow their merge requests)."""
        if workflow is None:
            return []
        return list(Deployment.objects.filter(
            workflow=workflow, environment__kind=EnvironmentKind.STANDARD, version__isnull=False,
        ).select_related("environment", "version", "workflow").order_by("environment__order"))

    def run(self) -> list[Drift]:
        for name, wanted in self.desired.workflows.items():
            workflow = self.workflows.get(name)
            live = self.deployments(workflow)
            if wanted.config is None:
                self.removed(wanted, live)
                continue
            build = git_build(workflow, wanted.commits)
            test = next((d for d in live if self.branch_environment is not None
                         and d.environment_id == self.branch_environment.pk), None)
            self.branch(wanted, build, test)
            for deployment in live:
                if _is_protected(deployment.environment):
                    self.promoted(wanted, deployment)
        return self.drifts

    def add(self, kind: DriftKind, wanted: DesiredWorkflow, environment: str, summary: str,
            changes: list[FieldChange], **details: Any) -> None:
        self.drifts.append(Drift(kind=kind, workflow=wanted.name, environment=environment, head_sha=self.head,
                                 summary=summary, changes=changes, **details))

    # -- the kinds --------------------------------------------------------------------------------------------
    def removed(self, wanted: DesiredWorkflow, live: list[Deployment]) -> None:
        for deployment in live:
            if deployment.is_paused:
                continue  # paused already: it waits for an admin to confirm the removal
            environment = deployment.environment
            protected = _is_protected(environment)
            summary = (f"{wanted.config_path} is gone at {self.head[:8]} but {wanted.name} still runs in "
                       f"{environment.name}: "
                       + ("production changes only through an approved promotion; an admin pauses or removes it"
                          if protected else "the sync pauses it (not deleted) until an admin confirms the removal"))
            self.add(DriftKind.REMOVED_FROM_GIT, wanted, environment.name, summary, [
                FieldChange("flowyard.json", "(removed)", wanted.config_path),
                FieldChange("image_digest", None, _digest(deployment.version)),
                FieldChange("is_paused", True, deployment.is_paused),
            ], fix=Fix.REPORT if protected else Fix.PAUSE, deployment=deployment,
                why_not_fixed="production is never changed by the sync" if protected else "")

    def branch(self, wanted: DesiredWorkflow, build: WorkflowVersion | None, test: Deployment | None) -> None:
        environment = self.branch_environment
        if environment is None:
            return
        git_config = effective_config(wanted.config, environment)
        deployed_config = effective_config(test.version.config, environment) if test is not None else {}
        reported = False
        if test is not None and is_persons(test) and (build is None or test.version_id != build.pk):
            by = test.deployed_by_label or "a person"
            summary = (f"{environment.name} runs {test.version.image_digest[:19]}… deployed by {by}, not "
                       + (f"{build.image_digest[:19]}… the build of {(build.git_commit_sha or '')[:8]} Git says"
                          if build is not None else f"the config at {self.head[:8]}, which CI has not built yet"))
            changes = [FieldChange("image_digest", _digest(build), test.version.image_digest),
                       FieldChange("git_commit", _commit(build), _commit(test.version)),
                       FieldChange("deployed_by", build.registered_by_label if build else None, by)]
            base = effective_config(build.config, environment) if build is not None else git_config
            changes += config_changes(base, deployed_config)
            self.add(DriftKind.CHANGED_OUTSIDE_GIT, wanted, environment.name, summary, changes,
                     fix=Fix.DEPLOY if build is not None else Fix.REPORT, deployment=test, version=build,
                     why_not_fixed="" if build is not None else "no CI build of Git's config to deploy yet")
            reported = True
        if build is None:
            running = (f"{environment.name} still runs {test.version.image_digest[:19]}…" if test is not None
                       else f"nothing runs in {environment.name} yet")
            self.add(DriftKind.NOT_BUILT, wanted, environment.name,
                     f"the config at {self.head[:8]} has no CI build yet; {running}",
                     [FieldChange("git_commit", self.head, _commit(test.version) if test else None),
                      *config_changes(git_config, deployed_config)],
                     deployment=test, why_not_fixed="CI builds and deploys it; the sync deploys only CI builds")
            return
        if not reported and test is not None:
            changes = config_changes(git_config, deployed_config)
            if changes:
                self.add(DriftKind.CONFIG_DIFFERS, wanted, environment.name,
                         f"the config {environment.name} runs ({test.version.image_digest[:19]}…) differs from the "
                         f"one at {self.head[:8]}", changes, deployment=test, version=build,
                         why_not_fixed="deployed by CI (another branch's build?): the next pipeline settles it")

    def promoted(self, wanted: DesiredWorkflow, deployment: Deployment) -> None:
        environment = deployment.environment
        promotion = Promotion.objects.filter(
            workflow=deployment.workflow, target_environment=environment, state=PromotionState.APPROVED,
        ).select_related("version").order_by("-decided_at", "-created_at").first()
        if promotion is not None and promotion.version_id == deployment.version_id:
            return
        promoted = promotion.version if promotion is not None else None
        summary = (f"{environment.name} runs {deployment.version.image_digest[:19]}… deployed by "
                   f"{deployment.deployed_by_label or 'someone'}, "
                   + (f"not {promoted.image_digest[:19]}… its latest approved promotion moved there"
                      if promoted is not None else "and no promotion was ever approved for it"))
        self.add(DriftKind.PRODUCTION_NOT_PROMOTED, wanted, environment.name, summary, [
            FieldChange("image_digest", _digest(promoted), deployment.version.image_digest),
            FieldChange("git_commit", _commit(promoted), _commit(deployment.version)),
            FieldChange("deployed_by", f"promotion {str(promotion.pk)[:8]}" if promotion is not None else None,
                        deployment.deployed_by_label or None),
        ], deployment=deployment, version=promoted,
            why_not_fixed=f"{environment.name} changes only through an approved promotion, never by the sync")


def drift_report(link: RepositoryLink, desired: DesiredState) -> list[Drift]:
    """How the project's deployments differ from what `desired` (the branch head) says; reads, never writes."""
    return _Comparison(link, desired).run()
