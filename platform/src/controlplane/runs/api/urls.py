"""Run API routes."""

from rest_framework.routers import SimpleRouter

from controlplane.runs.api import views

router = SimpleRouter()
router.register("runs", views.RunViewSet, basename="run")
urlpatterns = router.urls
