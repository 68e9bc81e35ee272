"""`flowyard push [PATH]`: push the built image to its registry and print the digest the registry stored."""

from __future__ import annotations

import argparse
import json
import sys

from flowyard_builder import exit_codes
from flowyard_builder.images.errors import ImageError, InvalidWorkflow
from flowyard_builder.images.results import LAST_BUILD, LAST_PUSH, load_result, save_result


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `push` command."""
    parser = subparsers.add_parser(
        "push",
        help="push the workflow image to its registry",
        description="Push an image to any OCI registry (ECR credentials through boto3 when the host is ECR) "
        "and print its digest. Without --tag, pushes the image of the last `flowyard build` in PATH.",
    )
    parser.add_argument("path", nargs="?", default=".", metavar="PATH", help="the workflow repository (default: .)")
    parser.add_argument("--tag", metavar="REF", help="image reference to push, with its registry host")
    parser.add_argument("--json", action="store_true", help='print {"image_ref", "image_digest", "pinned_ref"} on stdout')
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Push; exit 1 when there is nothing to push, 2 when the push fails."""
    from flowyard_builder.images.build import docker_client  # the docker SDK loads only when needed
    from flowyard_builder.images.registry import push_image  # it imports the docker SDK too

    ref = args.tag or (load_result(args.path, LAST_BUILD) or {}).get("tag")
    if not ref:
        print("flowyard push: no image given (--tag REF) and no earlier `flowyard build` in "
              f"{args.path}", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    try:
        result = push_image(ref, docker_client())
    except InvalidWorkflow as exc:
        print(f"flowyard push: {exc}", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    except ImageError as exc:
        print(f"flowyard push: push of {ref} failed: {exc}", file=sys.stderr)
        return exit_codes.BUILD_FAILED
    save_result(args.path, LAST_PUSH, result.as_dict())
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, sort_keys=True))
    else:
        print(result.image_digest)
    return exit_codes.OK
