"""`flowyard ci [run|plan]`: what CI calls. It reads the pipeline from the CI's variables, decides what to do
(flowyard_builder.ci.plan) and does it with the same steps a person runs by hand: validate, build, push,
register. `flowyard ci plan` prints the decision and does nothing."""

from __future__ import annotations

import argparse
import json
import os
import sys

from flowyard_builder import exit_codes
from flowyard_builder.api_client import ApiClient, report_error, state_exit_code
from flowyard_builder.ci.context import CiError, detect
from flowyard_builder.ci.plan import TEST_ENVIRONMENT, Plan, Step, decide
from flowyard_builder.commands.register import build_payload, describe_registration, report_refusal
from flowyard_builder.control_plane import ControlPlaneError, register_version
from flowyard_builder.follow import describe_end, follow_logs
from flowyard_builder.images.errors import InvalidWorkflow
from flowyard_builder.images.results import LAST_REGISTRATION, load_result, save_result

def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `ci` command."""
    parser = subparsers.add_parser(
        "ci", help="run this CI pipeline's Flowyard steps (or `ci plan` to see them)",
        description="Inside a GitLab or GitHub pipeline: decide from the CI's variables what this pipeline is "
                    "(a branch push, a merge request, the default branch) and ship the workflow accordingly. "
                    "Needs FLOWYARD_API_URL, FLOWYARD_CI_TOKEN and FLOWYARD_PROJECT; the image goes to "
                    "$FLOWYARD_REGISTRY_IMAGE (GitLab: $CI_REGISTRY_IMAGE) tagged with the short commit sha.",
    )
    parser.add_argument("action", nargs="?", choices=["run", "plan"], default="run",
                        help="run (default) the steps, or plan: print them without doing anything")
    parser.add_argument("path", nargs="?", default=".", metavar="PATH", help="the workflow repository (default: .)")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("FLOWYARD_SMOKE", "") == "1",
                        help="after deploying, start a run and follow it; the exit code is its outcome "
                             "(default: on when FLOWYARD_SMOKE=1)")
    parser.add_argument("--steps", metavar="STEP,…", type=_steps,
                        help="do only these of the plan's steps (e.g. build,push), for pipelines that split them "
                             "across jobs; what one job learns is kept in PATH/.flowyard/ for the next")
    parser.add_argument("--json", action="store_true", help="with plan: print the decision as JSON")
    parser.set_defaults(handler=handle)


def _steps(value: str) -> frozenset[Step]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    known = {step.value for step in Step}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown step {', '.join(unknown) or '(none)'}; steps are "
                                         f"{', '.join(step.value for step in Step)}")
    return frozenset(Step(name) for name in names)


def handle(args: argparse.Namespace) -> int:
    """Detect the pipeline, decide, then print (plan) or do (run) the steps."""
    try:
        plan = decide(detect(os.environ), smoke=args.smoke)
    except CiError as exc:
        print(f"flowyard ci: {exc}", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    if args.action == "plan":
        print(json.dumps(plan.as_dict(), indent=2, sort_keys=True) if args.json else "\n".join(plan.describe()))
        return exit_codes.OK
    print("\n".join(plan.describe()), file=sys.stderr)
    return carry_out(plan, args.path, only=args.steps)


def _missing_settings(plan: Plan, steps: tuple[Step, ...]) -> list[str]:
    if not {Step.REGISTER, Step.SMOKE} & set(steps):
        return []
    return [name for name in ("FLOWYARD_API_URL", "FLOWYARD_CI_TOKEN", "FLOWYARD_PROJECT") if not os.environ.get(name)]


def _unsupported(plan: Plan) -> str | None:
    if plan.does(Step.DEPLOY) and plan.environment != TEST_ENVIRONMENT:  # the whole plan, so it fails at validate
        return f"deploying to the preview environment {plan.environment}"
    return None


def carry_out(plan: Plan, path: str, only: frozenset[Step] | None = None) -> int:
    """Run the plan's steps (those in `only`, if given) in order; stop at the first that fails. The exit code is
    the failed step's, or with a smoke run the run's outcome (0 only when it SUCCEEDED)."""
    steps = tuple(step for step in plan.steps if only is None or step in only)
    if only is not None and not steps:
        print(f"flowyard ci: this pipeline's plan has none of the steps {', '.join(sorted(only))}; nothing to do",
              file=sys.stderr)
        return exit_codes.OK
    missing = _missing_settings(plan, steps)
    if missing:
        print(f"flowyard ci: {', '.join(missing)} not set: add them as CI/CD variables (the token masked and "
              "protected)", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    unsupported = _unsupported(plan)
    if unsupported:  # refused before anything is built, rather than after the push
        print(f"flowyard ci: {unsupported} is not available in this version of Flowyard yet; nothing was done. "
              "`flowyard ci plan` shows the steps.", file=sys.stderr)
        return exit_codes.REFUSED
    pipeline = Pipeline(plan, path)
    for step in steps:
        number = plan.steps.index(step) + 1
        print(f"flowyard ci: step {number}/{len(plan.steps)}: {step.value}", file=sys.stderr, flush=True)
        code = pipeline.run_step(step)
        if code != exit_codes.OK:
            print(f"flowyard ci: {step.value} failed (exit {code}); the steps after it did not run", file=sys.stderr)
            return code
    print(f"flowyard ci: done: {plan.context.image_tag}", file=sys.stderr)
    return exit_codes.OK


class Pipeline:
    """The steps of one plan, sharing what earlier steps learnt (the registration's deployment)."""

    def __init__(self, plan: Plan, path: str) -> None:
        self.plan = plan
        self.path = path
        self.api_url = os.environ.get("FLOWYARD_API_URL", "")
        self.token = os.environ.get("FLOWYARD_CI_TOKEN", "")
        earlier = load_result(path, LAST_REGISTRATION) or {}  # an earlier job of this pipeline, via an artifact
        same_commit = earlier.get("commit_sha") == plan.context.commit_sha
        self.deployment: dict | None = earlier.get("deployment") if same_commit else None
        self.promotion: dict | None = earlier.get("promotion") if same_commit else None

    def run_step(self, step: Step) -> int:
        """Do `step`; its exit code."""
        from flowyard_builder.cli import main  # the command table, which includes this module

        context = self.plan.context
        if step is Step.VALIDATE:
            return main(["validate", self.path])
        if step is Step.BUILD:
            return main(["build", "--tag", context.image_tag, self.path])
        if step is Step.PUSH:
            return main(["push", self.path])
        if step is Step.REGISTER:
            return self._register()
        if step is Step.DEPLOY:
            if self.deployment is None:
                print(f"flowyard ci: the control plane did not deploy the build to {self.plan.environment} (does "
                      f"the project have a {self.plan.environment} environment?)", file=sys.stderr)
                return exit_codes.REFUSED
            print(f"flowyard ci: deployed to {self.plan.environment} ({self.deployment['id']})", file=sys.stderr)
            return exit_codes.OK
        if step is Step.SMOKE:
            return self._smoke()
        if step is Step.REQUEST_PROMOTION:
            return self._report_promotion()
        raise AssertionError(f"no way to run step {step}")  # _unsupported() refused it before anything ran

    def _register(self) -> int:
        context = self.plan.context
        try:
            payload = build_payload(self.path, project=os.environ["FLOWYARD_PROJECT"], git_commit=context.commit_sha,
                                    git_branch=context.branch, git_author=context.author or None)
            payload.update(ci_pipeline_url=context.pipeline_url, merge_request_iid=context.merge_request,
                           merge_request_url=context.merge_request_url)
            if self.plan.does(Step.REQUEST_PROMOTION):  # asked in the same call, so both happen or neither
                payload.update(request_promotion=True, requested_for=context.author)
            response = register_version(self.api_url, self.token, payload)
        except InvalidWorkflow as exc:
            print(f"flowyard ci: {exc}", file=sys.stderr)
            return exit_codes.INVALID_INPUT
        except ControlPlaneError as exc:
            return report_refusal("flowyard ci: the control plane refused the registration", exc)
        print(describe_registration(response))
        deployment = response.body.get("deployment")
        self.deployment = deployment if isinstance(deployment, dict) else None
        promotion = response.body.get("promotion")
        self.promotion = promotion if isinstance(promotion, dict) else None
        save_result(self.path, LAST_REGISTRATION, {"commit_sha": context.commit_sha, "deployment": self.deployment,
                                                   "promotion": self.promotion, "version": response.body.get("version")})
        return exit_codes.OK

    def _report_promotion(self) -> int:
        if self.promotion is None:
            print("flowyard ci: the registration did not request the promotion (run the register step in this "
                  "job, or pass PATH/.flowyard/ on as an artifact)", file=sys.stderr)
            return exit_codes.INVALID_INPUT
        source, target = self.plan.promotion or ("test", "production")
        print(f"promotion {self.promotion.get('id')} of {self.plan.context.short_sha} from {source} to {target}: "
              f"{self.promotion.get('state')}; an approver approves it in Flowyard")
        return exit_codes.OK

    def _smoke(self) -> int:
        if self.deployment is None:
            print(f"flowyard ci: nothing to smoke: no registration of this pipeline deployed to "
                  f"{self.plan.environment} (run the register step first, or pass PATH/.flowyard/ on as an "
                  "artifact)", file=sys.stderr)
            return exit_codes.INVALID_INPUT
        client = ApiClient(self.api_url, self.token)
        try:
            run = client.post("/runs/", {"deployment": self.deployment["id"]})
            print(f"flowyard ci: smoke run {run['id']} in {self.plan.environment}: {run['state']}", file=sys.stderr,
                  flush=True)
            follow_logs(client, run["id"], follow=True)
            run = client.run(run["id"])
        except ControlPlaneError as exc:
            return report_error("flowyard ci", exc)
        print(describe_end(run), file=sys.stderr)
        return state_exit_code(run["state"])
