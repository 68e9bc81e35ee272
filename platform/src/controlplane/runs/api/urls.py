"""Run API routes."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from controlplane.runs.api import views
from controlplane.runs.api.runner import (
    RunnerCacheBatchView,
    RunnerCacheIndexView,
    RunnerCacheUploadView,
    RunnerCacheView,
    RunnerEventsView,
)

router = SimpleRouter()
router.register("runs", views.RunViewSet, basename="run")
urlpatterns = [
    path("runner/runs/<uuid:pk>/events/", RunnerEventsView.as_view(), name="runner-events"),
    path("runner/runs/<uuid:pk>/cache/", RunnerCacheView.as_view(), name="runner-cache"),
    path("runner/runs/<uuid:pk>/cache/index/", RunnerCacheIndexView.as_view(), name="runner-cache-index"),
    path("runner/runs/<uuid:pk>/cache/batch/", RunnerCacheBatchView.as_view(), name="runner-cache-batch"),
    path("runner/runs/<uuid:pk>/cache/uploads/", RunnerCacheUploadView.as_view(), name="runner-cache-upload"),
    *router.urls,
]
