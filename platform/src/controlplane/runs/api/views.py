"""Run API: list and trigger runs, cancel them, read their tasks and logs."""

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response
from typing_extensions import override

from controlplane.api.views import CreateMixin, ListRetrieveMixin, ScopedViewSet
from controlplane.runs import filtersets, follow, selectors, services
from controlplane.runs.api import serializers
from controlplane.runs.api.access import DEVELOPER_OR_CI_SMOKE, VIEWER_OR_CI_OWN_RUN
from flowyard_spec.states import Role, TriggerKind


class RunViewSet(ListRetrieveMixin, CreateMixin, ScopedViewSet):
    """Runs, newest first: developers trigger and cancel them, everyone on the project reads them.

    A CI token of the project may start a smoke run outside protected environments and follow that run.
    """

    selector = staticmethod(selectors.run_list)
    output_serializer = serializers.RunSerializer
    input_serializers = {"create": serializers.RunTriggerSerializer, "cancel": serializers.RunCancelSerializer}
    action_roles = {
        "list": Role.VIEWER, "retrieve": VIEWER_OR_CI_OWN_RUN, "create": DEVELOPER_OR_CI_SMOKE,
        "cancel": Role.DEVELOPER, "tasks": Role.VIEWER, "logs": VIEWER_OR_CI_OWN_RUN,
    }
    ci_actions = frozenset({"create", "retrieve", "logs"})
    project_path = "deployment.environment.project"
    cursor_ordering = ("-created_at", "-id")
    filterset_class = filtersets.RunFilterSet

    @override  # a token call is an API trigger, a browser session a manual one
    def create_object(self, data):
        trigger = TriggerKind.API if self.request.auth is not None else TriggerKind.MANUAL
        return services.run_trigger(actor=self.request.user, trigger=trigger, **data)

    @extend_schema(request=None, responses=serializers.RunSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel the run: at once if not launched yet, else CANCELLING until the runtime stops it."""
        return self.respond(services.run_cancel(actor=request.user, run=self.get_object()))

    @extend_schema(responses=serializers.TaskRunSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def tasks(self, request, pk=None):
        """The run's task runs, in the order they started."""
        tasks = selectors.task_run_list(run=self.get_object())
        return Response(serializers.TaskRunSerializer(tasks, many=True).data)

    @extend_schema(parameters=[serializers.LogQuerySerializer], responses=serializers.LogPageSerializer)
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def logs(self, request, pk=None):
        """A page of the run's log lines after the `after` cursor, in order.

        To follow a running run, pass `next_after` back as `after` with `wait` (a long poll): when no line is
        there yet, the answer comes as soon as one is stored or the run ends, or after `wait` seconds with no
        line. Stop when `done` is true: the run has ended and every line has been returned.
        """
        run = self.get_object()
        query = serializers.LogQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(serializers.LogPageSerializer(follow.log_page(run=run, **query.validated_data)).data)
