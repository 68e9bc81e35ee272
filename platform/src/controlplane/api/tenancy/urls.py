"""Tenancy API routes."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from controlplane.api.tenancy import views

router = SimpleRouter()
router.register("teams", views.TeamViewSet, basename="team")
router.register("team-members", views.TeamMembershipViewSet, basename="team-member")
router.register("projects", views.ProjectViewSet, basename="project")
router.register("project-members", views.ProjectMembershipViewSet, basename="project-member")
router.register("group-mappings", views.GroupMappingViewSet, basename="group-mapping")
router.register("tokens", views.PersonalTokenViewSet, basename="personal-token")
router.register("ci-tokens", views.ProjectTokenViewSet, basename="ci-token")

urlpatterns = [path("me/", views.MeView.as_view(), name="me"), *router.urls]
