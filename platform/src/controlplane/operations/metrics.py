"""Prometheus metrics (being built for issue 15)."""

urlpatterns: list = []
