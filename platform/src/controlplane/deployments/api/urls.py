"""Deployment API routes."""

from rest_framework.routers import SimpleRouter

from controlplane.deployments.api import secrets, views

router = SimpleRouter()
router.register("environments", views.EnvironmentViewSet, basename="environment")
router.register("deployments", views.DeploymentViewSet, basename="deployment")
router.register("promotions", views.PromotionViewSet, basename="promotion")
router.register("secrets", secrets.SecretViewSet, basename="secret")
router.register("release-rules", views.ReleaseRulesViewSet, basename="release-rules")
urlpatterns = router.urls
