"""`flowyard ci [run|plan]`: what CI calls. It reads the pipeline from the CI's variables, decides what to do
(flowyard_builder.ci.plan) and does it with the same steps a person runs by hand: validate, build, push,
register. `flowyard ci plan` prints the decision and does nothing."""

from __future__ import annotations

import argparse
import json
import os
import sys

from flowyard_builder import exit_codes
from flowyard_builder.ci.context import CiError, detect
from flowyard_builder.ci.plan import TEST_ENVIRONMENT, Plan, Step, decide

NOT_YET = {
    Step.REQUEST_PROMOTION: "requesting the promotion test → production from the default branch's pipeline",
}


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
    parser.add_argument("--json", action="store_true", help="with plan: print the decision as JSON")
    parser.set_defaults(handler=handle)


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
    return carry_out(plan, args.path)


def _missing_settings(plan: Plan) -> list[str]:
    if not plan.does(Step.REGISTER):
        return []
    return [name for name in ("FLOWYARD_API_URL", "FLOWYARD_CI_TOKEN", "FLOWYARD_PROJECT") if not os.environ.get(name)]


def _unsupported(plan: Plan) -> str | None:
    for step in plan.steps:
        if step in NOT_YET:
            return NOT_YET[step]
    if plan.does(Step.DEPLOY) and plan.environment != TEST_ENVIRONMENT:
        return f"deploying to the preview environment {plan.environment}"
    if plan.does(Step.SMOKE):
        return "the smoke run (--smoke / FLOWYARD_SMOKE=1)"
    return None


def carry_out(plan: Plan, path: str) -> int:
    """Run the plan's steps in order through the `flowyard` commands; stop at the first that fails."""
    from flowyard_builder.cli import main  # the command table, which includes this module

    missing = _missing_settings(plan)
    if missing:
        print(f"flowyard ci: {', '.join(missing)} not set: add them as CI/CD variables (the token masked and "
              "protected)", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    unsupported = _unsupported(plan)
    if unsupported:  # refused before anything is built, rather than after the push
        print(f"flowyard ci: {unsupported} is not available in this version of Flowyard yet; nothing was done. "
              "`flowyard ci plan` shows the steps.", file=sys.stderr)
        return exit_codes.REFUSED
    context = plan.context
    commands = {
        Step.VALIDATE: ["validate", path],
        Step.BUILD: ["build", "--tag", context.image_tag, path],
        Step.PUSH: ["push", path],
        Step.REGISTER: ["register", "--git-commit", context.commit_sha, "--git-branch", context.branch,
                        *(["--git-author", context.author] if context.author else []), path],
    }
    for number, step in enumerate(plan.steps, 1):
        if step is Step.DEPLOY:
            print(f"flowyard ci: step {number}/{len(plan.steps)}: deployed to {plan.environment} by the "
                  "registration (branch builds go to test)", file=sys.stderr)
            continue
        print(f"flowyard ci: step {number}/{len(plan.steps)}: {step.value}", file=sys.stderr)
        code = main(commands[step])
        if code != exit_codes.OK:
            print(f"flowyard ci: {step.value} failed (exit {code}); the steps after it did not run", file=sys.stderr)
            return code
    print(f"flowyard ci: done: {context.image_tag}", file=sys.stderr)
    return exit_codes.OK
