"""CLI login API routes."""

from django.urls import path

from controlplane.sso.api import views

urlpatterns = [
    path("auth/device/", views.DeviceAuthorizationView.as_view(), name="auth-device"),
    path("auth/device/token/", views.DeviceTokenView.as_view(), name="auth-device-token"),
]
