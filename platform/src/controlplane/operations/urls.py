"""Operations endpoints outside the API: /healthz, /readyz and /metrics (each area's module declares its routes)."""

from controlplane.operations import health, metrics

urlpatterns = [*health.urlpatterns, *metrics.urlpatterns]
