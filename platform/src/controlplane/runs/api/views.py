"""Run API: list and trigger runs, cancel them, read their tasks and logs."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from controlplane.core.api.views import CreateMixin, ListRetrieveMixin, ScopedViewSet
from controlplane.runs import filtersets, selectors, services
from controlplane.runs.api import serializers as s
from flowyard_spec.states import Role

V, D = Role.VIEWER, Role.DEVELOPER


class RunViewSet(ListRetrieveMixin, CreateMixin, ScopedViewSet):
    """Runs, newest first: developers trigger and cancel them, everyone on the project reads them."""

    selector = staticmethod(selectors.run_list)
    output_serializer = s.RunSerializer
    input_serializers = {"create": s.RunTriggerSerializer, "cancel": s.RunCancelSerializer}
    action_roles = {"list": V, "retrieve": V, "create": D, "cancel": D, "tasks": V, "logs": V}
    project_path = "deployment.environment.project"
    cursor_ordering = ("-created_at", "-id")
    filterset_class = filtersets.RunFilterSet

    def create_object(self, data):  # noqa: D102
        return services.run_trigger(actor=self.request.user, **data)

    @extend_schema(request=None, responses=s.RunSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel the run: at once if not launched yet, else CANCELLING until the runtime stops it."""
        return self.respond(services.run_cancel(actor=request.user, run=self.get_object()))

    @extend_schema(responses=s.TaskRunSerializer(many=True))
    @action(detail=True, methods=["get"])
    def tasks(self, request, pk=None):
        """The run's task runs, in the order they started."""
        tasks = selectors.task_run_list(run=self.get_object())
        return Response(s.TaskRunSerializer(tasks, many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="Return lines with a sequence number above this."),
            OpenApiParameter("limit", int, description="At most this many lines (default 500)."),
        ],
        responses=s.LogPageSerializer,
    )
    @action(detail=True, methods=["get"])
    def logs(self, request, pk=None):
        """A page of the run's log lines after the `after` cursor, in order."""
        run = self.get_object()
        query = s.LogQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        lines = selectors.log_line_list(run=run, **query.validated_data)
        next_after = lines[-1].seq if lines else query.validated_data["after"]
        page = {"lines": lines, "next_after": next_after, "run_state": run.state}
        return Response(s.LogPageSerializer(page).data)
