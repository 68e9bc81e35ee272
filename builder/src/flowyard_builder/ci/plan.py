"""What a pipeline does, decided from its context alone: `decide(context, smoke=…)` → `Plan`.

The decision table (rows: what started the pipeline; the same for GitLab and GitHub):

| event                          | steps                                                      | environment |
|--------------------------------|------------------------------------------------------------|-------------|
| push to a non-default branch   | validate, build, push, register, deploy, (smoke)           | test        |
| merge request / pull request   | validate, build, push, register, deploy, (smoke)           | mr-<number> |
| … closed or merged             | teardown (GitHub's pull_request `closed`; GitLab's stop job) | mr-<number> |
| … from a fork                  | validate, build (no token, nothing leaves the job)         | —           |
| push to the default branch     | validate, build, push, register, deploy, request promotion | test → prod |
| anything else (tag, schedule)  | validate                                                   | —           |

`production` is never a deployment target: it is reached only through an approved promotion. Where the build
really goes is the project's release rules' answer (the control plane's); this table is what the default rules do,
and the registration's answer says when the project's rules, or flowyard.json's `ci` block, chose otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flowyard_builder.ci.context import CiError, Event, PipelineContext
from flowyard_spec.pipelines import preview_environment_name as preview_environment

TEST_ENVIRONMENT = "test"
PRODUCTION_ENVIRONMENT = "production"


class Step(StrEnum):
    """One thing a pipeline does, in the order they run."""

    VALIDATE = "validate"
    BUILD = "build"
    PUSH = "push"
    REGISTER = "register"
    DEPLOY = "deploy"
    REQUEST_PROMOTION = "request_promotion"
    SMOKE = "smoke"
    TEARDOWN = "teardown"


@dataclass(frozen=True)
class Plan:
    """The steps of one pipeline, where it deploys, and why."""

    context: PipelineContext
    steps: tuple[Step, ...]
    why: str
    environment: str | None = None
    promotion: tuple[str, str] | None = None

    def does(self, step: Step) -> bool:
        """Whether the plan includes `step`."""
        return step in self.steps

    def as_dict(self) -> dict[str, Any]:
        """The plan as `flowyard ci plan --json` prints it."""
        context = self.context
        return {
            "forge": context.forge.value, "event": context.event.value, "trigger": context.trigger,
            "commit_sha": context.commit_sha, "branch": context.branch, "default_branch": context.default_branch,
            "merge_request": context.merge_request, "merge_request_url": context.merge_request_url,
            "from_fork": context.from_fork, "author": context.author, "pipeline_url": context.pipeline_url,
            "image": context.image_tag, "steps": [step.value for step in self.steps],
            "environment": self.environment,
            "promotion": {"from": self.promotion[0], "to": self.promotion[1]} if self.promotion else None,
            "why": self.why,
        }

    def describe(self) -> list[str]:
        """The plan in lines a person reads in the job log."""
        context = self.context
        what = {Event.BRANCH_PUSH: f"a push to branch {context.branch}",
                Event.DEFAULT_BRANCH: f"a push to the default branch {context.branch}",
                Event.MERGE_REQUEST: f"merge request !{context.merge_request} from {context.branch}",
                Event.OTHER: f"a {context.trigger or 'pipeline'} on {context.branch}"}[context.event]
        lines = [f"{context.forge.value} pipeline: {what} at {context.short_sha}"
                 + (f" by {context.author}" if context.author else ""),
                 f"why: {self.why}", "steps:"]
        for number, step in enumerate(self.steps, 1):
            lines.append(f"  {number}. {self._step_line(step)}")
        return lines

    def _step_line(self, step: Step) -> str:
        context = self.context
        return {
            Step.VALIDATE: "validate flowyard.json and the flow",
            Step.BUILD: f"build {context.image_tag}",
            Step.PUSH: f"push {context.image_tag}",
            Step.REGISTER: f"register the version (commit {context.short_sha}, branch {context.branch})",
            Step.DEPLOY: f"deploy it to {self.environment}",
            Step.REQUEST_PROMOTION: (f"request the promotion {self.promotion[0]} → {self.promotion[1]} of the "
                                     f"version built from {context.short_sha}" if self.promotion else ""),
            Step.SMOKE: f"smoke run in {self.environment}, followed to its end",
            Step.TEARDOWN: f"tear down the preview environment {self.environment} (runs cancelled, history kept)",
        }[step]


SHIP = (Step.VALIDATE, Step.BUILD, Step.PUSH, Step.REGISTER)


def teardown(context: PipelineContext) -> Plan:
    """The plan of a merge request's stop job (`flowyard ci teardown`): tear its preview down."""
    if context.event is not Event.MERGE_REQUEST or context.merge_request is None:
        raise CiError(f"`flowyard ci teardown` runs in a merge-request pipeline (its stop job); this is "
                      f"{context.event.value.replace('_', ' ')} of {context.branch}, which has no preview environment")
    if context.from_fork:
        return Plan(context, (), why="the merge request comes from a fork: it never had a preview environment")
    return Plan(context, (Step.TEARDOWN,), environment=preview_environment(context.merge_request),
                why="the merge request is closed or merged: its preview environment goes")


def decide(context: PipelineContext, *, smoke: bool = False) -> Plan:
    """The plan for `context`; `smoke` adds a followed run where the plan deploys somewhere."""
    if context.event is Event.MERGE_REQUEST and context.closed:
        return teardown(context)
    tail = (Step.SMOKE,) if smoke else ()
    if context.event is Event.BRANCH_PUSH:
        return Plan(context, (*SHIP, Step.DEPLOY, *tail), environment=TEST_ENVIRONMENT,
                    why="branch builds go to test")
    if context.event is Event.MERGE_REQUEST:
        if context.from_fork:
            return Plan(context, (Step.VALIDATE, Step.BUILD),
                        why="the merge request comes from a fork: its pipeline gets no Flowyard token, so the image "
                            "is built to check it but nothing is pushed or registered")
        return Plan(context, (*SHIP, Step.DEPLOY, *tail), environment=preview_environment(context.merge_request),
                    why="a merge request is tried in its own preview environment")
    if context.event is Event.DEFAULT_BRANCH:
        return Plan(context, (*SHIP, Step.DEPLOY, Step.REQUEST_PROMOTION), environment=TEST_ENVIRONMENT,
                    promotion=(TEST_ENVIRONMENT, PRODUCTION_ENVIRONMENT),
                    why="the default branch is what production should run: its build goes to test and is proposed "
                        "for production, which an approver approves (CI never deploys production itself)")
    return Plan(context, (Step.VALIDATE,), why=f"a {context.trigger or 'pipeline'} of {context.branch} ships nothing")
