"""What CI pipelines tell the control plane: the kind of pipeline and the preview environments' names."""

from enum import StrEnum

PREVIEW_PREFIX = "mr-"


class PipelineEvent(StrEnum):
    """What started a CI pipeline, as far as Flowyard cares (the same for GitLab and GitHub)."""

    BRANCH_PUSH = "branch_push"  # a push to a branch other than the default one
    MERGE_REQUEST = "merge_request"  # a merge-request (GitLab) or pull-request (GitHub) pipeline
    DEFAULT_BRANCH = "default_branch"  # a push to the default branch, e.g. after a merge
    OTHER = "other"  # tags, schedules, manual runs on a detached ref: validate only


def preview_environment_name(merge_request: int) -> str:
    """The name of a merge request's preview environment: `mr-<number>`."""
    return f"{PREVIEW_PREFIX}{merge_request}"
