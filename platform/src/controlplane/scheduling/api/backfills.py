"""Scheduling API: backfills (list, show with progress, create, cancel as a whole)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from typing_extensions import override

from controlplane.api.fields import VisibleRelatedField
from controlplane.api.views import CreateMixin, ListRetrieveMixin, ScopedViewSet
from controlplane.deployments.selectors import deployment_list
from controlplane.scheduling import backfills as services
from controlplane.scheduling.filtersets import BackfillFilterSet
from controlplane.scheduling.models import Backfill, Reprocess
from flowyard_spec.states import Role

DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class MomentField(serializers.DateTimeField):
    """An ISO 8601 date-time; a date alone means midnight UTC, and a time without an offset is UTC."""

    @override
    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str) and DATE_ONLY.match(value.strip()):
            try:
                return datetime.combine(datetime.fromisoformat(value.strip()).date(), time(), tzinfo=UTC)
            except ValueError:
                self.fail("invalid", format="YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][+HH:MM]")
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                self.fail("invalid", format="YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][+HH:MM]")
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return super().to_internal_value(value)


class BackfillProgressSerializer(serializers.Serializer):
    """How far a backfill is."""

    total_ticks = serializers.IntegerField(help_text="Ticks of the schedule in [start, end].")
    handled_ticks = serializers.IntegerField(help_text="Ticks given a run or skipped so far.")
    remaining_ticks = serializers.IntegerField(help_text="Ticks not handled yet.")
    skipped_ticks = serializers.IntegerField(help_text="Ticks left alone because of `reprocess`.")
    runs_by_state = serializers.DictField(child=serializers.IntegerField(), help_text="The backfill's runs "
                                          "(retries included) counted by state.")
    live_runs = serializers.IntegerField(help_text="Runs not ended yet (at most max_active).")
    succeeded_ticks = serializers.IntegerField(help_text="Ticks with a run that SUCCEEDED.")
    failed_ticks = serializers.IntegerField(help_text="Ticks whose runs all ended and none succeeded.")


class BackfillSerializer(serializers.ModelSerializer):
    """A backfill with its progress."""

    project = serializers.UUIDField(source="deployment.environment.project_id", read_only=True)
    workflow = serializers.UUIDField(source="deployment.workflow_id", read_only=True)
    workflow_name = serializers.CharField(source="deployment.workflow.name", read_only=True)
    environment = serializers.UUIDField(source="deployment.environment_id", read_only=True)
    environment_name = serializers.CharField(source="deployment.environment.name", read_only=True)
    progress = serializers.SerializerMethodField()
    blocked_reason = serializers.SerializerMethodField(
        help_text="Why a RUNNING backfill cannot start its next run (empty when nothing blocks it).")
    next_tick = serializers.SerializerMethodField(help_text="The next tick to handle; null once every tick is.")

    class Meta:
        model = Backfill
        fields = [
            "id", "project", "workflow", "workflow_name", "environment", "environment_name", "deployment", "state",
            "start", "end", "max_active", "reprocess", "parameters", "progress", "blocked_reason", "next_tick",
            "created_by_label", "created_at", "ended_at",
        ]

    @override
    @extend_schema_field(BackfillProgressSerializer)
    def get_progress(self, backfill: Backfill) -> dict[str, Any]:
        return services.backfill_progress(backfill)

    @override
    def get_blocked_reason(self, backfill: Backfill) -> str:
        return services.backfill_blocked_reason(backfill)

    @override
    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_tick(self, backfill: Backfill) -> str | None:
        return backfill.ticks[backfill.next_index] if backfill.next_index < len(backfill.ticks) else None


class BackfillCreateSerializer(serializers.Serializer):
    """Input to backfill a deployment's schedule over a past range."""

    deployment = VisibleRelatedField(selector=deployment_list)
    start = MomentField(help_text="First instant of the range, inclusive (ISO 8601; a date alone is midnight UTC).")
    end = MomentField(help_text="Last instant of the range, inclusive; not in the future.")
    max_active = serializers.IntegerField(min_value=1, max_value=services.MAX_ACTIVE_LIMIT, default=1,
                                          help_text="Most runs of this backfill live at once.")
    reprocess = serializers.ChoiceField(choices=Reprocess.choices, default=Reprocess.NONE,
                                        help_text="Which ticks that already have a run are run again.")
    parameters = serializers.DictField(required=False, default=dict,
                                       help_text="Overrides of declared parameters, for every run.")


class BackfillCancelSerializer(serializers.Serializer):
    """Input to cancel a backfill (nothing is needed)."""


class BackfillViewSet(ListRetrieveMixin, CreateMixin, ScopedViewSet):
    """Backfills, newest first: developers start and cancel them (admins in protected environments); viewers read."""

    selector = staticmethod(services.backfill_list)
    output_serializer = BackfillSerializer
    input_serializers = {"create": BackfillCreateSerializer, "cancel": BackfillCancelSerializer}
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.DEVELOPER, "cancel": Role.DEVELOPER}
    project_path = "deployment.environment.project"
    cursor_ordering = ("-created_at", "-id")
    filterset_class = BackfillFilterSet
    admin_in_protected_environments = frozenset({"create"})
    environment_path = "deployment.environment"


    @override
    def create_object(self, data):
        return services.backfill_create(actor=self.request.user, **data)

    @extend_schema(request=None, responses=BackfillSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel the backfill as a whole: no new run starts, and its live runs are cancelled."""
        return self.respond(services.backfill_cancel(actor=request.user, backfill=self.get_object()))


ROUTES: list = [("backfills", BackfillViewSet, "backfill")]  # (prefix, viewset, basename)
URLS: list = []  # plain django.urls.path() entries
