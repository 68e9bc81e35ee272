"""Routes of the API base layer: the API root, the tenancy endpoints and the audit log."""

from django.urls import include, path

from controlplane.api.root import ApiRootView

urlpatterns = [
    path("", ApiRootView.as_view(), name="root"),
    path("", include("controlplane.api.tenancy.urls")),
    path("", include("controlplane.api.audit")),
]
