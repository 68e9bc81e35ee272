"""`flowyard ci [run|plan|teardown]`: what CI calls. It reads the pipeline from the CI's variables, decides what to
do (flowyard_builder.ci.plan) and does it with the same steps a person runs by hand: validate, build, push,
register (where the build then goes is the project's release rules' answer). `flowyard ci plan` prints the
decision and does nothing; `flowyard ci teardown` removes a merge request's preview environment."""

from __future__ import annotations

import argparse
import json
import os
import sys

from flowyard_builder import exit_codes
from flowyard_builder.api_client import ApiClient, report_error, state_exit_code
from flowyard_builder.ci.context import CiError, detect
from flowyard_builder.ci.plan import Plan, Step, decide, teardown
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
    parser.add_argument("action", nargs="?", choices=["run", "plan", "teardown"], default="run",
                        help="run (default) the steps; plan: print them without doing anything; teardown: remove "
                             "this merge request's preview environment (its stop job, on close or merge)")
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
        context = detect(os.environ, needs_image=args.action != "teardown")
        plan = teardown(context) if args.action == "teardown" else decide(context, smoke=args.smoke)
    except CiError as exc:
        print(f"flowyard ci: {exc}", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    if args.action == "plan":
        print(json.dumps(plan.as_dict(), indent=2, sort_keys=True) if args.json else "\n".join(plan.describe()))
        return exit_codes.OK
    print("\n".join(plan.describe()), file=sys.stderr)
    return carry_out(plan, args.path, only=args.steps)


def _missing_settings(plan: Plan, steps: tuple[Step, ...]) -> list[str]:
    if not {Step.REGISTER, Step.SMOKE, Step.TEARDOWN} & set(steps):
        return []
    return [name for name in ("FLOWYARD_API_URL", "FLOWYARD_CI_TOKEN", "FLOWYARD_PROJECT") if not os.environ.get(name)]


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
        print(f"flowyard ci: {', '.join(missing)} not set: add them as CI/CD variables (the token masked; "
              "protected only if just protected branches ship, as protected variables reach no other pipeline)",
              file=sys.stderr)
        return exit_codes.INVALID_INPUT
    pipeline = Pipeline(plan, path)
    for step in steps:
        number = plan.steps.index(step) + 1
        print(f"flowyard ci: step {number}/{len(plan.steps)}: {step.value}", file=sys.stderr, flush=True)
        code = pipeline.run_step(step)
        if code != exit_codes.OK:
            print(f"flowyard ci: {step.value} failed (exit {code}); the steps after it did not run", file=sys.stderr)
            return code
    print(f"flowyard ci: done: {plan.context.image_tag}" if plan.does(Step.BUILD) else "flowyard ci: done",
          file=sys.stderr)
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
        self.registered = same_commit
        self.deployment: dict | None = earlier.get("deployment") if same_commit else None
        self.promotion: dict | None = earlier.get("promotion") if same_commit else None
        self.why: str = earlier.get("why", "") if same_commit else ""

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
            return self._report_deployment()
        if step is Step.SMOKE:
            return self._smoke()
        if step is Step.REQUEST_PROMOTION:
            return self._report_promotion()
        if step is Step.TEARDOWN:
            return self._teardown()
        raise AssertionError(f"no way to run step {step}")

    def _register(self) -> int:
        context = self.plan.context
        try:
            payload = build_payload(self.path, project=os.environ["FLOWYARD_PROJECT"], git_commit=context.commit_sha,
                                    git_branch=context.branch, git_author=context.author or None)
            payload.update(ci_pipeline_url=context.pipeline_url, merge_request_iid=context.merge_request,
                           merge_request_url=context.merge_request_url, event=context.event.value,
                           requested_for=context.author)  # the release rules decide; a promotion in the same call
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
        self.why, self.registered = str(response.body.get("why") or ""), True
        save_result(self.path, LAST_REGISTRATION, {"commit_sha": context.commit_sha, "deployment": self.deployment,
                                                   "promotion": self.promotion, "why": self.why,
                                                   "version": response.body.get("version")})
        return exit_codes.OK

    def _report_deployment(self) -> int:
        if self.deployment is not None:
            name = self.deployment.get("environment_name") or self.plan.environment
            print(f"flowyard ci: deployed to {name} ({self.deployment['id']})", file=sys.stderr)
            return exit_codes.OK
        if self.registered:  # the project's release rules (or flowyard.json's ci block) said no
            print(f"flowyard ci: not deployed: {self.why or 'the project release rules deploy nothing here'}",
                  file=sys.stderr)
            return exit_codes.OK
        print("flowyard ci: nothing was registered in this pipeline (run the register step first, or pass "
              "PATH/.flowyard/ on as an artifact)", file=sys.stderr)
        return exit_codes.INVALID_INPUT

    def _teardown(self) -> int:
        context = self.plan.context
        client = ApiClient(self.api_url, self.token)
        try:
            preview = client.post("/previews/teardown/", {"project": os.environ["FLOWYARD_PROJECT"],
                                                          "merge_request_iid": context.merge_request})
        except ControlPlaneError as exc:
            if exc.status != 404:
                return report_error("flowyard ci teardown", exc)
            print(f"flowyard ci: merge request !{context.merge_request} has no preview environment "
                  f"{self.plan.environment}; nothing to tear down", file=sys.stderr)
            return exit_codes.OK
        print(f"flowyard ci: preview environment {preview['name']} torn down at {preview['torn_down_at']} (its runs "
              "and logs stay readable)", file=sys.stderr)
        return exit_codes.OK

    def _report_promotion(self) -> int:
        if self.promotion is None:
            if self.registered:  # the project's release rules (or flowyard.json's ci block) ask for none
                print(f"flowyard ci: no promotion requested: {self.why}", file=sys.stderr)
                return exit_codes.OK
            print("flowyard ci: the registration did not request the promotion (run the register step in this "
                  "job, or pass PATH/.flowyard/ on as an artifact)", file=sys.stderr)
            return exit_codes.INVALID_INPUT
        source, target = self.plan.promotion or ("test", "production")
        print(f"promotion {self.promotion.get('id')} of {self.plan.context.short_sha} from {source} to {target}: "
              f"{self.promotion.get('state')}; an approver approves it in Flowyard")
        return exit_codes.OK

    def _smoke(self) -> int:
        if self.deployment is None and self.registered:
            print(f"flowyard ci: no smoke run: the build was not deployed ({self.why})", file=sys.stderr)
            return exit_codes.OK
        if self.deployment is None:
            print(f"flowyard ci: nothing to smoke: no registration of this pipeline deployed to "
                  f"{self.plan.environment} (run the register step first, or pass PATH/.flowyard/ on as an "
                  "artifact)", file=sys.stderr)
            return exit_codes.INVALID_INPUT
        client = ApiClient(self.api_url, self.token)
        try:
            run = client.post("/runs/", {"deployment": self.deployment["id"]})
            where = self.deployment.get("environment_name") or self.plan.environment
            print(f"flowyard ci: smoke run {run['id']} in {where}: {run['state']}", file=sys.stderr,
                  flush=True)
            follow_logs(client, run["id"], follow=True)
            run = client.run(run["id"])
        except ControlPlaneError as exc:
            return report_error("flowyard ci", exc)
        print(describe_end(run), file=sys.stderr)
        return state_exit_code(run["state"])
