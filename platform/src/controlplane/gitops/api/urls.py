"""GitOps API routes: `/gitops/repositories/`, `/gitops/deliveries/`, `/gitops/identities/`,
`/gitops/merge-request-promotions/` and the receivers `/gitops/gitlab/<link>/events`, `/gitops/github/<link>/events`."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from controlplane.gitops.api import views

router = SimpleRouter()
router.register("gitops/repositories", views.RepositoryLinkViewSet, basename="repository")
router.register("gitops/deliveries", views.ForgeDeliveryViewSet, basename="forge-delivery")
router.register("gitops/identities", views.ForgeIdentityViewSet, basename="forge-identity")
router.register("gitops/merge-request-promotions", views.MergeRequestPromotionViewSet,
                basename="merge-request-promotion")
urlpatterns = [
    *router.urls,
    path("gitops/gitlab/<uuid:pk>/events", views.GitlabEventsView.as_view(), name="gitops-gitlab-events"),
    path("gitops/github/<uuid:pk>/events", views.GithubEventsView.as_view(), name="gitops-github-events"),
]
