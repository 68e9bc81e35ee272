"""API routes of the alerts app."""

from rest_framework.routers import SimpleRouter

from controlplane.alerts.api.views import ROUTES

router = SimpleRouter()
for prefix, viewset, basename in ROUTES:
    router.register(prefix, viewset, basename=basename)

urlpatterns = router.urls
