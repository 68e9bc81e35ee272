"""The pipeline `flowyard ci` runs in, read from the CI's own variables: GitLab CI or GitHub Actions.

`detect(environ)` returns a `PipelineContext`, raises `NoCiDetected` outside CI and `MissingCiVariable` (naming
the variable) when the CI is recognised but a variable it always sets is absent. Nothing here talks to a
network or a forge: GitHub's event payload is read from the file `GITHUB_EVENT_PATH` names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from flowyard_spec.pipelines import PipelineEvent

SHORT_SHA_LENGTH = 8


class Forge(StrEnum):
    """Where the pipeline runs."""

    GITLAB = "gitlab"
    GITHUB = "github"


Event = PipelineEvent  # what started the pipeline: the contract the control plane's release rules read


class CiError(Exception):
    """The pipeline cannot be understood; the message says what to set or where to run."""


class NoCiDetected(CiError):
    """Neither GitLab CI nor GitHub Actions variables are present."""


class MissingCiVariable(CiError):
    """A variable the detected CI always sets is missing or empty."""


@dataclass(frozen=True)
class PipelineContext:
    """One pipeline: the commit it builds, why it runs, and who and what to credit."""

    forge: Forge
    event: Event
    commit_sha: str
    branch: str
    default_branch: str
    author: str
    pipeline_url: str
    repository: str  # group/name on the forge
    registry_image: str  # where images of this repository go, without a tag
    merge_request: int | None = None
    merge_request_url: str = ""
    from_fork: bool = False  # a merge request from another repository: it must not get the project's secrets
    closed: bool = False  # the merge request was closed or merged (GitHub's pull_request `closed`): tear down
    trigger: str = ""  # the CI's own word for what started it (CI_PIPELINE_SOURCE, GITHUB_EVENT_NAME)

    @property
    def short_sha(self) -> str:
        """The commit's first 8 characters, as image tags carry it."""
        return self.commit_sha[:SHORT_SHA_LENGTH]

    @property
    def image_tag(self) -> str:
        """The image reference this pipeline builds: the registry image, tagged with the short sha."""
        return f"{self.registry_image}:{self.short_sha}"


def _required(environ: Mapping[str, str], name: str, forge: Forge) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise MissingCiVariable(f"{name} is not set, but {forge.value} CI always sets it: is this running inside a "
                                f"{forge.value} pipeline job? (Set it by hand to run `flowyard ci` elsewhere.)")
    return value


def _registry_image(environ: Mapping[str, str], default: str, forge: Forge, needed: bool) -> str:
    image = environ.get("FLOWYARD_REGISTRY_IMAGE", "").strip() or default
    if not image and needed:
        raise MissingCiVariable(f"FLOWYARD_REGISTRY_IMAGE is not set and {forge.value} gives no registry image: set "
                                "it to the image repository to push to, e.g. registry.example.com/team/workflow")
    return image.lower()


def detect(environ: Mapping[str, str], *, needs_image: bool = True) -> PipelineContext:
    """The pipeline described by `environ` (os.environ in a CI job). `needs_image=False` (a teardown, which builds
    nothing) accepts a pipeline without a registry image."""
    if environ.get("GITLAB_CI", "").lower() == "true":
        return _gitlab(environ, needs_image)
    if environ.get("GITHUB_ACTIONS", "").lower() == "true":
        return _github(environ, needs_image)
    raise NoCiDetected(
        "no CI detected: neither GITLAB_CI nor GITHUB_ACTIONS is true here. `flowyard ci` runs inside a GitLab "
        "or GitHub pipeline job; on your machine use `flowyard build`, `push` and `register`."
    )


def _gitlab(environ: Mapping[str, str], needs_image: bool) -> PipelineContext:
    forge = Forge.GITLAB
    sha = _required(environ, "CI_COMMIT_SHA", forge)
    source = environ.get("CI_PIPELINE_SOURCE", "")
    default_branch = environ.get("CI_DEFAULT_BRANCH", "") or "main"
    iid = environ.get("CI_MERGE_REQUEST_IID", "").strip()
    common = {
        "forge": forge, "commit_sha": sha, "default_branch": default_branch, "trigger": source,
        "author": environ.get("GITLAB_USER_LOGIN", ""), "pipeline_url": environ.get("CI_PIPELINE_URL", ""),
        "repository": environ.get("CI_PROJECT_PATH", ""),
        "registry_image": _registry_image(environ, environ.get("CI_REGISTRY_IMAGE", ""), forge, needs_image),
    }
    if iid:
        if not iid.isdigit():
            raise CiError(f"CI_MERGE_REQUEST_IID is {iid!r}, not a number")
        source_project = environ.get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "")
        project = environ.get("CI_MERGE_REQUEST_PROJECT_ID", "") or environ.get("CI_PROJECT_ID", "")
        url = environ.get("CI_MERGE_REQUEST_PROJECT_URL", "")
        return PipelineContext(
            **common, event=Event.MERGE_REQUEST, merge_request=int(iid),
            branch=_required(environ, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", forge),
            merge_request_url=f"{url}/-/merge_requests/{iid}" if url else "",
            from_fork=bool(source_project and project and source_project != project),
        )
    if environ.get("CI_COMMIT_TAG"):
        return PipelineContext(**common, event=Event.OTHER, branch=environ["CI_COMMIT_TAG"])
    branch = _required(environ, "CI_COMMIT_REF_NAME", forge)
    if source not in ("", "push", "web", "api", "pipeline", "trigger"):
        return PipelineContext(**common, event=Event.OTHER, branch=branch)  # schedule, chat, …: nothing ships
    event = Event.DEFAULT_BRANCH if branch == default_branch else Event.BRANCH_PUSH
    return PipelineContext(**common, event=event, branch=branch)


def _github_event(environ: Mapping[str, str]) -> dict[str, Any]:
    path = _required(environ, "GITHUB_EVENT_PATH", Forge.GITHUB)
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CiError(f"GITHUB_EVENT_PATH {path}: cannot read the event payload ({exc})") from None
    if not isinstance(payload, dict):
        raise CiError(f"GITHUB_EVENT_PATH {path}: the event payload is not a JSON object")
    return payload


def _github(environ: Mapping[str, str], needs_image: bool) -> PipelineContext:
    forge = Forge.GITHUB
    name = _required(environ, "GITHUB_EVENT_NAME", forge)
    repository = _required(environ, "GITHUB_REPOSITORY", forge)
    event = _github_event(environ)
    server = environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    run_id = environ.get("GITHUB_RUN_ID", "")
    default_branch = (event.get("repository") or {}).get("default_branch") or "main"
    common = {
        "forge": forge, "repository": repository, "default_branch": default_branch, "trigger": name,
        "author": environ.get("GITHUB_ACTOR", ""),
        "pipeline_url": f"{server}/{repository}/actions/runs/{run_id}" if run_id else "",
        "registry_image": _registry_image(environ, f"ghcr.io/{repository}", forge, needs_image),
    }
    if name in ("pull_request", "pull_request_target"):
        pull = event.get("pull_request") or {}
        head = pull.get("head") or {}
        number = event.get("number") or pull.get("number")
        if not isinstance(number, int) or not head.get("sha") or not head.get("ref"):
            raise CiError("the pull_request event payload has no number, head.sha or head.ref")
        head_repo = (head.get("repo") or {}).get("full_name", "")
        return PipelineContext(
            **{**common, "author": (pull.get("user") or {}).get("login") or common["author"]},
            event=Event.MERGE_REQUEST, commit_sha=head["sha"], branch=head["ref"], merge_request=number,
            merge_request_url=pull.get("html_url", ""), from_fork=bool(head_repo and head_repo.lower() != repository.lower()),
            closed=event.get("action") == "closed",
        )
    sha = _required(environ, "GITHUB_SHA", forge)
    ref_type = environ.get("GITHUB_REF_TYPE", "branch")
    branch = _required(environ, "GITHUB_REF_NAME", forge)
    if name != "push" or ref_type != "branch":
        return PipelineContext(**common, event=Event.OTHER, commit_sha=sha, branch=branch)
    kind = Event.DEFAULT_BRANCH if branch == default_branch else Event.BRANCH_PUSH
    return PipelineContext(**common, event=kind, commit_sha=sha, branch=branch)
