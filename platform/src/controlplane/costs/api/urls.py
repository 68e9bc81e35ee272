"""API routes of the costs app: each feature module lists its viewsets in ROUTES and its plain views in URLS."""

from rest_framework.routers import SimpleRouter

from controlplane.costs.api import budgets, costs, prices

FEATURES = (costs, prices, budgets)

router = SimpleRouter()
for feature in FEATURES:
    for prefix, viewset, basename in feature.ROUTES:
        router.register(prefix, viewset, basename=basename)

urlpatterns = [*(url for feature in FEATURES for url in feature.URLS), *router.urls]
