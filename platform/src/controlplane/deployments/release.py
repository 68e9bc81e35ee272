"""Where a CI pipeline's build goes: the project's release rules, narrowed by the build's flowyard.json.

`release_decision(rules=…, config=…, event=…, branch=…, merge_request=…)` is pure: it reads no database, so
every cell of the table is unit-tested. The registration use case carries the decision out.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from controlplane.core.errors import ValidationFailed
from controlplane.deployments.models import Environment, EnvironmentKind, ReleaseRules
from controlplane.tenancy.models import Project
from flowyard_spec.pipelines import PipelineEvent, preview_environment_name

PROMOTION_TARGET = "production"


@dataclass(frozen=True)
class ReleaseDecision:
    """What to do with a registered build: deploy it to `environment` (a standing environment's name) or, with
    `preview`, to that merge request's preview based on `environment`; or nowhere (no environment). And whether
    to request its promotion to production."""

    why: str
    environment: str | None = None
    preview: int | None = None
    request_promotion: bool = False

    @property
    def deploys(self) -> bool:
        """Whether the build is deployed anywhere."""
        return self.environment is not None

    @property
    def target_name(self) -> str | None:
        """The name of the environment the build goes to (`mr-<n>` for a preview)."""
        return preview_environment_name(self.preview) if self.preview is not None else self.environment


def promotion_target(project: Project) -> Environment | None:
    """The standing environment promotions go to (production), if the project has one."""
    return Environment.objects.filter(project=project, name=PROMOTION_TARGET, kind=EnvironmentKind.STANDARD).first()


def release_rules_of(project: Project) -> ReleaseRules:
    """The project's release rules: the stored ones, or the defaults (unsaved) when none were stored."""
    rules = ReleaseRules.objects.filter(project=project).first()
    return rules if rules is not None else ReleaseRules(project=project)


def _matches(branch: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(branch, pattern) for pattern in patterns)


def release_decision(
    *, rules: ReleaseRules, config: dict[str, Any], event: PipelineEvent, branch: str,
    merge_request: int | None = None,
) -> ReleaseDecision:
    """The decision for one build. flowyard.json's `ci` block only ever removes a deployment the rules allow."""
    narrowing = config.get("ci") or {}
    environment = rules.branch_environment or None
    if event in (PipelineEvent.BRANCH_PUSH, PipelineEvent.DEFAULT_BRANCH) and not branch:
        return ReleaseDecision(why="a build without a git branch is registered only (register it with its branch)")
    if event is PipelineEvent.MERGE_REQUEST:
        if merge_request is None:
            raise ValidationFailed({"merge_request_iid": [
                "A merge-request pipeline must say which merge request it builds (its number)."]})
        if not rules.merge_request_previews:
            return ReleaseDecision(why="the project's release rules turn merge-request previews off: registered only")
        if narrowing.get("previews") is False:
            return ReleaseDecision(why="flowyard.json sets ci.previews to false: registered only")
        return ReleaseDecision(why="a merge request is tried in its own preview environment",
                               environment=rules.stage_environment, preview=merge_request)
    if event is PipelineEvent.DEFAULT_BRANCH:
        if environment is None:
            return ReleaseDecision(why="the project's release rules deploy no branch build: registered only")
        promote = rules.default_branch_promotion and narrowing.get("request-promotion", True) is not False
        why = ("the default branch is what production should run: its build goes to "
               f"{environment} and is proposed for {PROMOTION_TARGET}" if promote else
               f"the default branch's build goes to {environment}; "
               + ("the project's release rules request no promotion" if not rules.default_branch_promotion
                  else "flowyard.json sets ci.request-promotion to false"))
        return ReleaseDecision(why=why, environment=environment, request_promotion=promote)
    if event is PipelineEvent.BRANCH_PUSH:
        if environment is None:
            return ReleaseDecision(why="the project's release rules deploy no branch build: registered only")
        if not _matches(branch, list(rules.branch_patterns or [])):
            return ReleaseDecision(why=f"branch {branch} matches none of the project's branch patterns "
                                       f"{', '.join(rules.branch_patterns or []) or '(none)'}: registered only")
        wanted = narrowing.get("deploy-branches")
        if wanted is not None and not _matches(branch, wanted):
            return ReleaseDecision(why=f"branch {branch} matches none of flowyard.json's ci.deploy-branches: "
                                       "registered only")
        return ReleaseDecision(why=f"branch builds go to {environment}", environment=environment)
    return ReleaseDecision(why="a build without a branch (a tag, a build by hand) is registered only")
