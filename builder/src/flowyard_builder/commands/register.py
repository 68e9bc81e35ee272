"""`flowyard register`: tell the control plane about a pushed build (image digest, git metadata, config)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from flowyard_builder import exit_codes
from flowyard_builder.control_plane import ControlPlaneError, InvalidRequest, Response, register_version
from flowyard_builder.images.errors import InvalidWorkflow
from flowyard_builder.images.reference import DIGEST
from flowyard_builder.images.results import LAST_PUSH, load_result
from flowyard_builder.images.workflow import load_raw_config
from flowyard_builder.readme import readme_excerpt


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `register` command."""
    parser = subparsers.add_parser(
        "register",
        help="register the pushed image with the control plane",
        description="Register a pushed build with the control plane with a CI token: image digest, git "
        "metadata and the raw flowyard.json (and, when it has no description, the README's first paragraph for the "
        "catalog). A branch build is deployed to `test`. The image reference and "
        "digest default to the last `flowyard push` in PATH.",
    )
    parser.add_argument("path", nargs="?", default=".", metavar="PATH", help="the workflow repository (default: .)")
    parser.add_argument("--api", default=os.environ.get("FLOWYARD_API_URL"), metavar="URL",
                        help="control plane base URL (default: $FLOWYARD_API_URL)")
    parser.add_argument("--token", default=os.environ.get("FLOWYARD_CI_TOKEN"), metavar="CI_TOKEN",
                        help="the project's CI token (default: $FLOWYARD_CI_TOKEN, which keeps it out of `ps`)")
    parser.add_argument("--project", default=os.environ.get("FLOWYARD_PROJECT"), metavar="SLUG",
                        help="project slug (default: $FLOWYARD_PROJECT)")
    parser.add_argument("--image-ref", metavar="REF", help="pushed image reference (default: from the last push)")
    parser.add_argument("--digest", metavar="SHA256", help="pushed image digest sha256:… (default: from the last push)")
    parser.add_argument("--git-branch", metavar="NAME",
                        help="the branch built (default: git's; CI checkouts are often detached, so CI passes it)")
    parser.add_argument("--git-commit", metavar="SHA", help="the commit built (default: git's HEAD)")
    parser.add_argument("--git-author", metavar="NAME", help="who made the change (default: the commit's author)")
    parser.add_argument("--json", action="store_true", help="print the control plane's answer as JSON on stdout")
    parser.set_defaults(handler=run)


def registration_payload(args: argparse.Namespace) -> dict[str, Any]:
    """The registration body from the command's options; InvalidWorkflow if an option is missing (see build_payload)."""
    missing = [option for option, value in (("--api", args.api), ("--token", args.token), ("--project", args.project)) if not value]
    if missing:
        raise InvalidWorkflow(f"missing {', '.join(missing)} (or FLOWYARD_API_URL / FLOWYARD_CI_TOKEN / FLOWYARD_PROJECT)")
    return build_payload(args.path, project=args.project, image_ref=args.image_ref, digest=args.digest,
                         git_commit=args.git_commit, git_branch=args.git_branch, git_author=args.git_author)


def build_payload(
    path: str, *, project: str, image_ref: str | None = None, digest: str | None = None,
    git_commit: str | None = None, git_branch: str | None = None, git_author: str | None = None,
) -> dict[str, Any]:
    """The registration body from PATH's flowyard.json, its last push (unless an image is given) and git, whose
    commit, branch and author the arguments override; InvalidWorkflow when there is no valid image to register.
    Without a `description` in the config, the first paragraph of the README (PATH's, else the repository's) goes
    as `readme_excerpt`, for the portal's catalog."""
    config = load_raw_config(path)
    last_push = load_result(path, LAST_PUSH) or {}
    image_ref = image_ref or last_push.get("image_ref")
    digest = digest or last_push.get("image_digest")
    if not image_ref or not digest:
        raise InvalidWorkflow(f"no image to register: give --image-ref and --digest, or run `flowyard push` in {path} first")
    if not DIGEST.fullmatch(digest):
        raise InvalidWorkflow(f"--digest {digest!r} is not a sha256:<64 hex> digest")
    from flowyard_builder.images.git_metadata import read_git_metadata  # GitPython loads only when needed

    git = read_git_metadata(path)
    payload = {
        "project": project,
        "workflow": config["name"],
        "image_ref": image_ref,
        "image_digest": digest,
        "git_repository": git.repository or "",
        "git_commit_sha": git_commit or git.commit_sha or "",
        "git_branch": git_branch or git.branch or "",
        "git_author": git_author or git.author or "",
        "git_message": git.message or "",
        "config": config,
    }
    if not str(config.get("description") or "").strip():  # the catalog then shows the README's first paragraph
        excerpt = readme_excerpt(path)
        if excerpt:
            payload["readme_excerpt"] = excerpt
    return payload


def report_refusal(command: str, exc: ControlPlaneError) -> int:
    """Print the control plane's refusal of a registration, each field's problem on its own line; the exit code
    (1 for a 400 answer, 3 when it refused otherwise or did not answer)."""
    print(f"{command}: {exc}", file=sys.stderr)
    for name, problems in exc.fields.items():
        for problem in problems:
            print(f"  {name}: {problem}", file=sys.stderr)
    return exit_codes.INVALID_INPUT if isinstance(exc, InvalidRequest) else exit_codes.REFUSED


def describe_registration(response: Response) -> str:
    """One line saying what the registration did."""
    version = response.body.get("version") or {}
    label = f"version {version.get('id', '?')} ({version.get('image_digest', '?')})"
    if response.body.get("created") is False or response.status == 200:
        return f"already registered: {label}"
    deployment = response.body.get("deployment")
    where = ""
    if isinstance(deployment, dict):
        where = f"; deployed to {deployment.get('environment_name') or 'an environment'}"
    return f"registered {label}{where}"


def run(args: argparse.Namespace) -> int:
    """Register; exit 1 on invalid input (also a 400 answer), 3 when the control plane refuses or is unreachable."""
    try:
        payload = registration_payload(args)
    except InvalidWorkflow as exc:
        print(f"flowyard register: {exc}", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    try:
        response = register_version(args.api, args.token, payload)
    except ControlPlaneError as exc:
        code = report_refusal("flowyard register", exc)
        if args.json and exc.status is not None:
            print(json.dumps({"status": exc.status, **exc.body}, indent=2, sort_keys=True))
        return code
    if args.json:
        print(json.dumps({"status": response.status, **response.body}, indent=2, sort_keys=True))
    else:
        print(describe_registration(response))
    return exit_codes.OK
