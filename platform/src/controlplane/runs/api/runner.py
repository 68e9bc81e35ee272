"""The endpoint the runner inside a workflow container reports to, with its run token."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.core.errors import PermissionDenied, ValidationFailed
from controlplane.runs.cache_records import (
    KEY,
    cache_record_find,
    cache_record_index,
    cache_record_put,
    cache_records_put,
    cache_result_url,
)
from controlplane.runs.errors import NoResultUrls
from controlplane.runs.reporting import runner_events_apply
from controlplane.runs.selectors import run_list
from controlplane.runs.authentication import RunTokenAuthentication
from controlplane.tenancy.principals import is_runner
from django.http import Http404
from flowyard_spec.api import MAX_CACHE_RECORDS_PER_BATCH, MAX_TASK_NAME_LENGTH, result_location

EventBatchReplySerializer = inline_serializer(
    "EventBatchReply",
    {"run_state": serializers.CharField(), "cancel_requested": serializers.BooleanField(),
     "last_log_seq": serializers.IntegerField()},
)


def require_own_run_token(request, pk, what: str) -> None:
    """Let only the run's own token through: another run's token, or anyone who cannot see the run, gets 404; a
    person who can see it gets 403 (a project role never acts as a runner)."""
    user = request.user
    if is_runner(user):
        if user.run_id != pk:
            raise Http404
    elif run_list(user=user).filter(pk=pk).exists():
        raise PermissionDenied(f"Only the run's own token (FLOWYARD_RUN_TOKEN) may {what}.")
    else:
        raise Http404


class RunnerView(APIView):
    """Base of the runner's endpoints (`runner/runs/<pk>/…`): run-token authentication, and only the run's own token
    gets past `initial` (`require_own_run_token`), before any handler runs."""

    authentication_classes = [RunTokenAuthentication]
    permission_classes = [IsAuthenticated]
    refusal = "use the run's task cache"  # what only the run's own token may do, for the 403 message

    def initial(self, request, *args, **kwargs):
        """Authenticate, then refuse every token but the run's own."""
        super().initial(request, *args, **kwargs)
        require_own_run_token(request, kwargs["pk"], self.refusal)


class RunnerEventsView(RunnerView):
    """POST a batch of run, task, log and heartbeat events (see flowyard_spec.api); only the run's own token may."""

    refusal = "report on a run"

    @extend_schema(
        request=inline_serializer("EventBatch", {"events": serializers.ListField(child=serializers.DictField())}),
        responses={200: EventBatchReplySerializer, 403: OpenApiResponse(description="Not this run's token.")},
    )
    def post(self, request, pk):
        """Apply the batch in one transaction; replaying it is harmless."""
        return Response(runner_events_apply(run_id=pk, payload=request.data))


class CacheRecordSerializer(serializers.Serializer):
    """A task cache record as the runner writes and reads it."""

    key = serializers.RegexField(KEY, help_text="The SDK's cache key: 64 lowercase hex characters.")
    location = serializers.CharField(max_length=255, help_text="The result's path inside the result store.")
    task_name = serializers.CharField(max_length=MAX_TASK_NAME_LENGTH, required=False, allow_blank=True, default="")
    size_bytes = serializers.IntegerField(min_value=0, required=False, default=0)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class RunnerCacheView(RunnerView):
    """The task cache index of the run's environment: GET `?key=` before running a cached task (with `url`, a signed
    GET URL of the result, when the run's target keeps results in an object store), POST a record after storing its
    result. Another environment's or project's records are never visible (a miss); another run's URL is
    404."""

    @extend_schema(parameters=[OpenApiParameter("key", str, required=True, description="The SDK's cache key.")],
                   responses={200: CacheRecordSerializer,
                              204: OpenApiResponse(description="No usable record of the key: a miss.")})
    def get(self, request, pk):
        """The unexpired record of `key` in the run's environment; 204 when there is none (a miss is routine: it
        is not an error, and is not logged as one)."""
        record = cache_record_find(run_id=pk, key=request.query_params.get("key", ""))
        if record is None:
            return Response(status=204)
        answer = dict(CacheRecordSerializer(record).data)
        url = cache_result_url(run_id=pk, location=record.location)
        if url is not None:  # the result is in an object store: where to read it, for a few minutes
            answer["url"] = url
        return Response(answer)

    @extend_schema(request=CacheRecordSerializer, responses={200: CacheRecordSerializer})
    def post(self, request, pk):
        """Record the result the runner stored (replacing an older record of the same key)."""
        given = CacheRecordSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        cache_record_put(run_id=pk, **given.validated_data)
        return Response(CacheRecordSerializer(given.validated_data).data)


class CacheRecordBatchSerializer(serializers.Serializer):
    """Records of results the runner stored, sent together."""

    records = CacheRecordSerializer(many=True, allow_empty=False, max_length=MAX_CACHE_RECORDS_PER_BATCH)


class RunnerCacheBatchView(RunnerView):
    """POST many cache records at once (the runner batches the results it stored, at most one second apart): one
    transaction and one upsert for the batch."""

    @extend_schema(request=CacheRecordBatchSerializer,
                   responses={200: inline_serializer("CacheRecordBatchReply", {"recorded": serializers.IntegerField()})})
    def post(self, request, pk):
        """Record every result of the batch (replacing older records of the same keys)."""
        given = CacheRecordBatchSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        return Response({"recorded": cache_records_put(run_id=pk, records=given.validated_data["records"])})


class CacheIndexEntrySerializer(serializers.Serializer):
    """One record in a task's cache index: its key, where the result is, and until when."""

    key = serializers.CharField()
    location = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class RunnerCacheIndexView(RunnerView):
    """The index of one task's cache records in the run's environment, read once per task and run: the runner then
    answers every call of the task from it, instead of one request per key. `complete` is false when the task has
    more records than one answer holds; the runner then asks per key for what the index lacks."""

    @extend_schema(
        parameters=[OpenApiParameter("task", str, required=True, description="The task's name, as recorded.")],
        responses={200: inline_serializer("CacheIndex", {"records": CacheIndexEntrySerializer(many=True),
                                                         "complete": serializers.BooleanField()})},
    )
    def get(self, request, pk):
        """The unexpired records of `task` in the run's environment (newest first) and whether they are all."""
        task_name = request.query_params.get("task", "")
        if not task_name or len(task_name) > MAX_TASK_NAME_LENGTH:
            raise ValidationFailed({"task": [f"give the task's name (1 to {MAX_TASK_NAME_LENGTH} characters), "
                                             "e.g. ?task=flow.load."]})
        records, complete = cache_record_index(run_id=pk, task_name=task_name)
        return Response({"records": CacheIndexEntrySerializer(records, many=True).data, "complete": complete})


class CacheUploadRequestSerializer(serializers.Serializer):
    """Which result the runner is about to store."""

    key = serializers.RegexField(KEY, help_text="The SDK's cache key: 64 lowercase hex characters.")


class RunnerCacheUploadView(RunnerView):
    """Where a runner whose target keeps results in an object store (S3 on ECS) uploads one result: the location to
    record afterwards and a PUT URL signed for it, valid a few minutes and scoped to the run's environment. 409
    `no_result_urls` on targets whose runs write results into a directory."""

    @extend_schema(
        request=CacheUploadRequestSerializer,
        responses={200: inline_serializer("CacheUpload", {"location": serializers.CharField(),
                                                          "url": serializers.URLField()}),
                   409: OpenApiResponse(description="The run's target keeps results in a directory.")},
    )
    def post(self, request, pk):
        """A signed PUT URL for the result of `key`, and the location to record once it is uploaded."""
        given = CacheUploadRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        location = result_location(given.validated_data["key"])
        url = cache_result_url(run_id=pk, location=location, upload=True)
        if url is None:
            raise NoResultUrls("This run's runtime target keeps cached results in a directory "
                               "(FLOWYARD_RESULT_DIR); write the result there and record it with POST cache/.")
        return Response({"location": location, "url": url})
