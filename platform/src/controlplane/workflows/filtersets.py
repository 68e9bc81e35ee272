"""Query filters for workflows and versions."""

import django_filters

from controlplane.workflows.models import Workflow, WorkflowVersion


class WorkflowFilterSet(django_filters.FilterSet):
    """Filter workflows by project or name."""

    project = django_filters.UUIDFilter(field_name="project_id")

    class Meta:
        model = Workflow
        fields = ["project", "name"]


class VersionFilterSet(django_filters.FilterSet):
    """Filter versions by project, workflow, digest, branch or commit."""

    project = django_filters.UUIDFilter(field_name="workflow__project_id")
    workflow = django_filters.UUIDFilter(field_name="workflow_id")

    class Meta:
        model = WorkflowVersion
        fields = ["project", "workflow", "image_digest", "git_branch", "git_commit_sha"]
