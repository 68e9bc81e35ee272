"""Workflow API routes. `/versions/` is routed by the registration app, which adds POST (registering) to
workflows' VersionViewSet (reading)."""

from rest_framework.routers import SimpleRouter

from controlplane.workflows.api import views

router = SimpleRouter()
router.register("workflows", views.WorkflowViewSet, basename="workflow")
urlpatterns = router.urls
