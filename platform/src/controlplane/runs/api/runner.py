"""The endpoint the runner inside a workflow container reports to, with its run token."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.core.errors import PermissionDenied
from controlplane.runs.cache_records import cache_record_find, cache_record_put
from controlplane.runs.models import Run
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


class CacheRecordSerializer(serializers.Serializer):
    """A task cache record as the runner writes and reads it."""

    key = serializers.RegexField(r"^[0-9a-f]{64}$", help_text="The SDK's cache key: 64 lowercase hex characters.")
    location = serializers.CharField(max_length=255, help_text="The result's path inside the result store.")
    task_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    size_bytes = serializers.IntegerField(min_value=0, required=False, default=0)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


def _own_run(request, pk):
    """The run the runner's token belongs to (404 for any other run; 403 for a person who can see the run)."""
    user = request.user
    if is_runner(user) and user.run_id == pk:
        return Run.objects.get(pk=pk)
    if not is_runner(user) and run_list(user=user).filter(pk=pk).exists():
        raise PermissionDenied("Only the run's own token (FLOWYARD_RUN_TOKEN) may use the run's task cache.")
    raise Http404


class RunnerCacheView(APIView):
    """The task cache index of the run's environment: GET `?key=` before running a cached task, POST a record after
    storing its result. Another environment's or project's records are never visible (a miss); another run's URL is
    404."""

    authentication_classes = [RunTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("key", str, required=True, description="The SDK's cache key.")],
                   responses={200: CacheRecordSerializer,
                              204: OpenApiResponse(description="No usable record of the key: a miss.")})
    def get(self, request, pk):
        """The unexpired record of `key` in the run's environment; 204 when there is none (a miss is routine: it
        is not an error, and is not logged as one)."""
        run = _own_run(request, pk)
        record = cache_record_find(run=run, key=request.query_params.get("key", ""))
        if record is None:
            return Response(status=204)
        return Response(CacheRecordSerializer(record).data)

    @extend_schema(request=CacheRecordSerializer, responses={200: CacheRecordSerializer})
    def post(self, request, pk):
        """Record the result the runner stored (replacing an older record of the same key)."""
        run = _own_run(request, pk)
        given = CacheRecordSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        return Response(CacheRecordSerializer(cache_record_put(run=run, **given.validated_data)).data)
