"""Query filters of the alerts API."""

import django_filters

from controlplane.alerts.models import Channel, Delivery, DeliveryState, Rule


class ChannelFilterSet(django_filters.FilterSet):
    """Filter channels by project or kind."""

    project = django_filters.UUIDFilter(field_name="project_id")

    class Meta:
        model = Channel
        fields = ["project", "kind"]


class RuleFilterSet(django_filters.FilterSet):
    """Filter rules by project."""

    project = django_filters.UUIDFilter(field_name="project_id")

    class Meta:
        model = Rule
        fields = ["project"]


class DeliveryFilterSet(django_filters.FilterSet):
    """Filter deliveries by project, channel, rule, run or state."""

    project = django_filters.UUIDFilter(field_name="channel__project_id")
    channel = django_filters.UUIDFilter(field_name="channel_id")
    rule = django_filters.UUIDFilter(field_name="alert__rule_id")
    run = django_filters.UUIDFilter(field_name="alert__run_id")
    state = django_filters.MultipleChoiceFilter(choices=DeliveryState.choices)

    class Meta:
        model = Delivery
        fields = ["project", "channel", "rule", "run", "state"]
