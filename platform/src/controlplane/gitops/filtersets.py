"""Query filters of the gitops API."""

import django_filters

from controlplane.gitops.models import ForgeDelivery, MergeRequestPromotion, RepositoryLink


class RepositoryLinkFilterSet(django_filters.FilterSet):
    """Filter links by project or forge."""

    project = django_filters.UUIDFilter(field_name="project_id")

    class Meta:
        model = RepositoryLink
        fields = ["project", "forge"]


class ForgeDeliveryFilterSet(django_filters.FilterSet):
    """Filter deliveries by link or outcome."""

    link = django_filters.UUIDFilter(field_name="link_id")

    class Meta:
        model = ForgeDelivery
        fields = ["link", "outcome", "event"]


class MergeRequestPromotionFilterSet(django_filters.FilterSet):
    """Filter merge-request promotions by project, workflow, condition or merge request number."""

    project = django_filters.UUIDFilter(field_name="workflow__project_id")
    workflow = django_filters.UUIDFilter(field_name="workflow_id")
    merge_request_iid = django_filters.NumberFilter(field_name="merge_request__iid")

    class Meta:
        model = MergeRequestPromotion
        fields = ["project", "workflow", "condition", "merge_request_iid"]
