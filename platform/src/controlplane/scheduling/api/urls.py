"""Scheduling API routes: each feature module lists its viewsets in ROUTES and its plain views in URLS."""

from rest_framework.routers import SimpleRouter

from controlplane.scheduling.api import backfills, grants, schedules, webhooks

FEATURES = (schedules, backfills, webhooks, grants)

router = SimpleRouter()
for feature in FEATURES:
    for prefix, viewset, basename in feature.ROUTES:
        router.register(prefix, viewset, basename=basename)

urlpatterns = [*(url for feature in FEATURES for url in feature.URLS), *router.urls]
