"""Registration API routes: `/versions/` (reads from workflows, POST here) and `/registrations/`."""

from rest_framework.routers import SimpleRouter

from controlplane.registration.api import views

router = SimpleRouter()
router.register("versions", views.VersionRegistrationViewSet, basename="version")
router.register("registrations", views.RegistrationViewSet, basename="registration")
urlpatterns = router.urls
