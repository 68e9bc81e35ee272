"""The endpoint the runner inside a workflow container reports to, with its run token."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.core.errors import PermissionDenied
from controlplane.runs.reporting import runner_events_apply
from controlplane.runs.selectors import run_list
from controlplane.runs.authentication import RunTokenAuthentication
from controlplane.tenancy.principals import is_runner
from django.http import Http404

EventBatchReplySerializer = inline_serializer(
    "EventBatchReply",
    {"run_state": serializers.CharField(), "cancel_requested": serializers.BooleanField(),
     "last_log_seq": serializers.IntegerField()},
)


class RunnerEventsView(APIView):
    """POST a batch of run, task, log and heartbeat events (see flowyard_spec.api); only the run's own token may."""

    authentication_classes = [RunTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=inline_serializer("EventBatch", {"events": serializers.ListField(child=serializers.DictField())}),
        responses={200: EventBatchReplySerializer, 403: OpenApiResponse(description="Not this run's token.")},
    )
    def post(self, request, pk):
        """Apply the batch in one transaction; replaying it is harmless."""
        user = request.user
        if is_runner(user):
            if user.run_id != pk:
                raise Http404
        elif run_list(user=user).filter(pk=pk).exists():
            raise PermissionDenied("Only the run's own token (FLOWYARD_RUN_TOKEN) may report on a run.")
        else:
            raise Http404
        return Response(runner_events_apply(run_id=pk, payload=request.data))
