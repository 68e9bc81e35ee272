"""Workflow API routes."""

from rest_framework.routers import SimpleRouter

from controlplane.workflows.api import views

router = SimpleRouter()
router.register("workflows", views.WorkflowViewSet, basename="workflow")
router.register("versions", views.VersionViewSet, basename="version")
router.register("registrations", views.RegistrationViewSet, basename="registration")
urlpatterns = router.urls
