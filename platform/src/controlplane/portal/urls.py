"""Portal pages: each area's module declares its own `urlpatterns`."""

from django.urls import path

from controlplane.portal.views import admin, audit, catalog, home, promotions, runs, trigger

app_name = "portal"
urlpatterns = [
    path("", home.home, name="home"),
    *runs.urlpatterns,
    *catalog.urlpatterns,
    *trigger.urlpatterns,
    *promotions.urlpatterns,
    *audit.urlpatterns,
    *admin.urlpatterns,
]
