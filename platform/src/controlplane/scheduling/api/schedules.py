"""Scheduling API: each deployment's effective schedule, its next fire times, and pause/resume."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from typing_extensions import override

from controlplane.api.views import ListRetrieveMixin, ScopedViewSet
from controlplane.deployments.filtersets import DeploymentFilterSet
from controlplane.deployments.models import Deployment
from controlplane.scheduling import selectors, services
from controlplane.scheduling.models import ScheduleState
from controlplane.scheduling.ticks import effective_schedule
from flowyard_spec.states import Role

NEXT_COUNT = 5

class ScheduleSerializer(serializers.Serializer):
    """A deployment's schedule as the scheduler applies it, and what it did lately."""

    deployment = serializers.UUIDField(source="pk", read_only=True)
    project = serializers.UUIDField(source="environment.project_id", read_only=True)
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)
    environment_name = serializers.CharField(source="environment.name", read_only=True)
    is_paused = serializers.BooleanField(read_only=True)
    expression = serializers.SerializerMethodField()
    timezone = serializers.SerializerMethodField()
    active = serializers.SerializerMethodField(help_text="True when the scheduler creates runs for it.")
    why_inactive = serializers.SerializerMethodField(help_text="Why no run is scheduled, when not active.")
    catch_up = serializers.SerializerMethodField(help_text="Policy for ticks missed while the scheduler was down.")
    catch_up_max = serializers.SerializerMethodField()
    start_deadline_seconds = serializers.SerializerMethodField()
    next_fire_times = serializers.SerializerMethodField(help_text=f"The next {NEXT_COUNT} ticks (empty when not active).")
    last_fired_for = serializers.SerializerMethodField()
    skipped_total = serializers.SerializerMethodField(help_text="Ticks skipped after downtime, all time.")
    last_skip = serializers.SerializerMethodField(help_text="The last catch-up decision that skipped ticks.")

    def _schedule(self, deployment: Deployment) -> Any:
        cache = self.context.setdefault("_schedules", {})
        if deployment.pk not in cache:
            cache[deployment.pk] = effective_schedule(deployment)
        return cache[deployment.pk]

    @staticmethod
    def _state(deployment: Deployment) -> ScheduleState | None:
        try:
            return deployment.schedule_state
        except ScheduleState.DoesNotExist:
            return None

    @override
    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_expression(self, deployment: Deployment) -> str | None:
        return self._schedule(deployment).expression

    @override
    def get_timezone(self, deployment: Deployment) -> str:
        return self._schedule(deployment).timezone

    @override
    def get_active(self, deployment: Deployment) -> bool:
        return self._schedule(deployment).active

    @override
    def get_why_inactive(self, deployment: Deployment) -> str:
        return self._schedule(deployment).why_inactive

    @override
    def get_catch_up(self, deployment: Deployment) -> str:
        return self._schedule(deployment).catch_up

    @override
    def get_catch_up_max(self, deployment: Deployment) -> int:
        return self._schedule(deployment).catch_up_max

    @override
    def get_start_deadline_seconds(self, deployment: Deployment) -> int:
        return self._schedule(deployment).start_deadline

    @override
    @extend_schema_field(serializers.ListField(child=serializers.DateTimeField()))
    def get_next_fire_times(self, deployment: Deployment) -> list[str]:
        schedule = self._schedule(deployment)
        if not schedule.active:
            return []
        state = self._state(deployment)
        after = max(filter(None, [timezone.now(), state.cursor if state else None]))
        return [moment.isoformat().replace("+00:00", "Z") for moment in schedule.next_fire_times(after, NEXT_COUNT)]

    @override
    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_last_fired_for(self, deployment: Deployment) -> str | None:
        state = self._state(deployment)
        return state.last_fired_for.isoformat().replace("+00:00", "Z") if state and state.last_fired_for else None

    @override
    def get_skipped_total(self, deployment: Deployment) -> int:
        state = self._state(deployment)
        return state.skipped_total if state else 0

    @override
    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_last_skip(self, deployment: Deployment) -> dict | None:
        state = self._state(deployment)
        return state.last_skip if state else None


class ScheduleActionSerializer(serializers.Serializer):
    """Input to pause or resume a schedule (nothing is needed)."""


class ScheduleViewSet(ListRetrieveMixin, ScopedViewSet):
    """Schedules, one per deployment (the id is the deployment's): read by viewers, paused and resumed by
    developers, and by admins in protected environments."""

    selector = staticmethod(selectors.schedule_list)
    output_serializer = ScheduleSerializer
    input_serializers = {"pause": ScheduleActionSerializer, "resume": ScheduleActionSerializer}
    action_roles = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "pause": Role.DEVELOPER, "resume": Role.DEVELOPER}
    project_path = "environment.project"
    filterset_class = DeploymentFilterSet
    admin_in_protected_environments = frozenset({"pause", "resume"})


    @extend_schema(request=None, responses=ScheduleSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        """Pause the schedule: no scheduled run is created until it is resumed."""
        return self.respond(services.schedule_pause(actor=request.user, deployment=self.get_object()))

    @extend_schema(request=None, responses=ScheduleSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Resume the schedule from now on; ticks that fell while it was paused are not replayed."""
        return self.respond(services.schedule_resume(actor=request.user, deployment=self.get_object()))


ROUTES: list = [("schedules", ScheduleViewSet, "schedule")]
URLS: list = []
