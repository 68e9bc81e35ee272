"""Portal pages."""

from django.urls import path

from controlplane.portal import views

app_name = "portal"
urlpatterns = [path("", views.home, name="home")]
