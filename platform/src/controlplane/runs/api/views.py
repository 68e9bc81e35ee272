"""Run API: list and trigger runs, cancel them, read their tasks and logs."""

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from controlplane.api.views import CreateMixin, ListRetrieveMixin, ScopedViewSet
from controlplane.runs import filtersets, follow, selectors, services
from controlplane.runs.api import serializers as s
from flowyard_spec.states import Role, TriggerKind

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

    def create_object(self, data):  # noqa: D102 - a token call is an API trigger, a browser session a manual one
        trigger = TriggerKind.API if self.request.auth is not None else TriggerKind.MANUAL
        return services.run_trigger(actor=self.request.user, trigger=trigger, **data)

    @extend_schema(request=None, responses=s.RunSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel the run: at once if not launched yet, else CANCELLING until the runtime stops it."""
        return self.respond(services.run_cancel(actor=request.user, run=self.get_object()))

    @extend_schema(responses=s.TaskRunSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def tasks(self, request, pk=None):
        """The run's task runs, in the order they started."""
        tasks = selectors.task_run_list(run=self.get_object())
        return Response(s.TaskRunSerializer(tasks, many=True).data)

    @extend_schema(parameters=[s.LogQuerySerializer], responses=s.LogPageSerializer)
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def logs(self, request, pk=None):
        """A page of the run's log lines after the `after` cursor, in order.

        To follow a running run, pass `next_after` back as `after` with `wait` (a long poll): when no line is
        there yet, the answer comes as soon as one is stored or the run ends, or after `wait` seconds with no
        line. Stop when `done` is true: the run has ended and every line has been returned.
        """
        run = self.get_object()
        query = s.LogQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(s.LogPageSerializer(follow.log_page(run=run, **query.validated_data)).data)
