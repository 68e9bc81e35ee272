"""Top-level URLs: the REST API v1, its schema and docs, the admin, the sign-in pages and the portal."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

api_v1 = [
    path("", include("controlplane.api.urls")),
    path("", include("controlplane.workflows.api.urls")),
    path("", include("controlplane.deployments.api.urls")),
    path("", include("controlplane.runs.api.urls")),
    path("", include("controlplane.scheduling.api.urls")),
    path("", include("controlplane.registration.api.urls")),
    path("", include("controlplane.costs.api.urls")),
    path("", include("controlplane.alerts.api.urls")),
    path("", include("controlplane.gitops.api.urls")),
    path("", include("controlplane.sso.api.urls")),
]

urlpatterns = [
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
    path("auth/", include("controlplane.sso.urls")),
    path("", include("controlplane.operations.urls")),
    path("", include("controlplane.portal.urls")),
]
