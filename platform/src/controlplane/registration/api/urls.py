"""Registration API routes: `/versions/` (reads from workflows, POST here) and `/registrations/`, `/previews/`."""

from rest_framework.routers import SimpleRouter

from controlplane.registration.api import views

router = SimpleRouter()
router.register("versions", views.VersionRegistrationViewSet, basename="version")
router.register("registrations", views.RegistrationViewSet, basename="registration")
router.register("previews", views.PreviewViewSet, basename="preview")
urlpatterns = router.urls
