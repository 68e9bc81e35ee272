"""Liveness and readiness (being built for issue 15)."""

urlpatterns: list = []
