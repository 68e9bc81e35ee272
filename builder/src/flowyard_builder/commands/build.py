"""`flowyard build [PATH]`: build the workflow image FROM the runtime image (docker SDK, no network inside)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from typing import TYPE_CHECKING

from flowyard_builder import exit_codes
from flowyard_builder.images.errors import BuildError, ImageError, InvalidWorkflow
from flowyard_builder.images.results import LAST_BUILD, save_result

if TYPE_CHECKING:
    from flowyard_builder.images.build import BuildResult


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `build` command."""
    parser = subparsers.add_parser(
        "build",
        help="build the workflow's container image",
        description="Build the workflow at PATH into an image FROM the Flowyard runtime image. Dependencies "
        "(requirements.txt or pyproject.toml) are downloaded as wheels on this machine and installed with "
        "--no-index, so the build itself uses no network. The log streams to stderr.",
    )
    parser.add_argument("path", nargs="?", default=".", metavar="PATH", help="the workflow repository (default: .)")
    parser.add_argument("--tag", metavar="REF", help="image reference (default: [$FLOWYARD_REGISTRY/]flowyard/<name>:<commit>)")
    parser.add_argument("--base", metavar="IMAGE", default=None,
                        help="runtime image to build FROM (default: $FLOWYARD_RUNTIME_IMAGE or flowyard/runtime:dev)")
    parser.add_argument("--python-version", metavar="X.Y", default=os.environ.get("FLOWYARD_PYTHON_VERSION", "3.11"),
                        help="the base image's Python, which the wheels are for (default: $FLOWYARD_PYTHON_VERSION or 3.11)")
    parser.add_argument("--refresh-deps", action="store_true", help="resolve the dependencies again, ignoring the wheel cache")
    parser.add_argument("--json", action="store_true", help='print {"image_id", "tag", "labels"} on stdout')
    parser.set_defaults(handler=run)


def report_build(result: "BuildResult", as_json: bool) -> None:
    """Print the outcome of a build: JSON on stdout, or one human line."""
    if as_json:
        print(json.dumps(result.summary(), indent=2, sort_keys=True))
    else:
        print(f"built {result.tag} ({result.image_id[:19]}; {result.cached_steps}/{result.steps} steps from cache)")


def run(args: argparse.Namespace) -> int:
    """Build the image; exit 1 on unusable input, 2 when the build fails."""
    from flowyard_builder.images.build import build_image  # the docker SDK loads only when needed

    try:
        result = build_image(args.path, tag=args.tag, base=args.base, refresh_dependencies=args.refresh_deps,
                             python_version=args.python_version)
    except InvalidWorkflow as exc:
        print(f"flowyard build: {exc}", file=sys.stderr)
        return exit_codes.INVALID_INPUT
    except BuildError as exc:
        where = f"\nfailing step: {exc.step}" if exc.step else ""
        print(f"flowyard build: build failed{where}\n{exc}", file=sys.stderr)
        return exit_codes.BUILD_FAILED
    except ImageError as exc:
        print(f"flowyard build: {exc}", file=sys.stderr)
        return exit_codes.BUILD_FAILED
    save_result(args.path, LAST_BUILD, result.as_dict())
    report_build(result, args.json)
    return exit_codes.OK
